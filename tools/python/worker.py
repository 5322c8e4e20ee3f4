"""The interpreter process that runs inside a sandbox (standard library only, Python 3.8+).

It is started as `python3 -I -c <this source> <config json>` by a backend and speaks length-prefixed JSON
frames on its original stdin/stdout, which it moves to private descriptors at startup; user code then sees
/dev/null as stdin and per-call capture files as stdout/stderr, so neither `print` nor a subprocess can
corrupt the protocol. One namespace persists across calls, like a notebook kernel.

Requests: {"op": "exec", "code", "timeout", "max_output"} and {"op": "ping"}.
Every request gets exactly one response frame.
"""

import ast
import builtins
import io
import json
import linecache
import os
import resource
import signal
import site
import struct
import sys
import time
import traceback
import types

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
LIMITS = {
    "memory_bytes": resource.RLIMIT_AS,
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_size_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


class ExecutionTimeout(BaseException):
    """Raised inside user code when its time is up (a BaseException so `except Exception` cannot eat it)."""


def _on_alarm(signum, frame):
    raise ExecutionTimeout()


def _apply_limits(limits):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, which in LIMITS.items():
        value = limits.get(key)
        if value is None:
            continue
        _soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # the CPU limit leaves one second between SIGXCPU (soft) and SIGKILL (hard)
        new_hard = value + 1 if which == resource.RLIMIT_CPU else value
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))


def _clear_dir(path):
    for name in os.listdir(path):
        full = os.path.join(path, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                _clear_dir(full)
                os.rmdir(full)
            else:
                os.unlink(full)
        except OSError:
            pass


def _read_capture(fd, limit):
    size = os.fstat(fd).st_size
    data = os.pread(fd, min(size, limit * 4 + 4), 0) if size else b""
    text = data.decode("utf-8", errors="replace")
    truncated = size > len(data) or len(text) > limit
    if len(text) > limit:
        text = text[:limit]
    if truncated:
        text += f"\n...[output truncated: {size} bytes in all]"
    return text, truncated


class Worker:
    """Reads requests, runs code in one persistent namespace, writes results."""

    def __init__(self, config):
        self.config = config
        self.pid = os.getpid()
        self.req_fd = os.dup(0)
        self.resp_fd = os.dup(1)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        self.buffer = b""
        self.cell = 0
        self.workdir = config.get("workdir") or os.getcwd()
        os.makedirs(self.workdir, exist_ok=True)
        os.chdir(self.workdir)
        for directory in config.get("site_dirs") or ():  # e.g. the user site, which `python -I` leaves out
            site.addsitedir(directory)
        self.contained = bool(config.get("contained"))
        if self.contained:
            self._kill_strays()
        if config.get("wipe_workdir"):
            _clear_dir(self.workdir)
        _apply_limits(config.get("limits") or {})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the file-size limit raise OSError
        signal.signal(signal.SIGALRM, _on_alarm)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        main = types.ModuleType("__main__")
        main.__builtins__ = builtins
        sys.modules["__main__"] = main  # so that pickle and multiprocessing find user-defined objects
        self.namespace = main.__dict__

    # ------------------------------------------------------------------ framing

    def read_frame(self):
        while len(self.buffer) < HEADER.size:
            chunk = os.read(self.req_fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        (size,) = HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            return None
        while len(self.buffer) < HEADER.size + size:
            chunk = os.read(self.req_fd, max(65536, HEADER.size + size - len(self.buffer)))
            if not chunk:
                return None
            self.buffer += chunk
        body = self.buffer[HEADER.size:HEADER.size + size]
        self.buffer = self.buffer[HEADER.size + size:]
        return json.loads(body.decode("utf-8"))

    def write_frame(self, obj):
        body = json.dumps(obj).encode("utf-8")
        data = HEADER.pack(len(body)) + body
        view = memoryview(data)
        while view:
            n = os.write(self.resp_fd, view)
            view = view[n:]

    # ------------------------------------------------------------------ execution

    def _kill_strays(self):
        """Kill every other process this user may signal: our leftover children.

        Only inside a container or a pid namespace of our own, and never as root, where `kill(-1)` could
        reach processes that are not ours.
        """
        if not self.contained or os.geteuid() == 0:
            return
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        self._reap()

    def _reap(self):
        if self.pid != 1:
            return
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _run(self, code, name, max_value):
        tree = ast.parse(code, filename=name, mode="exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), self.namespace)
        if last is None:
            return None
        value = eval(compile(last, name, "eval"), self.namespace)
        if value is None:
            return None
        self.namespace["_"] = value
        text = repr(value)
        if len(text) > max_value:
            text = text[:max_value] + f"...[value truncated: {len(text)} characters in all]"
        return text

    def _format_error(self, exc, name_prefix):
        if isinstance(exc, SyntaxError):
            lines = traceback.format_exception_only(type(exc), exc)
            return "".join(lines)
        tb = exc.__traceback__
        while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(name_prefix):
            tb = tb.tb_next
        return "".join(traceback.format_exception(type(exc), exc, tb))

    def execute(self, code, timeout, max_output):
        self.cell += 1
        name = f"<cell-{self.cell}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        out_fd = os.memfd_create("stdout")
        err_fd = os.memfd_create("stderr")
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=True)
        signal.signal(signal.SIGALRM, _on_alarm)
        result = {"value": None, "error": None, "traceback": None, "timed_out": False}
        start = time.perf_counter()
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, max(float(timeout), 0.001))
                result["value"] = self._run(code, name, max_output)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except ExecutionTimeout:
            result["timed_out"] = True
            result["error"] = f"TimeoutError: execution exceeded {timeout:g} s"
            self._kill_strays()
        except SystemExit as e:
            result["error"] = f"SystemExit: {e.code}"
        except BaseException as e:  # the user's exception, reported to the caller
            result["error"] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            try:
                result["traceback"] = self._format_error(e, "<cell-")
            except BaseException:
                result["traceback"] = result["error"]
        finally:
            if os.getpid() != self.pid:  # a fork of user code must never reach the protocol loop
                os._exit(0)
        result["duration"] = time.perf_counter() - start
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        result["stdout"], result["stdout_truncated"] = _read_capture(out_fd, max_output)
        result["stderr"], result["stderr_truncated"] = _read_capture(err_fd, max_output)
        os.close(out_fd)
        os.close(err_fd)
        self._reap()
        return result

    def serve(self):
        self.write_frame({"op": "hello", "pid": self.pid, "python": sys.version.split()[0],
                          "uid": os.getuid(), "cwd": os.getcwd()})
        while True:
            request = self.read_frame()
            if request is None:
                return
            op = request.get("op")
            if op == "exec":
                reply = self.execute(request.get("code", ""), request.get("timeout", 30.0),
                                     int(request.get("max_output", 20000)))
            elif op == "ping":
                reply = {"op": "pong"}
            else:
                reply = {"error": f"unknown op {op!r}"}
            self.write_frame(reply)


def main():
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    Worker(config).serve()
    os._exit(0)


if __name__ == "__main__":
    main()
