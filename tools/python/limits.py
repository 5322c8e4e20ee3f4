"""Resource limits shared by every sandbox backend."""

from __future__ import annotations

from dataclasses import dataclass

#: the environment a sandboxed interpreter sees: nothing of the host's variables (no API keys) leaks in
SANDBOX_ENV: dict[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox session.

    Attributes:
        timeout: default seconds per `execute` call.
        grace: seconds after `timeout` before a worker that ignores the interrupt is killed and restarted.
        start_timeout: seconds a new worker may take to answer.
        memory_mb: address-space limit (local) / memory limit (docker) of the interpreter.
        cpu_seconds: CPU seconds an interpreter process may use in its lifetime (a backstop; restart renews).
        processes: processes and threads the session may run at once.
        file_size_mb: largest file the code may write (also caps captured output).
        open_files: open file descriptors.
        tmp_mb: size of the private writable working directory (/tmp).
        max_output_chars: stdout, stderr and the value repr are each cut at this length, with a marker.
        cpus: CPU share (docker).
    """

    timeout: float = 30.0
    grace: float = 2.0
    start_timeout: float = 60.0
    memory_mb: int = 2048
    cpu_seconds: int = 900
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    tmp_mb: int = 256
    max_output_chars: int = 20_000
    cpus: float = 1.0

    def worker_limits(self, processes: bool = True) -> dict[str, int]:
        """The rlimits the worker applies to itself (`processes=False` where a cgroup limits them instead)."""
        limits = {
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "cpu_seconds": self.cpu_seconds,
            "file_size_bytes": self.file_size_mb * 1024 * 1024,
            "open_files": self.open_files,
        }
        if processes:
            limits["processes"] = self.processes
        return limits
