"""Sandbox escape suite: each attack is blocked or contained, the host and other sessions are unaffected,
and the session answers the next call. Runs on both backends."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from _sandbox_backends import BACKENDS, make_session
from agentgym.tools.python import ExecutionResult

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "agentgym" / "env.py"
HOST_PID = os.getpid()
SECRET = "agentgym-escape-test-secret-value"


def _blocked(r: ExecutionResult) -> bool:
    return r.error is not None or r.crashed or r.timed_out


def _fd_loop(action: str) -> str:
    return f"import os\nfor fd in range(3, 64):\n    try:\n        {action}\n    except OSError:\n        pass"


# (id, code, timeout, check(result) -> bool)
CASES = [
    ("net-connect", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)", 5, _blocked),
    ("net-dns", "import socket\nsocket.getaddrinfo('example.com', 80)", 5, _blocked),
    ("net-http", "import urllib.request\nurllib.request.urlopen('http://93.184.215.14/', timeout=2)", 5, _blocked),
    ("net-interfaces", "import socket\n[n for _, n in socket.if_nameindex()]", 5,
     lambda r: r.value is not None and set(eval(r.value)) <= {"lo"}),
    ("read-project-source", f"open({str(SOURCE)!r}).read()", 5, lambda r: r.error is not None),
    ("list-project-dir", f"import os\nos.listdir({str(ROOT)!r})", 5, lambda r: r.error is not None),
    ("read-shadow", "open('/etc/shadow').read()", 5, lambda r: r.error is not None and "root:" not in r.to_text()),
    ("read-root-home", "import os\nos.listdir('/root')", 5,
     lambda r: r.error is not None or r.value == "[]"),
    ("proc-host-process", f"open('/proc/{HOST_PID}/environ', 'rb').read()", 5, lambda r: r.error is not None),
    ("proc-host-cmdline", f"open('/proc/{HOST_PID}/cmdline', 'rb').read()", 5,
     lambda r: r.error is not None or b"pytest" not in eval(r.value)),
    ("proc-visible-pids", "import os\nlen([p for p in os.listdir('/proc') if p.isdigit()])", 5,
     lambda r: r.value is not None and int(r.value) < 10),
    ("proc-environ-secret", "import glob\nd = b''\nfor p in glob.glob('/proc/*/environ'):\n    try:\n"
     "        d += open(p, 'rb').read()\n    except OSError:\n        pass\n" + f"{SECRET!r}.encode() in d", 5,
     lambda r: r.value == "False"),
    ("host-env-vars", f"import os\n[k for k, v in os.environ.items() if {SECRET!r} in v or 'KEY' in k or 'TOKEN' in k]",
     5, lambda r: r.value == "[]"),
    ("write-usr", "open('/usr/agentgym-evil', 'w').write('x')", 5, lambda r: r.error is not None),
    ("write-etc-passwd", "open('/etc/passwd', 'a').write('evil::0:0::/:/bin/sh\\n')", 5, lambda r: r.error is not None),
    ("write-project", f"open({str(ROOT / 'agentgym' / 'evil.py')!r}, 'w').write('x')", 5, lambda r: r.error is not None),
    ("write-root", "open('/agentgym-evil', 'w').write('x')", 5, lambda r: r.error is not None),
    ("setuid-root", "import os\nos.setuid(0)", 5, lambda r: r.error is not None),
    ("chroot", "import os\nos.chroot('/tmp')", 5, lambda r: r.error is not None),
    ("mount", "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno()", 5,
     lambda r: r.value is not None and eval(r.value)[0] == -1),
    ("fork-bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", 3,
     lambda r: r.timed_out),
    ("process-flood", "import subprocess\nps = []\nfor _ in range(500):\n    ps.append(subprocess.Popen(['sleep', '60']))",
     10, lambda r: r.error is not None and ("BlockingIOError" in r.error or "Resource" in r.error or r.timed_out)),
    ("thread-flood", "import threading, time\nfor _ in range(2000):\n"
     "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()", 10,
     lambda r: r.error is not None and "thread" in r.error.lower()),
    ("memory-bomb", "x = bytearray(8 * 1024**3)", 10, lambda r: _blocked(r)),
    ("memory-growth", "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024**2))", 20, lambda r: _blocked(r)),
    ("infinite-loop", "while True:\n    pass", 1, lambda r: r.timed_out),
    ("uninterruptible-loop", "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n"
     "        pass", 1, lambda r: r.timed_out and r.restarted),
    ("long-sleep", "import time\ntime.sleep(3600)", 1, lambda r: r.timed_out),
    ("huge-output", "print('x' * 50_000_000)", 10, lambda r: r.stdout_truncated and len(r.stdout) < 5000),
    ("output-flood-loop", "i = 0\nwhile True:\n    print(i)\n    i += 1", 2,
     lambda r: len(r.stdout) < 5000 and (r.timed_out or r.error is not None)),
    ("raw-fd-output", "import os\nos.write(1, b'y' * 10_000_000)", 10, lambda r: r.stdout_truncated),
    ("big-file", "open('big.bin', 'wb').write(b'0' * 200 * 1024**2)", 10, lambda r: r.error is not None),
    ("kill-parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", 5, lambda r: True),
    ("kill-all", "import os, signal\nos.kill(-1, signal.SIGKILL)", 5, lambda r: True),
    ("kill-host-pid", f"import os, signal\nos.kill({HOST_PID}, signal.SIGTERM)", 5, lambda r: r.error is not None),
    ("kill-self", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 5, lambda r: True),
    ("segfault", "import ctypes\nctypes.string_at(0)", 5, lambda r: r.crashed or r.error is not None),
    ("close-protocol-fds", _fd_loop("os.close(fd)"), 5, lambda r: True),
    ("garble-protocol", _fd_loop("os.write(fd, b'\\xff' * 64)"), 5, lambda r: True),
    ("exit", "import os\nos._exit(0)", 5, lambda r: r.crashed and r.restarted),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def sessions(backend):
    os.environ["AGENTGYM_ESCAPE_SECRET"] = SECRET
    os.environ.setdefault("OPENAI_API_KEY", "sk-" + SECRET)
    try:
        attacked, bystander = make_session(backend), make_session(backend)
    finally:
        os.environ.pop("AGENTGYM_ESCAPE_SECRET", None)
    bystander.execute("witness = 'intact'\nopen('mine.txt', 'w').write('b')")
    yield attacked, bystander
    attacked.close()
    bystander.close()


@pytest.fixture(scope="module")
def host_snapshot():
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    passwd = Path("/etc/passwd").read_bytes()
    yield digest, passwd
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() == digest
    assert Path("/etc/passwd").read_bytes() == passwd
    assert not (ROOT / "agentgym" / "evil.py").exists() and not Path("/usr/agentgym-evil").exists()


def test_escape_suite_has_enough_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize(("code", "timeout", "check"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attack_is_contained(sessions, host_snapshot, code, timeout, check):
    attacked, bystander = sessions
    result = attacked.execute(code, timeout=timeout)
    assert check(result), result
    follow = attacked.execute("1 + 1")
    assert follow.value == "2", f"the session did not answer after the attack: {follow}"
    # the other session and the host are unaffected
    assert bystander.execute("witness").value == "'intact'"
    assert bystander.execute("open('mine.txt').read()").value == "'b'"
    assert subprocess.run(["true"], timeout=10).returncode == 0
    assert os.getpid() == HOST_PID


def test_sessions_do_not_share_files(sessions):
    attacked, bystander = sessions
    attacked.execute("open('private.txt', 'w').write('a')")
    assert bystander.execute("import os\nos.path.exists('private.txt')").value == "False"
