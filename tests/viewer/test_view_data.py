"""What the viewer reads and what points to it, without a browser: the run folders, the trainer's run record,
the escaping of the embedded data, and the line `agentgym eval` ends with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentgym.trainers.logging import RunFilesSink, make_logger

from agentgym.agents import FunctionAgent
from agentgym.trajectory import Trajectory, Turn
from agentgym.viewer import RunNotFoundError, build_report, load_run, render_html


def _traj(task: str, success: bool, text: str = "hi") -> Trajectory:
    return Trajectory(f"{task}#0", "agentgym/Arithmetic-v0", task, "a", success=success, terminated=True,
                      reward=float(success), turns=[Turn(assistant={"role": "assistant", "content": text},
                                                         token_ids=list(range(50)), logprobs=[-0.5] * 50)])


def test_run_files_sink_keeps_the_last_line_of_a_step_and_the_sampled_episodes(tmp_path: Path) -> None:
    logger = make_logger([], tmp_path)  # an output_dir always gets the run record
    logger.log({"step": 1, "reward": 0.5, "note": "text", "nan": float("nan"), "ok": True}, 1)
    logger.log_episodes([_traj("t1", True), _traj("t2", False)], 1)
    logger.log({"reward": 0.7}, 2)
    logger.close()
    sink = RunFilesSink(tmp_path)  # a resumed run redoes step 2
    sink.log({"reward": 0.9}, 2)
    sink.log_episodes([_traj("t3", True)], 2)
    sink.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "rew')  # killed mid-write
    run = load_run(tmp_path)
    assert run.kind == "train" and run.steps == [1, 2] and run.skipped_lines == 1
    assert run.series["reward"] == [0.5, 0.9] and run.series["ok"] == [1.0, None] and "nan" not in run.series
    assert [(t.task_id, step) for t, step in run.episodes] == [("t1", 1), ("t2", 1), ("t3", 2)]


def test_missing_folder_and_folder_without_a_run_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no such run folder"):
        load_run(tmp_path / "absent")
    with pytest.raises(RunNotFoundError, match="not a run folder"):
        load_run(tmp_path)


def test_embedded_data_cannot_close_its_script_element_and_drops_token_ids(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    evil = "</script><script>alert(1)</script><!-- x"
    (run / "trajectories.jsonl").write_text(_traj("t", True, evil).to_json() + "\n")
    page = render_html([load_run(run)])
    assert page.count("</script>") == 3  # the page's own three script elements, nothing from the data
    assert "<!-- x" not in page and "alert(1)" in page
    assert '"token_ids"' not in page and "[1,2,3,4" not in page  # ids dropped; log-probs summarized per turn
    jsonl = (run / "trajectories.jsonl").stat().st_size
    report = build_report([run])
    assert report == run / "report.html" and report.stat().st_size < jsonl + 200_000


def test_eval_ends_with_the_command_that_opens_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import agentgym.agents
    from agentgym.cli import main

    def solver(messages: list[dict]) -> str:
        return '<tool_call>{"name": "answer", "arguments": {"answer": "1"}}</tool_call>'

    monkeypatch.setattr(agentgym.agents, "make_agent", lambda spec, **kw: FunctionAgent(solver))
    out = tmp_path / "ev"
    assert main(["eval", "Arithmetic-v0", "--agent", "openai:any", "--episodes", "2", "--out", str(out),
                 "--no-progress"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"open the report: agentgym view {out} --serve"
    assert main(["view", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["episodes"] == 2
    assert (out / "report.html").stat().st_size > 10_000


def test_errored_episodes_and_tensorboard_only_runs_are_read(tmp_path: Path) -> None:
    from agentgym.trainers.logging import TensorBoardSink

    run = tmp_path / "ev"
    run.mkdir()
    (run / "trajectories.jsonl").write_text(_traj("a", True).to_json() + "\n")
    failed = _traj("b", False)
    failed.error, failed.terminated = "RuntimeError: boom", False
    rerun_ok = _traj("a", False)
    rerun_ok.error = "TimeoutError: first try"
    (run / "errors.jsonl").write_text(rerun_ok.to_json() + "\n" + failed.to_json() + "\n")
    loaded = load_run(run)
    assert [(t.task_id, t.error) for t, _ in loaded.episodes] == [("a", None), ("b", "RuntimeError: boom")]
    tb = tmp_path / "old-train"
    sink = TensorBoardSink(tb / "tensorboard")
    for step in (1, 2, 3):
        sink.log({"reward": step / 10, "eval_success": 0.5, "rollout_seconds": 1.0}, step)
    sink.close()
    old = load_run(tb)
    assert old.kind == "train" and old.steps == [1, 2, 3]
    assert old.series["reward"] == pytest.approx([0.1, 0.2, 0.3])
    assert old.series["eval_success"] == [0.5] * 3 and old.series["rollout_seconds"] == [1.0] * 3
