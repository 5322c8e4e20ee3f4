import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_register_env_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "register_env.py")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "success: 4 / 4" in out.stdout
