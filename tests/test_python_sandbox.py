"""The Python sandbox API on both backends: state, results, timeouts, truncation, crashes, async, pool."""

from __future__ import annotations

import asyncio

import pytest
from _sandbox_backends import BACKENDS, TEST_LIMITS, make_session, require_docker
from agentgym.tools.python import (
    ExecutionResult,
    LocalSandbox,
    SandboxLimits,
    SandboxPool,
    make_sandbox,
    probe_isolation,
)


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    session = make_session(request.param)
    yield session
    session.close()


def test_state_persists_across_calls(sb):
    assert sb.execute("x = 41").ok
    assert sb.execute("x + 1").value == "42"
    assert sb.execute("import math\ndef f(n):\n    return math.factorial(n)").ok
    assert sb.execute("f(5)").value == "120"
    assert sb.execute("open('notes.txt', 'w').write('hello')").value == "5"
    assert sb.execute("open('notes.txt').read()").value == "'hello'"


def test_result_fields(sb):
    r = sb.execute("import sys\nprint('out')\nprint('err', file=sys.stderr)\n[1, 2]")
    assert (r.stdout, r.stderr, r.value, r.error) == ("out\n", "err\n", "[1, 2]", None)
    assert r.duration >= 0 and not r.timed_out and not r.restarted and r.ok
    assert sb.execute("None").value is None
    assert sb.execute("y = 3").value is None


def test_exception_and_traceback(sb):
    r = sb.execute("def g():\n    return 1 / 0\ng()")
    assert r.error == "ZeroDivisionError: division by zero" and not r.ok
    assert "<cell-" in r.traceback and "return 1 / 0" in r.traceback and "worker" not in r.traceback
    r = sb.execute("def broken(:\n  pass")
    assert r.error.startswith("SyntaxError") and "SyntaxError" in r.traceback
    assert sb.execute("x").value == "41", "an exception must not lose state"


def test_subprocess_output_is_captured(sb):
    r = sb.execute("import subprocess\nsubprocess.run(['echo', 'from-child'])\nprint('after')")
    assert r.stdout == "from-child\nafter\n"


def test_timeout_interrupts_and_keeps_state(sb):
    sb.execute("kept = 'yes'")
    r = sb.execute("import time\ntime.sleep(30)", timeout=0.5)
    assert r.timed_out and not r.restarted and r.error.startswith("TimeoutError")
    assert sb.execute("kept").value == "'yes'"


def test_runaway_code_that_ignores_interrupts_is_restarted(sb):
    code = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    r = sb.execute(code, timeout=0.5)
    assert r.timed_out and r.restarted and any("restarted" in n for n in r.notes)
    assert "restarted" in r.to_text()
    assert sb.execute("1 + 1").value == "2"
    assert sb.execute("'kept' in dir()").value == "False"


def test_output_is_truncated_with_a_marker(sb):
    r = sb.execute("print('x' * 100_000)")
    assert r.stdout_truncated and len(r.stdout) < TEST_LIMITS.max_output_chars + 200
    assert "output truncated" in r.stdout
    r = sb.execute("'y' * 100_000")
    assert len(r.value) < TEST_LIMITS.max_output_chars + 200 and "truncated" in r.value


def test_worker_crash_is_reported_and_session_recovers(sb):
    r = sb.execute("import os\nos._exit(3)")
    assert r.crashed and r.restarted and "WorkerCrashed" in r.error
    assert sb.execute("2 + 2").value == "4"


def test_system_exit_is_an_error_not_a_crash(sb):
    sb.execute("z = 1")
    r = sb.execute("import sys\nsys.exit(5)")
    assert r.error == "SystemExit: 5" and not r.crashed
    assert sb.execute("z").value == "1"


def test_reset_forgets_everything(sb):
    sb.execute("secret = 1\nopen('f.txt', 'w').write('x')")
    sb.reset()
    assert sb.execute("'secret' in dir()").value == "False"
    assert sb.execute("import os\nos.path.exists('f.txt')").value == "False"


def test_numpy_and_sympy_are_available(sb):
    assert sb.execute("import numpy as np\nint(np.arange(5).sum())").value == "10"
    assert sb.execute("import sympy\nsympy.factorint(360)").value == "{2: 3, 3: 2, 5: 1}"


def test_async_use(sb):
    async def run():
        await sb.aexecute("a = 20")
        r = await sb.aexecute("a * 2")
        t = await sb.aexecute("import time\ntime.sleep(10)", timeout=0.3)
        return r, t

    r, t = asyncio.run(run())
    assert r.value == "40" and t.timed_out
    assert sb.execute("a").value == "20"


def test_to_text_for_models():
    assert ExecutionResult().to_text() == "(no output)"
    r = ExecutionResult(stdout="hi\n", value="3", notes=["n"])
    assert r.to_text() == "hi\n3\n[n]"


def test_local_isolation_is_reported():
    report = probe_isolation()
    with LocalSandbox(TEST_LIMITS) as sb:
        assert sb.isolation.startswith("local: ")
        if report.namespaces:
            assert "namespaces" in sb.isolation


def test_local_without_namespaces_still_runs_with_limits():
    with LocalSandbox(SandboxLimits(memory_mb=512, timeout=2), isolate=False) as sb:
        assert "rlimits only" in sb.isolation
        sb.execute("x = 41")
        assert sb.execute("x + 1").value == "42"
        assert sb.execute("import os\nsorted(os.environ)").value == repr(
            sorted(["HOME", "LANG", "LC_ALL", "MKL_NUM_THREADS", "MPLBACKEND", "OMP_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "TMPDIR"]))
        assert sb.execute("bytearray(2 * 1024**3)").error.startswith("MemoryError")
        assert sb.execute("while True: pass", timeout=0.3).timed_out


def test_closed_session_refuses_and_close_is_idempotent():
    sb = LocalSandbox(TEST_LIMITS)
    sb.execute("1")
    sb.close()
    sb.close()
    with pytest.raises(RuntimeError):
        sb.execute("1")


@pytest.mark.parametrize("backend", BACKENDS)
def test_pool_hands_out_warm_clean_sessions(backend):
    if backend == "docker":
        require_docker()
    with SandboxPool(lambda: make_sandbox(backend, limits=TEST_LIMITS), max_idle=2, prefill=1) as pool:
        assert pool.idle == 1
        a = pool.acquire()
        assert a.started and pool.idle == 0
        a.execute("leak = 1")
        pool.release(a)
        assert pool.idle == 1
        with pool.session() as b:
            assert b is a, "the warm session is reused"
            assert b.execute("'leak' in dir()").value == "False", "released sessions come back clean"
            c = pool.acquire()
            assert c is not b
            assert c.execute("1 + 1").value == "2"
            pool.release(c)
        assert pool.created == 2

        async def use():
            async with pool.asession() as s:
                return (await s.aexecute("6 * 7")).value

        assert asyncio.run(use()) == "42"
