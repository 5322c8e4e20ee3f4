import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_register_env_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "register_env.py")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "success: 4 / 4" in out.stdout


def test_policy_doc_example_runs(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "policy_doc.py"), "--tasks", "4", "--k", "2",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "oracle                   pass^1 1.00  pass^2 1.00" in out.stdout
    assert "tau-bench folder: 6 tasks" in out.stdout
    assert (tmp_path / "cpt.jsonl").stat().st_size > 0 and (tmp_path / "sft.jsonl").stat().st_size > 0


@pytest.mark.slow
def test_train_smollm_tools_example_runs_a_budgeted_grpo_run(tmp_path):
    """The README's training example, shrunk: real SmolLM2 weights, a time budget, before/after figures."""
    out_json = tmp_path / "run.json"
    args = ["--minutes", "0.05", "--eval-tasks", "3", "--tasks-per-step", "1", "--group-size", "2",
            "--max-new-tokens", "12", "--out", str(out_json)]
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_smollm_tools.py"), *args],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "before: success" in out.stdout and "after:  success" in out.stdout
    run = json.loads(out_json.read_text())
    assert run["before"]["n"] == run["after"]["n"] == 3
    history, budget = run["history"], 0.05 * 60
    assert history and [h["step"] for h in history] == list(range(1, len(history) + 1))
    # the time budget ended the run: it ran past the budget, and every step but the last began before it
    assert run["train_seconds"] >= budget
    assert sum(h["step_seconds"] for h in history[:-1]) < budget
    assert run["args"]["protocol"] == "tags"


def test_web_shop_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "web_shop.py"), "--tasks", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("Goal: ") and "[2] textbox 'Search'" in out.stdout
    assert "textbox 'Search' value='hiking boots'" in out.stdout  # the page after fill + click
    assert "shopper: success 3 / 3" in out.stdout
    assert "eps=0.3 tree search: success 1.00" in out.stdout


def test_thought_graph_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "thought_graph.py"), "--tasks", "4"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert '>> <tool_call> {"name": "decompose", "arguments": {"node": 0, "parts": 2}} </tool_call>' in out.stdout
    assert "0 root problem: sort 32 numbers" in out.stdout and "reward 1" in out.stdout
    assert "got  success 4 / 4, 22.0 reasoner calls per episode" in out.stdout
    assert "io   success" in out.stdout and "tot  success" in out.stdout


@pytest.mark.slow
def test_train_thought_graph_example_smoke_run(tmp_path):
    """The thought-graph training example, shrunk: real SmolLM2 weights, warm start on GoT demos, a GRPO budget."""
    out_json = tmp_path / "run.json"
    args = ["--demos", "2", "--sft-epochs", "1", "--minutes", "0.05", "--eval-tasks", "1", "--tasks-per-step", "1",
            "--group-size", "2", "--max-turns", "3", "--max-new-tokens", "24", "--out", str(out_json)]
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_thought_graph.py"), *args],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "before: success" in out.stdout and "after warm start: success" in out.stdout
    run = json.loads(out_json.read_text())
    assert run["before"]["n"] == run["after"]["n"] == 1 and run["history"]
    assert run["warm_start"]["demos"] >= 1 and run["warm_start"]["demo_tokens"] > 0


@pytest.mark.slow
def test_train_gsm8k_python_example_smoke_run(tmp_path):
    """The GSM8K python-tool example, shrunk: real SmolLM2 weights, oracle warm start, one GRPO step, saved model."""
    out_json, model_dir = tmp_path / "run.json", tmp_path / "model"
    args = ["--demos", "2", "--sft-epochs", "1", "--train-minutes", "0.05", "--eval-tasks", "2", "--tasks-per-step",
            "1", "--group-size", "2", "--max-new-tokens", "32", "--save", str(model_dir), "--out", str(out_json)]
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_gsm8k_python.py"), *args],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "before: greedy success" in out.stdout and "after: greedy success" in out.stdout
    run = json.loads(out_json.read_text())
    assert run["before"]["n"] == run["after"]["n"] == 2 and len(run["history"]) >= 1
    assert run["warm_start"]["demos"] == 2 and run["warm_start"]["demo_tokens"] > 0
    assert (model_dir / "config.json").is_file()
