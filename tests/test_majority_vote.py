"""Majority voting over k samples of a task (maj@k)."""

from __future__ import annotations

from agentgym.eval import format_summary, majority_vote, normalize_answer, summarize
from agentgym.trajectory import Trajectory


def traj(task: str, k: int, answer: str | None, success: bool) -> Trajectory:
    return Trajectory(f"{task}#{k}", "e", task, "ag", sample_index=k, terminated=True, answer=answer, success=success)


def test_answers_are_compared_as_numbers_or_normalized_text() -> None:
    assert normalize_answer("1,080.0") == normalize_answer("1080") == normalize_answer(" $1080 ") == "1080"
    assert normalize_answer("0.5") == normalize_answer("1/2") == "1/2"
    assert normalize_answer("  Paris  France ") == normalize_answer("paris france") == "paris france"
    assert normalize_answer(None) is None and normalize_answer("   ") is None


def test_the_most_common_answer_wins_and_ties_go_to_the_first() -> None:
    # a right answer given once loses to a wrong one given twice
    assert not majority_vote([traj("t", 0, "72", True), traj("t", 1, "70", False), traj("t", 2, "70.0", False)])
    assert majority_vote([traj("t", 0, "70", False), traj("t", 1, "72", True), traj("t", 2, "72", True)])
    # a tie: the answer given first (by sample index, whatever the list order)
    assert majority_vote([traj("t", 1, "70", False), traj("t", 0, "72", True)])
    # episodes without an answer do not vote; no answer at all fails
    assert majority_vote([traj("t", 0, None, False), traj("t", 1, None, False), traj("t", 2, "72", True)])
    assert not majority_vote([traj("t", 0, None, False)])


def test_summary_reports_maj_at_k_over_the_first_k_samples() -> None:
    trajs = [traj("a", 0, "1", True), traj("a", 1, "2", False), traj("a", 2, "2", False),
             traj("b", 0, "5", False), traj("b", 1, "6", True), traj("b", 2, "6", True)]
    s = summarize(trajs, k=3)
    # maj@2: a votes "1" (tie, first), right; b votes "5" (tie, first), wrong. maj@3: a "2" wrong, b "6" right
    assert s.majority_at_k == {"2": 0.5, "3": 0.5}
    assert s.pass_at_k["1"] == 0.5
    assert "maj@3" in format_summary(s)
    assert summarize(trajs, k=1).majority_at_k == {}


def test_cli_vote_samples_k_per_task_and_reports_maj_at_k(tmp_path, capsys) -> None:
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent / "distributed"))
    from _ray_helpers import solver_server  # a local OpenAI-compatible server with a deterministic solver

    from agentgym.cli import main

    with solver_server() as url:
        args = ["eval", "Arithmetic-v0", "--agent", "openai:solver", "--base-url", url, "--api-key", "x",
                "--episodes", "4", "--no-progress"]
        assert main([*args, "--vote", "3", "--out", str(tmp_path)]) == 0
        assert "maj@3" in capsys.readouterr().out
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["episodes"] == 12 and summary["tasks"] == 4
        # the solver answers the same every time: the vote is as right as any one sample
        assert summary["majority_at_k"]["3"] == summary["success_rate"]
        assert 0 < summary["success_rate"] < 1
        assert main([*args, "--vote", "1"]) == 2
        assert "--vote >= 2" in capsys.readouterr().err
