"""`ThoughtGraphEnv`: Graph-of-Thoughts reasoning as a decision process (ARIES, arXiv 2502.21208).

The state is a graph of thoughts (problems and partial solutions, `graph.py`); an action is a transformation
of the graph, called as a tool: `decompose`, `solve`, `refine`, `reduce`, `aggregate`, `score`, `submit`. A
reasoner injected into the env (`reasoner.py`: an LLM from any agent spec, or the programmatic stand-in)
carries the transformations out; the policy, seeing the graph after every action, chooses the next one. The
reasoner's calls and tokens are counted apart from the policy's and a budget on them truncates the episode.

Reward (rubric terms): `success`, the task's exact checker on the submitted solution (weight 1); `progress`,
1 - errors / baseline errors of the submitted solution (weight 0: dense shaping by score improvement when
given a weight); `reasoner_cost`, the reasoner calls spent as a fraction of the call budget (weight 0: a cost
penalty when given a negative weight).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from agentgym.envs.thought_graph.graph import GraphError, Thought, ThoughtGraph
from agentgym.envs.thought_graph.reasoner import ProgrammaticReasoner, Reasoner
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask

from agentgym.env import LanguageEnv
from agentgym.messages import Message, ToolCall
from agentgym.protocols import ParsedAction, ToolOutput, ToolProtocol
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task, TaskDataset
from agentgym.tool import Injected, Tool

if TYPE_CHECKING:
    from agentgym.agents.base import Agent

__all__ = ["EpisodeGraph", "ThoughtGraphEnv"]

CONTEXT_KEY = "thought_graph"
StateArg = Annotated[EpisodeState, Injected]
EnvArg = Annotated[Any, Injected]

SYSTEM_PROMPT = """\
You direct the reasoning on a problem by transforming a graph of thoughts. Node 0 is the problem; other nodes \
are part problems or candidate solutions, each line showing how it was made, what it answers, its solution and \
its score (errors 0 means SOLVED; "not scored" means unknown). A reasoner carries out each transformation and \
makes more mistakes on bigger inputs, so splitting a big problem, solving the parts several times, keeping \
the best and merging them back often beats solving it at once. Reasoner calls are limited.

Transformations (tools):
- decompose(node, parts): split a problem node into part problems.
- solve(nodes, k): k candidate solutions for each node's problem (k reasoner calls per node).
- score(nodes): count the errors of solutions (free).
- reduce(nodes, keep): keep the `keep` best scored nodes among them, prune the rest (free).
- refine(nodes, k): k improved solutions for each node, from its errors (k calls per node).
- aggregate(nodes, k): merge solutions of parts of one decomposed problem (k calls).
- submit(node): give a solution of node 0 as the final answer; this ends the episode.
Think briefly about the graph, then call one tool."""


class BudgetSpent(GraphError):
    """The reasoner budget cannot pay for an action: the episode is truncated."""


@dataclass
class EpisodeGraph:
    """One episode's graph, the gold, the episode's reasoner and what it may still spend."""

    graph: ThoughtGraph
    gold: Any
    reasoner: Reasoner
    max_calls: int | None
    max_tokens: int | None
    submitted: Thought | None = None
    over_budget: bool = False
    history: list[str] = field(default_factory=list)
    context_reset: bool = False

    def charge(self, calls: int) -> None:
        """Refuse an action that needs `calls` reasoner calls beyond the budget (and end the episode)."""
        usage = self.reasoner.usage
        if self.max_tokens is not None and usage.tokens >= self.max_tokens:
            self.over_budget = True
            raise BudgetSpent(f"the reasoner's token budget ({self.max_tokens}) is spent; the episode ends")
        if self.max_calls is not None and usage.calls + calls > self.max_calls:
            self.over_budget = True
            raise BudgetSpent(f"this needs {calls} reasoner calls but only {self.max_calls - usage.calls} of "
                              f"{self.max_calls} are left; the episode ends")

    def budget_line(self) -> str:
        usage = self.reasoner.usage
        calls = f"{usage.calls} of {self.max_calls}" if self.max_calls is not None else str(usage.calls)
        tokens = f", tokens {usage.tokens} of {self.max_tokens}" if self.max_tokens is not None else ""
        return f"Reasoner calls used: {calls}{tokens}."


def _context(state: EpisodeState) -> EpisodeGraph:
    return state.data[CONTEXT_KEY]


def _arguments_text(arguments: str) -> str:
    """A call's arguments as `k=v, ...` (or the raw text when they are not a JSON object)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return arguments[:60]
    if not isinstance(value, dict):
        return arguments[:60]
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items())


def _ids(nodes: Sequence[Thought]) -> str:
    return ", ".join(str(n.id) for n in nodes)


# ---------------------------------------------------------------------------------------------- the tools
# Each is a transformation of the graph; `GraphError` (a `ToolArgumentError`) becomes an error observation.


async def decompose(node: int, env: EnvArg, state: StateArg, parts: int = 2) -> str:
    """Split a problem into part problems, each a new node.

    Args:
        node: the node whose problem to split (the root or a part problem, or any node answering a whole problem).
        parts: how many parts (2 or more).
    """
    ctx = _context(state)
    graph = ctx.graph
    target = graph.get(node)
    if not graph.task.decomposable:
        raise GraphError(f"{graph.task.name} problems cannot be decomposed")
    if target.parts:
        raise GraphError(f"node {target.id} answers only some parts of a problem; decompose a problem node")
    if not isinstance(parts, int) or not 2 <= parts <= env.max_parts:
        raise GraphError(f"parts must be a whole number from 2 to {env.max_parts}")
    base = graph.nodes[target.base]
    if base.id in graph.decompositions:
        raise GraphError(f"node {base.id} is already decomposed into nodes {graph.decompositions[base.id]}")
    if graph.task.size(base.problem) < parts:
        raise GraphError(f"node {base.id}'s problem is too small for {parts} parts")
    ctx.charge(1)
    problems = await ctx.reasoner.decompose(graph.task, base.problem, parts)
    if not problems:
        return f"The reasoner's decomposition of node {base.id} was unusable; nothing was added."
    made = [graph.add("decompose", [target], base.id, p, part_of=(base.id, i)) for i, p in enumerate(problems)]
    graph.decompositions[base.id] = [n.id for n in made]
    return f"decompose {base.id}: created {_ids(made)}"


async def solve(nodes: list[int], env: EnvArg, state: StateArg, k: int = 1) -> str:
    """Ask the reasoner for k candidate solutions of each node's problem.

    Args:
        nodes: the nodes whose problems to solve (problem nodes, or solution nodes to solve their problem again).
        k: candidates per node (1 to 10); each is one reasoner call.
    """
    ctx = _context(state)
    graph = ctx.graph
    targets = graph.get_many(nodes)
    if not isinstance(k, int) or not 1 <= k <= env.max_k:
        raise GraphError(f"k must be a whole number from 1 to {env.max_k}")
    ctx.charge(k * len(targets))
    lines = []
    for target in targets:
        base, parts = (target.id, ()) if target.is_problem else (target.base, target.parts)
        outcomes = await ctx.reasoner.solve(graph.task, target.problem, k)
        made = [graph.add("solve", [target], base, target.problem, parts=parts, solution=o.solution,
                          valid=o.solution is not None, text=o.text) for o in outcomes]
        lines.append(f"solve {target.id}: created {_ids(made)}")
    return "\n".join(lines)


async def score(nodes: list[int], env: EnvArg, state: StateArg) -> str:
    """Count the errors of solutions with the task's scorer (free).

    Args:
        nodes: solution nodes to score.
    """
    graph = _context(state).graph
    targets = graph.get_many(nodes)
    for t in targets:
        if not t.has_solution:
            raise GraphError(f"node {t.id} has no solution to score")
    for t in targets:
        await env.ensure_scored(graph, t)
    return "score: " + ", ".join(f"{t.id}={t.errors:g}" + (" SOLVED" if t.errors == 0 else "") for t in targets)


async def reduce(nodes: list[int], env: EnvArg, state: StateArg, keep: int = 1) -> str:
    """Keep the best scored nodes among the given ones and prune the others (free).

    Args:
        nodes: scored solution nodes to choose among.
        keep: how many to keep (the fewest errors; ties go to the older node).
    """
    graph = _context(state).graph
    targets = graph.get_many(nodes)
    if not isinstance(keep, int) or keep < 1:
        raise GraphError("keep must be a whole number of at least 1")
    unscored = [t.id for t in targets if not t.has_solution or t.errors is None]
    if unscored:
        raise GraphError(f"nodes {unscored} are not scored solutions; score them first")
    ranked = sorted(targets, key=lambda t: (t.errors, t.id))
    kept, pruned = ranked[:keep], ranked[keep:]
    for t in pruned:
        t.pruned = True
    kept.sort(key=lambda t: t.id)
    return f"reduce: kept {_ids(kept)}" + (f"; pruned {_ids(pruned)}" if pruned else "")


async def refine(nodes: list[int], env: EnvArg, state: StateArg, k: int = 1) -> str:
    """Ask the reasoner to improve solutions, telling it how many errors each has (k calls per node).

    Args:
        nodes: solution nodes to improve.
        k: improved versions per node (1 to 10).
    """
    ctx = _context(state)
    graph = ctx.graph
    targets = graph.get_many(nodes)
    if not isinstance(k, int) or not 1 <= k <= env.max_k:
        raise GraphError(f"k must be a whole number from 1 to {env.max_k}")
    for t in targets:
        if not t.has_solution:
            raise GraphError(f"node {t.id} has no solution to refine (solve it first)")
    ctx.charge(k * len(targets))
    lines = []
    for t in targets:
        await env.ensure_scored(graph, t)
        made = []
        for _ in range(k):
            outcome = await ctx.reasoner.refine(graph.task, t.problem, t.solution, t.errors)
            made.append(graph.add("refine", [t], t.base, t.problem, parts=t.parts, solution=outcome.solution,
                                  valid=outcome.solution is not None, text=outcome.text))
        lines.append(f"refine {t.id}: created {_ids(made)}")
    return "\n".join(lines)


async def aggregate(nodes: list[int], env: EnvArg, state: StateArg, k: int = 1) -> str:
    """Merge solutions of parts of one decomposed problem into solutions of their union (k reasoner calls).

    Args:
        nodes: solution nodes, each answering different parts of the same decomposed problem.
        k: how many merges to try (1 to 10).
    """
    ctx = _context(state)
    graph = ctx.graph
    targets = graph.get_many(nodes)
    if not isinstance(k, int) or not 1 <= k <= env.max_k:
        raise GraphError(f"k must be a whole number from 1 to {env.max_k}")
    owner, covered = graph.decomposition_scope(targets)
    all_parts = graph.decompositions[owner.id]
    ordered = sorted(targets, key=lambda t: min(graph.scope(t)[1]))  # type: ignore[index]
    whole = len(covered) == len(all_parts)
    part_problems = [graph.nodes[all_parts[i]].problem for i in covered]
    problem = owner.problem if whole else graph.task.join(owner.problem, part_problems)
    ctx.charge(k)
    outcomes = await ctx.reasoner.aggregate(graph.task, problem, [t.problem for t in ordered],
                                            [t.solution for t in ordered], k)
    base, parts = (owner.id, ()) if whole else (owner.id, covered)
    made = [graph.add("aggregate", ordered, base, problem, parts=parts, solution=o.solution,
                      valid=o.solution is not None, text=o.text) for o in outcomes]
    return f"aggregate {_ids(ordered)}: created {_ids(made)}"


async def submit(node: int, env: EnvArg, state: StateArg) -> str:
    """Give a solution of the root problem (node 0) as the final answer; the episode ends.

    Args:
        node: a solution node answering the root problem.
    """
    ctx = _context(state)
    target = ctx.graph.get(node)
    if not target.has_solution:
        raise GraphError(f"node {target.id} has no solution to submit")
    if not ctx.graph.answers_root(target):
        raise GraphError(f"node {target.id} does not answer the root problem (it answers "
                         f"{ctx.graph.describe_scope(target)}); aggregate first")
    ctx.submitted = target
    state.submit(ctx.graph.task.format_solution(target.solution))
    return f"submitted {target.id}"


TRANSFORMATIONS = [
    Tool.from_function(f, timeout=None, concurrent=False)
    for f in (decompose, solve, score, reduce, refine, aggregate, submit)
]


# ---------------------------------------------------------------------------------------------- the reward


async def success(state: EpisodeState) -> float:
    """1.0 when the submitted solution passes the task's exact checker."""
    ctx: EpisodeGraph | None = state.data.get(CONTEXT_KEY)
    if ctx is None or ctx.submitted is None:
        return 0.0
    task = ctx.graph.task
    return float(await task.acheck(ctx.graph.root.problem, ctx.submitted.solution, ctx.gold))


async def progress(state: EpisodeState) -> float:
    """1 - errors / baseline errors of the submitted solution (0 without a submission)."""
    ctx: EpisodeGraph | None = state.data.get(CONTEXT_KEY)
    if ctx is None or ctx.submitted is None:
        return 0.0
    task, node = ctx.graph.task, ctx.submitted
    errors = node.errors if node.errors is not None else await task.aerrors(node.problem, node.solution)
    return max(0.0, 1.0 - float(errors) / max(1e-9, task.baseline_errors(ctx.graph.root.problem)))


def reasoner_cost(state: EpisodeState) -> float:
    """The reasoner calls spent, as a fraction of the call budget (per 100 calls without one)."""
    ctx: EpisodeGraph | None = state.data.get(CONTEXT_KEY)
    if ctx is None:
        return 0.0
    return ctx.reasoner.usage.calls / float(ctx.max_calls or 100)


# ---------------------------------------------------------------------------------------------- the env


def _make_reasoner(reasoner: str | Agent | Reasoner | None, options: dict[str, Any]) -> Reasoner:
    if reasoner is None or reasoner == "programmatic":
        return ProgrammaticReasoner(**options)
    if isinstance(reasoner, Reasoner):
        return reasoner
    from agentgym.envs.thought_graph.llm_reasoner import LLMReasoner

    return LLMReasoner(reasoner, **options)


class ThoughtGraphEnv(LanguageEnv):
    """A Graph-of-Thoughts task (sorting, set intersection, keyword counting, document merging, HumanEval)
    solved by transforming a graph of thoughts (see the module docstring).

    Args:
        task: a task family name (`agentgym.envs.thought_graph.tasks.TASK_FAMILIES`) or a `ThoughtTask`.
        size: the problem size of generated tasks (numbers to sort, set size, country mentions, sentences).
        reasoner: who executes transformations: None or "programmatic" (`ProgrammaticReasoner`), an agent spec
            (`openai:...`, `litellm:...`, `hf:...`) or `Agent` (`LLMReasoner`), or a `Reasoner`.
        reasoner_options: keyword arguments for the reasoner (error rates, or the agent's temperature ...).
        max_calls: the reasoner call budget per episode (None: unlimited); an action it cannot pay for ends the
            episode truncated.
        max_tokens: a reasoner token budget per episode (None: unlimited).
        tasks_file: a Graph of Thoughts CSV of the task family to play instead of generated tasks.
        max_k: most candidates per `solve` / `aggregate` call; max_parts: most parts per `decompose`.
        solution_chars: how much of each solution the graph rendering shows (0: scores only, for small models).
        compact: the short view for small policies and CPU training: the system prompt describes the tools by
            their signatures (no JSON schemas) and the graph shows scores only (`solution_chars=0`).
        context: "conversation" (default: each observation is appended to the conversation) or "graph" (ARIES'
            view: after every step the whole context is rebuilt as the problem, the actions so far, the last
            results and the graph, with `info["context_reset"]`, so the prompt stays short however long the
            episode).
        sizes: nominal number of generated tasks per split (train and test ids never overlap).
        protocol, max_turns, split, ...: as for `LanguageEnv`.
    """

    def __init__(
        self,
        task: str | ThoughtTask = "sorting",
        size: int = 32,
        reasoner: str | Agent | Reasoner | None = None,
        reasoner_options: dict[str, Any] | None = None,
        max_calls: int | None = 200,
        max_tokens: int | None = None,
        tasks_file: str | Path | None = None,
        protocol: str | ToolProtocol = "hermes",
        max_turns: int = 40,
        split: str = "test",
        max_k: int = 10,
        max_parts: int = 16,
        solution_chars: int = 120,
        context: str = "conversation",
        compact: bool = False,
        sizes: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if context not in ("conversation", "graph"):
            raise ValueError(f"context must be 'conversation' or 'graph', got {context!r}")
        self.context = context
        if isinstance(task, str):
            from agentgym.envs.thought_graph.tasks import get_task

            task = get_task(task)
        self.family: ThoughtTask = task
        if size < 1:
            raise ValueError("size must be at least 1")
        if max_calls is not None and max_calls < 1:
            raise ValueError("max_calls must be at least 1 (or None for no budget)")
        self.size, self.max_calls, self.max_tokens = size, max_calls, max_tokens
        self.compact = compact
        self.max_k, self.max_parts, self.solution_chars = max_k, max_parts, 0 if compact else solution_chars
        self.reasoner = _make_reasoner(reasoner, dict(reasoner_options or {}))
        tasks = self._task_set(tasks_file, sizes)
        rubric = Rubric([RewardFunc(success, 1.0), RewardFunc(progress, 0.0), RewardFunc(reasoner_cost, 0.0)])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, TRANSFORMATIONS, rubric, protocol=protocol, max_turns=max_turns, split=split,
                         **kwargs)

    # ------------------------------------------------------------------ tasks

    def _as_task(self, instance: TaskInstance, task_id: str, split: str) -> Task:
        return Task(id=task_id, prompt=self.family.statement(instance.problem), answer=instance.gold, split=split,
                    metadata={"problem": instance.problem, "family": self.family.name,
                              "source_id": instance.source_id, **instance.metadata})

    def _task_set(self, tasks_file: str | Path | None, sizes: dict[str, int] | None) -> TaskDataset:
        name = self.family.name
        if tasks_file is not None:
            loaded = self.family.load_csv(tasks_file)
            if not loaded:
                raise ValueError(f"{tasks_file} holds no {name} tasks")
            return TaskDataset(self._as_task(inst, f"{name}-{inst.source_id or i}", "test")
                               for i, inst in enumerate(loaded))
        fixed = getattr(self.family, "load", None)
        if callable(fixed):  # a fixed benchmark (HumanEval): every problem, in the test split
            return TaskDataset(self._as_task(inst, f"{name}-{inst.source_id or i}", "test")
                               for i, inst in enumerate(fixed()))

        def make_task(rng: np.random.Generator, task_id: str, task_split: str) -> Task:
            return self._as_task(self.family.generate(rng, self.size), task_id, task_split)

        return GeneratedTaskDataset(make_task, sizes or {"train": 100_000, "test": 1_000}, salt=f"tg-{name}-{self.size}")

    # ------------------------------------------------------------------ episode

    def tool_injections(self, state: EpisodeState) -> dict[str, Any]:
        return {"state": state, "env": self}

    async def setup_episode(self, state: EpisodeState) -> None:
        problem = state.task.metadata["problem"]
        reasoner = self.reasoner.fork(int(self.np_random.integers(2**31)))
        state.data[CONTEXT_KEY] = EpisodeGraph(ThoughtGraph.start(self.family, problem), state.task.answer, reasoner,
                                               self.max_calls, self.max_tokens)

    def build_system_prompt(self, task: Task) -> str:
        """The instructions with the tools' JSON schemas, or in the compact view the instructions (which give
        every signature) with the protocol's call format only."""
        if not self.compact or self.protocol.native:
            return super().build_system_prompt(task)
        example = self.protocol.encode_calls(Message("assistant", None, [ToolCall("call_0", "solve",
                                                                                  '{"nodes": [0], "k": 2}')]))
        return f"{self.system_prompt}\nCall a tool like this:\n{example}"

    def initial_messages(self, task: Task, state: EpisodeState) -> list[dict[str, Any]]:
        messages = super().initial_messages(task, state)
        graph = ThoughtGraph.start(self.family, task.metadata["problem"])
        budget = f"Reasoner calls: {self.max_calls} at most." if self.max_calls is not None else ""
        messages[-1]["content"] = f"{task.prompt}\n\n# Graph\n{graph.render(self.solution_chars)}\n{budget}".rstrip()
        return messages

    def graph_context(self, state: EpisodeState, last: str) -> list[dict[str, Any]]:
        """The whole next prompt in "graph" context mode: the opening messages with the actions so far, the
        last results and the graph in place of the conversation."""
        ctx = _context(state)
        messages = [dict(m) for m in state.messages[:2] if m.get("role") in ("system", "user")][:2]
        history = "\n".join(ctx.history) or "(none)"
        messages[-1]["content"] = (f"{state.task.prompt}\n\n# Actions so far\n{history}\n\n# Last result\n{last}\n\n"
                                   f"# Graph\n{ctx.graph.render(self.solution_chars)}\n{ctx.budget_line()}")
        return messages

    async def ensure_scored(self, graph: ThoughtGraph, node: Thought) -> None:
        """Score a solution node with the task's scorer if it is not scored yet."""
        if node.errors is None and node.has_solution:
            node.errors = float(await graph.task.aerrors(node.problem, node.solution))

    async def handle_action(self, state: EpisodeState,
                            parsed: ParsedAction) -> tuple[list[dict[str, Any]], list[ToolOutput]]:
        """The transformations' results, then the graph as it is now and the budget spent."""
        observation, outputs = await super().handle_action(state, parsed)
        ctx = _context(state)
        ctx.context_reset = False
        for o in outputs:  # one line per call: the call and its whole result, newlines as "; "
            result = "; ".join(line for line in o.content.splitlines() if line.strip())
            ctx.history.append(f"{state.turn}. {o.call.name}({_arguments_text(o.call.arguments)}) -> {result}")
        if not outputs:
            ctx.history.append(f"{state.turn}. (no tool call)")
        if state.done:
            return observation, outputs
        if ctx.over_budget:
            text = "The reasoner budget is spent; the episode ends."
        elif self.context == "graph":
            last = "\n".join(str(m.get("content") or "") for m in observation) or "(no action)"
            ctx.context_reset = True
            return self.graph_context(state, last), outputs
        else:
            text = f"# Graph\n{ctx.graph.render(self.solution_chars)}\n{ctx.budget_line()}"
        last = observation[-1] if observation else None
        if last is not None and last.get("role") == "user" and isinstance(last.get("content"), str):
            observation[-1] = {**last, "content": last["content"] + "\n\n" + text}
        else:
            observation.append({"role": "user", "content": text})
        return observation, outputs

    def should_truncate(self, state: EpisodeState) -> bool:
        """End the episode when the reasoner budget is spent."""
        ctx: EpisodeGraph | None = state.data.get(CONTEXT_KEY)
        return ctx is not None and ctx.over_budget

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        """The graph as data, the reasoner's usage, and the submitted node."""
        ctx: EpisodeGraph | None = state.data.get(CONTEXT_KEY)
        if ctx is None:
            return {}
        return {"graph": ctx.graph.to_dict(), "reasoner_usage": ctx.reasoner.usage.as_dict(),
                "context_reset": ctx.context_reset,
                "submitted_node": ctx.submitted.id if ctx.submitted is not None else None,
                "family": self.family.name, "size": self.size}

    async def aclose(self) -> None:
        await super().aclose()
        await self.reasoner.aclose()
        closer = getattr(self.family, "aclose", None)
        if callable(closer):
            await closer()
