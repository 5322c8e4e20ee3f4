"""`ExecutionResult`: what one `execute()` call produced, and how it reads to a model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExecutionResult:
    """The outcome of running one cell of code in a sandbox session.

    Attributes:
        stdout: captured standard output (Python `print` and subprocesses alike), cut at the output limit.
        stderr: captured standard error, cut at the output limit.
        value: `repr` of the cell's trailing expression, when it is not None (like a notebook's `Out[n]`).
        error: `"ExcType: message"` when the cell raised (or timed out, or the worker crashed).
        traceback: the formatted traceback of that exception, starting at the user's code.
        duration: seconds the code ran (as measured by the worker; by the host for timeouts and crashes).
        stdout_truncated: stdout was longer than the limit and was cut (a marker says so in the text).
        stderr_truncated: the same for stderr.
        timed_out: the cell ran past its time limit and was interrupted.
        restarted: the interpreter had to be restarted: every variable, import and file was lost.
        crashed: the interpreter process died (killed by a limit, or by the code itself).
        notes: plain-language remarks about the above, shown to the model.
    """

    stdout: str = ""
    stderr: str = ""
    value: str | None = None
    error: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    restarted: bool = False
    crashed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the cell ran to completion without an exception, timeout or crash."""
        return self.error is None and not self.timed_out and not self.crashed

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> ExecutionResult:
        """Build from the worker's JSON reply."""
        return cls(
            stdout=str(reply.get("stdout") or ""),
            stderr=str(reply.get("stderr") or ""),
            value=reply.get("value"),
            error=reply.get("error"),
            traceback=reply.get("traceback"),
            duration=float(reply.get("duration") or 0.0),
            stdout_truncated=bool(reply.get("stdout_truncated")),
            stderr_truncated=bool(reply.get("stderr_truncated")),
            timed_out=bool(reply.get("timed_out")),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        """The text a model sees: output, then the error, then the value, then notes."""
        parts: list[str] = []
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append(self.stderr.rstrip("\n"))
        if self.traceback:
            parts.append(self.traceback.rstrip("\n"))
        elif self.error:
            parts.append(self.error)
        if self.value is not None:
            parts.append(self.value)
        parts.extend(f"[{n}]" for n in self.notes)
        return "\n".join(parts) if parts else "(no output)"
