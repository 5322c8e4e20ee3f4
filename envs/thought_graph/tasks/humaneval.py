"""HumanEval as a thought-graph task: write a Python function; its hidden tests count the errors.

Problems are HumanEval records (`{"task_id", "prompt", "entry_point", "test"}`) or, after an LLM's
decomposition, helper part problems (`{"kind": "helper", "signature_and_doc", "name", "parent_entry_point"}`).
Solutions are Python source: the complete code (imports, helpers and the function).

Scoring runs code, so it is async (`aerrors` / `acheck`) and uses the repo's HumanEval grader
(`agentgym.envs.code.humaneval_grader`): each top-level statement of the problem's `check(candidate)` runs on
its own in a sandbox session and the failing ones are the errors.

Sandbox sessions: there is no per-episode setup. The task owns a `SandboxPool` made lazily from the same
factory `HumanEvalEnv`'s pool uses (`make_sandbox(backend, limits=...)`), or uses the pool it is given. Every
scoring call borrows a session of its own from the pool and hands it back, so concurrent episodes never share a
session; the grader runs the candidate in a forked child, so a session is returned without a restart when the
run ended normally. `aclose()` (or `close()`) closes the task's own pool; a pool passed in is left open.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from agentgym.envs.code.humaneval import load_humaneval
from agentgym.envs.code.humaneval_grader import (
    TestPlan,
    build_program,
    defines_function,
    extract_code,
    grading_code,
    parse_grading,
    plan_tests,
)
from agentgym.envs.thought_graph.task import (
    Problem,
    Solution,
    TaskInstance,
    ThoughtTask,
    UnsupportedOperation,
)
from agentgym.tools.python import PythonSandbox, SandboxLimits, SandboxPool, make_sandbox

__all__ = ["HumanEvalThoughtTask", "mutation_sites"]

_FENCE_ANY = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |async def |from |import |class |@)", re.MULTILINE)

# a comparison flipped into its negation (the classic off-by-one / inverted-test slip)
_FLIP_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_FLIP_ARITH: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}


@functools.cache
def _records() -> dict[str, dict[str, Any]]:
    return {p["task_id"]: p for p in load_humaneval()}


@functools.lru_cache(maxsize=512)
def _plan(test: str) -> TestPlan:
    return plan_tests(test)


def _is_helper(problem: Problem) -> bool:
    return isinstance(problem, dict) and problem.get("kind") == "helper"


def _docstring_first_line(source: str, name: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            doc = ast.get_docstring(node) or ""
            return next((line.strip() for line in doc.splitlines() if line.strip()), "")
    return ""


def _find_function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    # the last top-level definition wins, as when the module runs
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            found = node
    return found


def _body_without_docstring(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def mutation_sites(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.AST, int]]:
    """The places in a function's body (docstring and signature excluded) where `corrupt` can slip:
    (kind, node, index) with kind one of "compare" (index: which operator), "int", "arith", "augarith",
    "boolop", "negate" (an `if`/`while`/conditional expression's test), "comp_if" (index: which filter of a
    comprehension) and "return"."""
    sites: list[tuple[str, ast.AST, int]] = []
    for stmt in _body_without_docstring(fn):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Compare):
                sites.extend(("compare", node, i) for i, op in enumerate(node.ops) if type(op) in _FLIP_COMPARE)
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                sites.append(("int", node, 0))
            elif isinstance(node, ast.BinOp) and type(node.op) in _FLIP_ARITH:
                sites.append(("arith", node, 0))
            elif isinstance(node, ast.AugAssign) and type(node.op) in _FLIP_ARITH:
                sites.append(("augarith", node, 0))
            elif isinstance(node, ast.BoolOp):
                sites.append(("boolop", node, 0))
            elif isinstance(node, ast.If | ast.While | ast.IfExp):
                sites.append(("negate", node, 0))
            elif isinstance(node, ast.comprehension):
                sites.extend(("comp_if", node, i) for i in range(len(node.ifs)))
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                sites.append(("return", node, 0))
    return sites


def _mutate(kind: str, node: Any, index: int, rng: np.random.Generator) -> None:
    """Apply one slip in place; every result is a valid AST."""
    if kind == "compare":
        node.ops[index] = _FLIP_COMPARE[type(node.ops[index])]()
    elif kind == "int":
        node.value += 1 if node.value == 0 or rng.random() < 0.5 else -1
    elif kind in ("arith", "augarith"):
        node.op = _FLIP_ARITH[type(node.op)]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "negate":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "comp_if":
        node.ifs[index] = ast.UnaryOp(op=ast.Not(), operand=node.ifs[index])
    elif kind == "return":
        node.value = ast.Constant(value=None)


class HumanEvalThoughtTask(ThoughtTask):
    """The 164 HumanEval problems as a thought-graph task family.

    - **errors** (`aerrors`): the number of the problem's hidden test statements that fail (a program that does
      not compile or does not define the entry point fails them all); for a helper part problem, 0 when the code
      compiles and defines the helper, else 1 (a helper has no tests of its own). The sync `errors` / `check`
      run the same through the sandbox's blocking API; prefer the async ones inside an event loop. Results are
      cached per (problem, program).
    - **check** / `acheck`: every hidden test passes (the gold is not compared: the tests decide).
    - **size**: the number of non-blank lines of the canonical solution's body (a helper counts 1): longer code
      gives an LLM more places to slip, which is what `ProgrammaticReasoner` scales its mistakes with.
      `reference_size = 6`, measured over all 164 problems with `ProgrammaticReasoner(error_rate=0.1)` graded in the
      sandbox: one try solves 58% of the time on average (57-66% for the typical problem of 5-7 lines, 38% for
      4 lines or more, about 98% for the 37 one-liners); 95% of single slips fail at least one test.
    - **exact**: the canonical program (prompt + canonical body). **corrupt**: `mistakes` random semantic slips
      made with `ast` in the entry point's body (see `mutation_sites`); with no site left, the body becomes
      `return None`.
    - **decomposition** needs an LLM: `decompose_prompt` asks for helper signatures with docstrings and
      `parse_parts` turns each into a helper part problem; `split` raises. `join` gives back the whole problem
      (its parts are helpers of the same function); `merge` concatenates the helpers' code, then the main
      function's solution(s) if any part solution defines the entry point.
    - **task sets**: `load(task_ids)` for the real problems; `generate` draws one of the 164 (size is ignored).

    Args:
        backend: the sandbox backend, "local" (default) or "docker".
        pool: a `SandboxPool` to borrow sessions from (left open by `aclose`); default: the task's own pool.
        test_timeout: seconds per hidden test statement (slips often loop forever, so this is short).
        exec_timeout: the sessions' default seconds per call (`SandboxLimits.timeout`) for the task's own pool.
        sandbox_options: extra constructor options of the backend (e.g. `image=` for docker).
        max_idle: idle sessions the task's own pool keeps warm.
        cache_size: graded (problem, program) results remembered.
    """

    name = "humaneval"
    reference_size = 6
    decomposable = True

    def __init__(self, backend: str = "local", pool: SandboxPool | None = None, test_timeout: float = 1.0,
                 exec_timeout: float = 60.0, sandbox_options: dict[str, Any] | None = None, max_idle: int = 4,
                 cache_size: int = 4096) -> None:
        if backend not in ("local", "docker"):
            raise ValueError(f"backend must be 'local' or 'docker', got {backend!r}")
        self.backend = backend
        self.test_timeout = test_timeout
        self.exec_timeout = exec_timeout
        self.max_idle = max_idle
        self._sandbox_options = dict(sandbox_options or {})
        self._given_pool = pool
        self._own_pool: SandboxPool | None = None
        self._pool_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._cache_size = cache_size

    # ------------------------------------------------------------------ sandbox

    @property
    def pool(self) -> SandboxPool:
        """The pool scoring borrows sessions from (the task's own one is made on first use)."""
        if self._given_pool is not None:
            return self._given_pool
        with self._pool_lock:
            if self._own_pool is None:
                limits = SandboxLimits(timeout=self.exec_timeout)
                backend, options = self.backend, {"limits": limits, **self._sandbox_options}
                self._own_pool = SandboxPool(lambda: make_sandbox(backend, **options), max_idle=self.max_idle)
            return self._own_pool

    def close(self) -> None:
        """Close the task's own pool (a later scoring call makes a new one)."""
        with self._pool_lock:
            pool, self._own_pool = self._own_pool, None
        if pool is not None:
            pool.close()

    async def aclose(self) -> None:
        """Async `close()`: stops the task's own sandbox sessions; a pool passed in stays open."""
        self.close()

    # ------------------------------------------------------------------ problems and solutions

    def _record(self, problem: Problem) -> dict[str, Any]:
        record = _records().get(problem.get("task_id", "")) if isinstance(problem, dict) else None
        if record is None:
            raise KeyError(f"not a HumanEval problem: {str(problem)[:120]}")
        return record

    def tests(self, problem: Problem) -> int:
        """The number of hidden test statements (1 for a helper part problem)."""
        return 1 if _is_helper(problem) else _plan(problem["test"]).total

    def statement(self, problem: Problem) -> str:
        if _is_helper(problem):
            return (f"Write the Python helper function `{problem['name']}` (a part of `"
                    f"{problem['parent_entry_point']}`) that does what its docstring says.\n\n"
                    f"```python\n{problem['signature_and_doc'].rstrip()}\n```")
        return (f"Complete the Python function `{problem['entry_point']}` ({problem['task_id']}) so that it does "
                f"what its docstring says; hidden tests check it.\n\n```python\n{problem['prompt'].rstrip()}\n```")

    def summary(self, problem: Problem) -> str:
        if _is_helper(problem):
            doc = _docstring_first_line(problem["signature_and_doc"], problem["name"])
            text = f"helper {problem['name']} of {problem['parent_entry_point']}: {doc}"
        else:
            doc = _docstring_first_line(problem["prompt"], problem["entry_point"])
            text = f"{problem['task_id']} {problem['entry_point']}: {doc}"
        return text if len(text) <= 100 else text[:97] + "..."

    def size(self, problem: Problem) -> int:
        if _is_helper(problem):
            return 1
        body = self._record(problem)["canonical_solution"]
        return max(1, sum(1 for line in body.splitlines() if line.strip()))

    def format_solution(self, solution: Solution) -> str:
        return f"```python\n{str(solution).rstrip()}\n```"

    def parse_solution(self, text: str) -> Solution | None:
        """The code of a reply: the last fenced block (kept even if it does not compile: a wrong solution), or
        unfenced code that defines a function (from its first `def`/`import` line on); None for prose."""
        if not text:
            return None
        if _FENCE_ANY.search(text):  # fenced: a wrong solution is still a solution
            code = extract_code(text)
            if "```" in code:  # fenced, but not as python (e.g. ```python3): the last fenced block
                code = _FENCE_ANY.findall(text)[-1]
            return code.strip("\n") + "\n" if code.strip() else None
        candidates = [text]
        start = _CODE_START.search(text)
        if start:
            candidates.append(text[start.start():])
        for code in candidates:
            try:
                tree = ast.parse(code)
            except (SyntaxError, ValueError):
                continue
            if any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in tree.body):
                return code.strip("\n") + "\n"
        return None

    # ------------------------------------------------------------------ scoring

    def baseline_errors(self, problem: Problem) -> float:
        return float(self.tests(problem))

    def _precheck(self, problem: Problem, solution: Solution) -> tuple[float | None, str]:
        """(errors decided on the host, or None to run the tests; the program to run)."""
        code = solution if isinstance(solution, str) else ""
        if _is_helper(problem):
            return (0.0 if defines_function(code, problem["name"]) else 1.0), code
        total = float(self.tests(problem))
        if not code.strip() or not defines_function(code, problem["entry_point"]):
            return total, ""
        program = build_program(problem["prompt"], code, problem["entry_point"])
        try:
            compile(program, "<solution>", "exec")
        except (SyntaxError, ValueError):
            return total, ""
        cached = self._cache.get((problem["task_id"], program))
        if cached is not None:
            self._cache.move_to_end((problem["task_id"], program))
            return cached, program
        return None, program

    def _grading(self, problem: Problem, program: str) -> tuple[str, float]:
        plan = _plan(problem["test"])
        budget = self.test_timeout * (len(plan.units) + 1) + 5.0
        return grading_code(program, plan, problem["entry_point"], self.test_timeout), budget

    def _record_result(self, problem: Problem, program: str, value: str | None) -> float:
        total = self.tests(problem)
        result = parse_grading(value, total)
        errors = float(max(0, total - int(result.get("passed") or 0)))
        self._cache[(problem["task_id"], program)] = errors
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return errors

    async def aerrors(self, problem: Problem, solution: Solution) -> float:
        """The number of hidden test statements `solution` fails (helper part problems: 0 if the code compiles
        and defines the helper, else 1), run in a sandbox session borrowed for this call."""
        decided, program = self._precheck(problem, solution)
        if decided is not None:
            return decided
        code, budget = self._grading(problem, program)
        sandbox: PythonSandbox = await self.pool.aacquire()
        ok = False
        try:
            run = await sandbox.aexecute(code, timeout=budget)
            ok = run.ok
        finally:
            # the candidate ran in a forked child: the session is still clean unless the call itself failed;
            # shielded so that a cancelled episode still hands its session back
            await asyncio.shield(self.pool.arelease(sandbox, reset=not ok))
        return self._record_result(problem, program, run.value)

    def errors(self, problem: Problem, solution: Solution) -> float:
        """`aerrors` through the sandbox's blocking API (do not call it from inside a running event loop)."""
        decided, program = self._precheck(problem, solution)
        if decided is not None:
            return decided
        code, budget = self._grading(problem, program)
        sandbox = self.pool.acquire()
        ok = False
        try:
            run = sandbox.execute(code, timeout=budget)
            ok = run.ok
        finally:
            self.pool.release(sandbox, reset=not ok)
        return self._record_result(problem, program, run.value)

    def check(self, problem: Problem, solution: Solution, gold: Solution) -> bool:
        """Every hidden test passes (`gold` is unused: the tests decide)."""
        return self.errors(problem, solution) == 0

    async def acheck(self, problem: Problem, solution: Solution, gold: Solution) -> bool:
        """Async `check`: every hidden test passes."""
        return await self.aerrors(problem, solution) == 0

    # ------------------------------------------------------------------ decomposition

    def split(self, problem: Problem, parts: int) -> list[Problem]:
        """Not possible for code: there is no exact, programmatic way to cut a function into helpers."""
        raise UnsupportedOperation(
            "HumanEval problems have no programmatic decomposition: decomposing a HumanEval problem into helper "
            "functions needs an LLM reasoner (decompose_prompt / parse_parts), not ProgrammaticReasoner")

    def join(self, problem: Problem, part_problems: Sequence[Problem]) -> Problem:
        """The whole problem: helpers of a function combine into that function's problem."""
        return problem

    def merge(self, problem: Problem, part_solutions: Sequence[Solution]) -> Solution:
        """The helpers' code concatenated, followed by the solution(s) that define the problem's own function
        (for a helper problem, the one defining that helper), if any part solution does."""
        name = problem["name"] if _is_helper(problem) else problem["entry_point"]
        codes = [str(s).strip("\n") for s in part_solutions if isinstance(s, str) and s.strip()]
        helpers = [c for c in codes if not defines_function(c, name)]
        mains = [c for c in codes if defines_function(c, name)]
        return "\n\n\n".join(helpers + mains) + "\n"

    # ------------------------------------------------------------------ a programmatic reasoner's ingredients

    def exact(self, problem: Problem) -> Solution:
        """The canonical program: the prompt (imports, given helpers, signature and docstring) + the body."""
        if _is_helper(problem):
            raise ValueError("a helper part problem has no reference solution (it comes from an LLM's decomposition)")
        return problem["prompt"] + self._record(problem)["canonical_solution"]

    def corrupt(self, problem: Problem, solution: Solution, mistakes: int, rng: np.random.Generator) -> Solution:
        """`solution` with `mistakes` random semantic slips in the problem's function (a flipped comparison,
        an off-by-one integer, `+`/`-` swapped, `and`/`or` swapped, a negated condition, a return value
        replaced by None), at distinct sites; the code still parses. Without a site the body becomes
        `return None`. Code that does not parse, or lacks the function, is returned as is (it fails anyway)."""
        code = str(solution)
        if mistakes <= 0:
            return code
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return code
        fn = _find_function(tree, problem["name"] if _is_helper(problem) else problem["entry_point"])
        if fn is None:
            return code
        sites = mutation_sites(fn)
        if not sites:
            doc = fn.body[: len(fn.body) - len(_body_without_docstring(fn))]
            fn.body = [*doc, ast.Return(value=ast.Constant(value=None))]
        else:
            for i in rng.choice(len(sites), size=min(mistakes, len(sites)), replace=False):
                kind, node, index = sites[int(i)]
                _mutate(kind, node, index, rng)
        return ast.unparse(ast.fix_missing_locations(tree)) + "\n"

    # ------------------------------------------------------------------ prompts

    _ANSWER = ("Reply with the complete code (the imports, any helper functions and the function itself) in one "
               "```python block.")

    def solve_prompt(self, problem: Problem) -> str:
        return f"{self.statement(problem)}\n\n{self._ANSWER}"

    def refine_prompt(self, problem: Problem, solution: Solution, errors: float | None) -> str:
        if _is_helper(problem):
            verdict = ("It has not been checked yet." if errors is None else
                       "It compiles and defines the helper; check that it does what the docstring says."
                       if errors == 0 else "It does not compile or does not define the helper.")
        elif errors is None:
            verdict = "It has not been tested yet."
        else:
            verdict = f"It fails {int(errors)} of the {self.tests(problem)} hidden tests."
        return (f"{self.statement(problem)}\n\nThe current code:\n{self.format_solution(solution)}\n\n{verdict} "
                f"Find the mistakes and fix them. {self._ANSWER}")

    def aggregate_prompt(self, problem: Problem, part_problems: Sequence[Problem],
                         part_solutions: Sequence[Solution]) -> str:
        helpers = self.merge(problem, part_solutions)
        name = problem["name"] if _is_helper(problem) else problem["entry_point"]
        return (f"{self.statement(problem)}\n\nThese helper functions are written already:\n"
                f"{self.format_solution(helpers)}\n\nWrite `{name}` using them. Reply with the complete program (the "
                f"imports, the helpers as given, then `{name}`) in one ```python block.")

    def decompose_prompt(self, problem: Problem, parts: int) -> str:
        name = problem["name"] if _is_helper(problem) else problem["entry_point"]
        return (f"{self.statement(problem)}\n\nDo not write `{name}` yet. Break the work into at most {parts} "
                f"helper functions that `{name}` can call. For each helper give only its signature (with type hints) "
                f"and a docstring saying exactly what it takes and returns, with `...` as the body, all in one "
                f"```python block.")

    def parse_parts(self, problem: Problem, parts: int, text: str) -> list[Problem] | None:
        """Each top-level `def` with a docstring in the reply's code (at most `parts`; never the problem's own
        function) becomes a helper part problem; None when there is none."""
        parent = problem["name"] if _is_helper(problem) else problem["entry_point"]
        blocks = _FENCE_ANY.findall(text or "") or [text or ""]
        found: dict[str, Problem] = {}
        for block in blocks:
            try:
                tree = ast.parse(block)
            except (SyntaxError, ValueError):
                continue
            for node in tree.body:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name == parent:
                    continue
                if ast.get_docstring(node) is None or node.name in found:
                    continue
                stub = copy.deepcopy(node)
                stub.decorator_list = []
                stub.body = [stub.body[0]]
                found[node.name] = {"kind": "helper", "signature_and_doc": ast.unparse(stub) + "\n",
                                    "name": node.name, "parent_entry_point": parent}
        helpers = list(found.values())[: max(1, parts)]
        return helpers or None

    # ------------------------------------------------------------------ task sets

    def instance(self, task_id: str) -> TaskInstance:
        """One real HumanEval problem with the canonical program as gold."""
        record = _records().get(task_id)
        if record is None:
            raise KeyError(f"no HumanEval problem {task_id!r}")
        problem = {k: record[k] for k in ("task_id", "prompt", "entry_point", "test")}
        return TaskInstance(problem, self.exact(problem), source_id=task_id,
                            metadata={"tests": self.tests(problem), "size": self.size(problem)})

    def load(self, task_ids: Sequence[str] | None = None) -> list[TaskInstance]:
        """The real HumanEval problems (all 164 in order, or the given ids), gold = the canonical program."""
        ids = list(task_ids) if task_ids is not None else list(_records())
        return [self.instance(t) for t in ids]

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        """One of the 164 problems drawn uniformly (`size` is ignored: HumanEval problems are fixed)."""
        ids = list(_records())
        return self.instance(ids[int(rng.integers(len(ids)))])
