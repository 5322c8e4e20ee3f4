"""The GPU check's parts that run anywhere: bench/gpu_check.py's tiny CPU run and summary, its model
configs against the published parameter counts, the GPU peak table, and scripts/gpu_wheels.sh's list of
what the offline GPU machine must be brought (no download here)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gpu_check", ROOT / "bench" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_tiny_cpu_run_reports_every_model_and_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    bench = _bench()
    out = tmp_path / "gpu_check.json"
    assert bench.main(["--device", "cpu", "--tiny", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["settings"]["tiny"] and not result["settings"]["bf16"]
    assert set(result["models"]) == set(bench.MODELS)
    for name, record in result["models"].items():
        assert record["params"] > 0, name
        opt, gen = record["optimization"], record["generation"]
        for key in ("seconds_per_step", "tokens_per_s", "policy_tokens_per_s", "model_tflops_per_s", "peak_memory_gb"):
            assert opt[key] > 0, (name, key, opt)
        assert opt["updates"] == 1 and opt["grad_norm"] > 0
        assert opt["mfu"] is None  # no peak for a CPU
        for key in ("seconds", "tokens_per_s", "peak_memory_gb"):
            assert gen[key] > 0, (name, key, gen)
        s = result["settings"]
        assert gen["tokens"] == s["rows"] * s["response_len"]  # ignore_eos: every row generates them all
        assert record["step_seconds"] == pytest.approx(opt["seconds_per_step"] + gen["seconds"])
    capsys.readouterr()
    # the summary the shell script prints at the end, with the other stages' outcomes recorded in the JSON
    assert bench.main(["--summary", str(out), "--stage", "pytest=ok: 1 passed"]) == 0
    table = capsys.readouterr().out
    assert "pytest: ok: 1 passed" in table and all(name in table for name in bench.MODELS)
    assert json.loads(out.read_text())["stages"] == {"pytest": "ok: 1 passed"}


def test_model_configs_match_the_published_parameter_counts() -> None:
    pytest.importorskip("torch")
    bench = _bench()
    published = {"SmolLM2-135M": 134_515_008, "Qwen2.5-0.5B": 494_032_768, "Qwen2.5-1.5B": 1_543_714_304}
    for name, (config_class, shape) in bench.MODELS.items():
        model = bench.build_model(config_class, shape, "meta")  # shapes only, no memory
        counts = bench.param_counts(model)
        assert counts["total"] == published[name], name
        assert counts["tied"] and counts["body"] + counts["head"] == counts["total"]
        # update FLOPs exceed the body's 6 N T alone and stay under the 6 N T shortcut over all tokens
        flops = bench.update_flops(model, counts, 8, 64, 64)
        assert 6 * counts["body"] * 8 * 128 < flops < 6 * counts["total"] * 8 * 128 * 1.1


def test_peak_table_matches_longest_names_first() -> None:
    bench = _bench()
    assert bench.peak_tflops("NVIDIA H200") == 989.0
    assert bench.peak_tflops("NVIDIA H200 NVL") == 835.0
    assert bench.peak_tflops("NVIDIA GH200 480GB") == 989.0
    assert bench.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bench.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bench.peak_tflops("NVIDIA L40S") == 362.0
    assert bench.peak_tflops("NVIDIA L4") == 121.0
    assert bench.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench.peak_tflops("Tesla T4") is None


def test_gpu_wheels_list_covers_the_core_dependencies_and_pytest_plugins() -> None:
    listed = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_wheels.sh"), "--list"], capture_output=True,
                            text=True, check=True, env={**os.environ, "PYTHON": sys.executable}).stdout.split()
    names = {_name(r) for r in listed}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    core = {_name(r) for r in project["project"]["dependencies"]}
    assert core <= names, core - names
    ini = project["tool"]["pytest"]["ini_options"]
    needed = {"pytest"} | ({"pytest-asyncio"} if "asyncio_mode" in ini else set()) | (
        {"pytest-timeout"} if "timeout" in ini else set())
    assert needed <= names
    assert {"pip", "setuptools", "wheel"} <= names  # a venv without ensurepip; the editable build offline
    assert not names & {"torch", "transformers", "accelerate", "peft", "safetensors"}  # on the GPU machine


def test_scripts_parse() -> None:
    for script in ("gpu_wheels.sh", "gpu_check.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)
