"""The MathPython scripted solver: GSM8K solutions as python-tool programs, solved through the real env."""

from __future__ import annotations

import pytest
from agentgym.envs.code.math_oracle import MathPythonOracle, solution_program

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.rollout import collect


def test_annotated_steps_become_assignments_with_the_sentence_as_comment() -> None:
    program = solution_program("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
                               "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72")
    assert program.code.splitlines() == [
        "# Natalia sold 48/2 = 24 clips in May.", "step_1 = 48/2",
        "# Natalia sold 48+24 = 72 clips altogether.", "step_2 = 48+24", "print(step_2)"]
    assert program.result == "72"


def test_unusable_annotations_and_a_final_line_without_one() -> None:
    # "2x3" is not Python: the annotated value stands in; a thousands separator is dropped
    program = solution_program("He buys 2x3 = <<2x3=6>>6 packs.\nThey cost 6*1,000 = <<6*1,000=6,000>>6,000.\n"
                               "So he spends six thousand dollars.\n#### 6000")
    assert "step_1 = 6" in program.code and "step_2 = 6*1000" in program.code
    assert program.code.endswith("print(step_2)") and program.result == "6000"
    # an annotation whose stated value is wrong is not trusted either
    assert "step_1 = 5" in solution_program("Add 2+2 = <<2+2=5>>5.\n#### 5").code
    # the last step is not the answer (the solution rounds at the end): print the #### answer
    program = solution_program("Each gets 10/3 = <<10/3=3.33>>3.33 cookies.\nRounded down, 3 each.\n#### 3")
    assert program.code.endswith("print(3)") and program.result == "3"
    # no annotation at all
    assert solution_program("It is 7.\n#### 7").code.splitlines()[-1] == "print(7)"


def test_every_program_runs_in_python_and_prints_its_result() -> None:
    import subprocess
    import sys

    program = solution_program("Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
                               "She earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10")
    out = subprocess.run([sys.executable, "-c", program.code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == 10.0


@pytest.mark.parametrize("protocol", ["tags", "hermes", "native"])
def test_the_oracle_solves_gsm8k_tasks_through_the_env(protocol: str) -> None:
    env = agentgym.make("MathPython-v0", protocol=protocol)
    base = env.unwrapped
    if base.data_path is None:
        pytest.fail("GSM8K train file not found (../shared/data/gsm8k/train.jsonl or $AGENTGYM_GSM8K)")
    ids = base.tasks.ids("train")[:12]
    trajs = collect(env, FunctionAgent(MathPythonOracle(base), name="oracle"), ids, concurrency=1, progress=False)
    assert [t.success for t in trajs] == [True] * len(ids)
    assert all(t.turns[0].tool_calls == ["python"] and t.turns[1].tool_calls == ["answer"] for t in trajs)
    assert all(len(t.turns) == 2 for t in trajs)
