"""The local sandbox runs whatever interpreter it is given, wherever it and its packages live: a venv under
/tmp (as CI systems make), under a home directory (pyenv, ~/.cache), under /opt (conda), with packages in
the user site; with namespaces it shows exactly those directories and nothing beside them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
from _sandbox_backends import TEST_LIMITS
from agentgym.tools.python import LocalSandbox, SandboxError, probe_isolation
from agentgym.tools.python.layout import interpreter_layout

NAMESPACES = probe_isolation().namespaces
PY_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _parents() -> list[str]:
    parents = [tempfile.gettempdir(), os.path.join(os.path.expanduser("~"), ".cache")]
    if os.access("/opt", os.W_OK):  # conda's usual home; writable when the tests run as root, as in CI
        parents.append("/opt")
    return parents


@pytest.fixture(params=_parents(), ids=lambda p: p.strip("/").replace("/", "-") or "root")
def venv_base(request):
    os.makedirs(request.param, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="agentgym-layout-", dir=request.param))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _make_venv(base: Path) -> Path:
    venv = base / "venv"
    # --copies: the interpreter binary itself lives in the venv, not only a link to the base install
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--copies", str(venv)], check=True,
                   capture_output=True)
    site_packages = venv / "lib" / PY_DIR / "site-packages"
    (site_packages / "layout_probe_pkg.py").write_text("WHERE = 'venv site-packages'\n")
    (base / "sibling-secret.txt").write_text("not for the sandbox\n")
    return venv


@pytest.mark.parametrize("isolate", [None, False], ids=["default", "no-namespaces"])
def test_venv_anywhere_runs_with_its_own_packages(venv_base, isolate):
    venv = _make_venv(venv_base)
    python = str(venv / "bin" / "python")
    layout = interpreter_layout(python)
    assert os.path.realpath(venv) in layout.read_only_dirs
    with LocalSandbox(TEST_LIMITS, python=python, isolate=isolate) as sb:
        assert sb.namespaces == (NAMESPACES and isolate is None)
        assert sb.execute("import sys\nsys.prefix").value == repr(str(venv))
        assert sb.execute("import layout_probe_pkg\nlayout_probe_pkg.WHERE").value == "'venv site-packages'"
        assert sb.execute("import json, decimal\njson.dumps(str(decimal.Decimal('1.5') * 2))").value == "'\"3.0\"'"
        assert sb.execute("open('scratch.txt', 'w').write('ok')").value == "2"
        if sb.namespaces:
            # the venv's parent exists only as a path to it: nothing beside the venv can be listed or read
            listing = sb.execute(f"import os\nos.listdir({str(venv_base)!r})")
            assert listing.error is not None and "PermissionError" in listing.error
            secret = sb.execute(f"open({str(venv_base / 'sibling-secret.txt')!r}).read()")
            assert secret.error is not None and "not for the sandbox" not in secret.to_text()
            # and the venv itself is read-only
            write = sb.execute(f"open({str(venv / 'evil.py')!r}, 'w').write('x')")
            assert write.error is not None
    assert not (venv / "evil.py").exists()


def test_user_site_packages_are_importable(tmp_path, monkeypatch):
    # a plain interpreter (not a venv) honours the user site; the sandbox's `python -I` would not by itself
    base_python = os.path.realpath(sys.executable)
    user_base = Path(tempfile.mkdtemp(prefix="agentgym-userbase-", dir=os.path.expanduser("~")))
    try:
        monkeypatch.setenv("PYTHONUSERBASE", str(user_base))
        purelib = sysconfig.get_path("purelib", scheme="posix_user", vars={"userbase": str(user_base)})
        os.makedirs(purelib)
        Path(purelib, "usersite_probe_pkg.py").write_text("WHERE = 'user site'\n")
        layout = interpreter_layout(base_python)
        assert os.path.realpath(purelib) in layout.site_dirs
        with LocalSandbox(TEST_LIMITS, python=base_python) as sb:
            assert sb.execute("import usersite_probe_pkg\nusersite_probe_pkg.WHERE").value == "'user site'"
            if NAMESPACES:
                listing = sb.execute(f"import os\nos.listdir({str(user_base.parent)!r})")
                assert listing.error is not None
    finally:
        shutil.rmtree(user_base, ignore_errors=True)


def test_an_interpreter_that_cannot_run_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(SandboxError, match="cannot run the sandbox interpreter"):
        LocalSandbox(TEST_LIMITS, python=missing).start()


def test_project_checkout_on_sys_path_is_not_exposed():
    # the project's own directory may be on sys.path (editable installs, pytest's rootdir); it is no package dir
    layout = interpreter_layout(sys.executable)
    project = str(Path(__file__).resolve().parents[1])
    assert not any(project == d or project.startswith(d + "/") for d in layout.read_only_dirs
                   if d not in ("/", "/usr"))
