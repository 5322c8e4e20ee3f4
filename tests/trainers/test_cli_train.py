"""`agentgym train CONFIG.yaml`: trains a saved tiny model, checkpoints, resumes, and reports bad input in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _tiny_rl import tiny_model, tiny_tokenizer
from agentgym.trainers import latest_checkpoint, list_checkpoints, load_run_spec

from agentgym.cli import main

HERE = Path(__file__).parent
REPO = HERE.parent.parent


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny-model")
    tok = tiny_tokenizer()
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _run_file(tmp_path: Path, tiny_dir: Path, **fields) -> Path:
    data = {"trainer": "grpo", "model": str(tiny_dir), "env": "_tiny_rl:KeyEnv", "steps": 2, "tasks_per_step": 4,
            "group_size": 4, "max_new_tokens": 4, "max_length": 64, "learning_rate": 3e-3,
            "output_dir": str(tmp_path / "run"), "checkpoint_every": 1, "report_to": ["console", "tensorboard"]}
    data.update(fields)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "agentgym.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_from_yaml_then_resume(tmp_path: Path, tiny_dir: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run_file(tmp_path, tiny_dir)
    proc = _cli("train", str(run), "--set", "env_kwargs.n_tasks=16", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "agentgym train: grpo on _tiny_rl:KeyEnv" in proc.stdout
    assert "step 1/2" in proc.stdout and "step 2/2" in proc.stdout
    out = tmp_path / "run"
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-000001", "checkpoint-000002"]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    # resume in this process, up to step 3 (the checkpoint carries the step and the data position)
    monkeypatch.syspath_prepend(str(HERE))
    assert main(["train", str(run), "--resume", "--steps", "3", "--set", "env_kwargs.n_tasks=16",
                 "--set", "report_to=[console]"]) == 0
    printed = capsys.readouterr().out
    assert "resumed from" in printed and "checkpoint-000002 at step 2" in printed
    assert "step 3/3" in printed and "step 1/3" not in printed
    assert latest_checkpoint(out).name == "checkpoint-000003"


def test_bad_input_is_one_line_without_traceback(tmp_path: Path, tiny_dir: Path) -> None:
    run = _run_file(tmp_path, tiny_dir)
    proc = _cli("train", str(run), "--set", "clip_low=3", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentgym: error:") and "clip_low" in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()  # failed before anything ran


@pytest.mark.parametrize(("args", "fields", "needle"), [
    (["--set", "trainer=sarsa"], {}, "unknown trainer 'sarsa'"),
    (["--set", "learnin_rate=1"], {}, "learnin_rate"),
    (["--set", "group_size=1"], {}, "group_size"),
    (["--set", "lam=0.9"], {}, "'lam'"),  # a PPO field under trainer: grpo
    (["--set", "steps"], {}, "KEY=VALUE"),
    ([], {"model": "/nonexistent/model"}, "not found"),
    ([], {"env": "NoSuchEnv-v0"}, "unknown environment 'NoSuchEnv-v0'"),
    ([], {"env": "Arithmetic-v0", "env_kwargs": {"difficulty": 1, "bogus": 2}}, "env_kwargs"),
    ([], {"env": "no_such_module:Env"}, "cannot import env factory"),
    ([], {"env_kwargs": [1, 2]}, "env_kwargs must be a mapping"),
    ([], {"report_to": ["console", "slack"]}, "report_to"),
], ids=["trainer", "unknown_key", "group_size", "ppo_field", "set_syntax", "model", "env", "env_kwargs", "factory",
        "env_kwargs_type", "report_to"])
def test_bad_run_files_name_the_problem(tmp_path: Path, tiny_dir: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str], fields: dict, needle: str) -> None:
    run = _run_file(tmp_path, tiny_dir, **fields)
    assert main(["train", str(run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "run").exists()


def test_missing_and_malformed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: grpo\nmodel: [unclosed\n")
    assert main(["train", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_example_run_file_is_valid() -> None:
    spec = load_run_spec(REPO / "examples" / "configs" / "grpo_arithmetic.yaml", ["steps=3"])
    assert spec.trainer == "grpo" and spec.env == "Arithmetic-v0" and spec.config.steps == 3
    assert spec.env_kwargs["difficulty"] == 1
    for name in ("dapo", "rloo", "reinforce_pp"):
        assert load_run_spec({"trainer": name, "model": "m", "env": "e"}).config.__class__.__name__.lower().startswith(
            name.replace("_", ""))
    ppo = load_run_spec({"trainer": "ppo", "model": "m", "env": "e", "config": {"lam": 0.9, "critic": "separate"}})
    assert ppo.config.lam == 0.9 and ppo.config.critic == "separate"
