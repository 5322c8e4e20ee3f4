"""The wheel maps envs/, tools/ and trainers/ into the agentgym namespace (not only the editable install)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_mapped_subpackages(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                          "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("agentgym-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ["agentgym/__init__.py", "agentgym/envs/__init__.py", "agentgym/envs/arithmetic/env.py",
                     "agentgym/tools/common.py", "agentgym/trainers/__init__.py", "agentgym/agents/openai_agent.py",
                     "agentgym/viewer/assets/viewer.js", "agentgym/viewer/assets/viewer.css",
                     "agentgym/viewer/assets/page.html"]:
        assert expected in names, expected
    assert not any(n.startswith(("envs/", "tools/", "trainers/", "tests/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "agentgym = agentgym.cli:main" in text and "[agentgym.envs]" in text
