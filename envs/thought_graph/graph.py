"""The graph of thoughts: nodes are problems and partial solutions; edges say what each was made from.

A node answers a *scope*: the whole problem of a problem node (`base`), or the union of some of that
problem's parts (`parts`, after an aggregation of some but not all parts). Problem nodes are the root and
the parts made by `decompose`; solution nodes come from `solve`, `refine` and `aggregate`. `render` draws the
live graph compactly enough for a small model; `to_dict` is the same graph as data for `info`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agentgym.envs.thought_graph.task import Problem, Solution, ThoughtTask

from agentgym.tool import ToolArgumentError

__all__ = ["GraphError", "Thought", "ThoughtGraph"]

PROBLEM_OPS = ("problem", "decompose")


class GraphError(ToolArgumentError):
    """An action the graph cannot take (unknown or pruned node, wrong kind of node ...); its message is what
    the policy reads."""


@dataclass
class Thought:
    """One node of the graph.

    Attributes:
        id: the node's number (the root is 0).
        op: what made it: "problem" (the root), "decompose", "solve", "refine" or "aggregate".
        parents: the nodes it was made from.
        depth: 0 for the root, else one more than its deepest parent.
        base: the problem node whose problem (or parts of it) this node answers; a problem node is its own base.
        parts: the parts of `base` it covers (empty: the whole problem).
        problem: the (sub-)problem it answers.
        solution: its solution (None for problem nodes, and for a reasoner reply that had none).
        errors: the task scorer's error count once scored (None before).
        valid: False when the reasoner's reply held no usable solution.
        pruned: removed by `reduce`; it stays in the history but cannot be used.
        part_of: for a part problem: (the decomposed node, its part index).
        text: the reasoner's raw reply (kept for inspection, never rendered).
    """

    id: int
    op: str
    parents: tuple[int, ...]
    depth: int
    base: int
    problem: Problem
    parts: tuple[int, ...] = ()
    solution: Solution | None = None
    errors: float | None = None
    valid: bool = True
    pruned: bool = False
    part_of: tuple[int, int] | None = None
    text: str = ""

    @property
    def is_problem(self) -> bool:
        return self.op in PROBLEM_OPS

    @property
    def has_solution(self) -> bool:
        return not self.is_problem and self.valid and self.solution is not None

    @property
    def solved(self) -> bool | None:
        """True when scored with 0 errors, False when scored with errors, None when not scored."""
        return None if self.errors is None else self.errors == 0


@dataclass
class ThoughtGraph:
    """The thoughts of one episode, their decompositions, and the task family that reads them."""

    task: ThoughtTask
    nodes: list[Thought] = field(default_factory=list)
    decompositions: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def start(cls, task: ThoughtTask, problem: Problem) -> ThoughtGraph:
        """A graph holding only the root problem (node 0)."""
        graph = cls(task)
        graph.nodes.append(Thought(0, "problem", (), 0, 0, problem))
        return graph

    @property
    def root(self) -> Thought:
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.nodes)

    # ------------------------------------------------------------------ lookups

    def get(self, node_id: Any, *, live: bool = True) -> Thought:
        """The node with this id; `GraphError` if there is none (or, with `live`, if it was pruned)."""
        try:
            index = int(node_id)
        except (TypeError, ValueError):
            raise GraphError(f"node ids are numbers, got {node_id!r}") from None
        if not 0 <= index < len(self.nodes):
            raise GraphError(f"there is no node {index} (nodes are 0 to {len(self.nodes) - 1})")
        node = self.nodes[index]
        if live and node.pruned:
            raise GraphError(f"node {index} was pruned by reduce")
        return node

    def get_many(self, node_ids: Any) -> list[Thought]:
        """Several live nodes, without repeats; a single id is accepted as a list of one."""
        if isinstance(node_ids, (int, str)):
            node_ids = [node_ids]
        if not isinstance(node_ids, (list, tuple)) or not node_ids:
            raise GraphError("give a non-empty list of node ids")
        nodes = [self.get(i) for i in node_ids]
        if len({n.id for n in nodes}) != len(nodes):
            raise GraphError("a node id is repeated")
        return nodes

    def live(self) -> list[Thought]:
        return [n for n in self.nodes if not n.pruned]

    def scope(self, node: Thought) -> tuple[int, frozenset[int]] | None:
        """The node's scope as (decomposed node, parts covered), or None if it answers a problem that is
        not a part of anything (the root, or a scope covering the whole of its base)."""
        if node.parts:
            return node.base, frozenset(node.parts)
        base = self.nodes[node.base]
        if base.part_of is not None:
            return base.part_of[0], frozenset({base.part_of[1]})
        return None

    def answers_root(self, node: Thought) -> bool:
        return node.base == 0 and not node.parts

    # ------------------------------------------------------------------ growing the graph

    def add(self, op: str, parents: Iterable[Thought], base: int, problem: Problem, *, parts: tuple[int, ...] = (),
            solution: Solution | None = None, valid: bool = True, part_of: tuple[int, int] | None = None,
            text: str = "") -> Thought:
        parent_nodes = list(parents)
        depth = 1 + max((p.depth for p in parent_nodes), default=-1)
        node = Thought(len(self.nodes), op, tuple(p.id for p in parent_nodes), depth, base, problem, parts, solution,
                       None, valid, False, part_of, text)
        if op == "decompose":
            node.base = node.id
        self.nodes.append(node)
        return node

    def decomposition_scope(self, nodes: list[Thought]) -> tuple[Thought, tuple[int, ...]]:
        """For an aggregation: the decomposed node the inputs are parts of, and the parts they cover together
        (ordered). `GraphError` unless every input has a solution, all are parts of one decomposition, and
        they cover disjoint parts."""
        if len(nodes) < 2:
            raise GraphError("aggregate needs at least two nodes")
        owner: int | None = None
        covered: set[int] = set()
        for node in nodes:
            if not node.has_solution:
                raise GraphError(f"node {node.id} has no solution to aggregate (solve it first)")
            scope = self.scope(node)
            if scope is None:
                raise GraphError(f"node {node.id} does not answer a part of a decomposed problem")
            base, parts = scope
            if owner is None:
                owner = base
            elif base != owner:
                raise GraphError(f"nodes answer parts of different problems (node {owner} and node {base})")
            if covered & parts:
                raise GraphError(f"node {node.id} covers a part another node already covers")
            covered |= parts
        assert owner is not None
        return self.nodes[owner], tuple(sorted(covered))

    # ------------------------------------------------------------------ views

    def describe_scope(self, node: Thought) -> str:
        if node.parts:
            n = len(self.decompositions.get(node.base, []))
            shown = ",".join(str(p + 1) for p in node.parts)
            return f"parts {shown} of {n} of node {node.base}"
        if node.part_of is not None and node.is_problem:
            owner, index = node.part_of
            return f"part {index + 1} of {len(self.decompositions.get(owner, []))} of node {owner}"
        return f"node {node.base}" if node.base != node.id else "the root" if node.id == 0 else f"node {node.id}"

    def render_node(self, node: Thought, solution_chars: int = 120) -> str:
        """One line: id, how it was made, what it answers, its solution (shortened to `solution_chars`; none
        shown at 0, and problems cut to 40 characters) and score."""
        if node.is_problem:
            summary = self.task.summary(node.problem)
            if solution_chars <= 0 and len(summary) > 40:
                summary = summary[:37] + "..."
            where = "root problem" if node.op == "problem" else self.describe_scope(node)
            return f"{node.id} {where}: {summary}"
        made = f"{node.op} of {','.join(map(str, node.parents))}"
        target = "root" if self.answers_root(node) else self.describe_scope(node)
        if not node.has_solution:
            return f"{node.id} [{made}] for {target}: no usable solution"
        if node.errors is None:
            score = "not scored"
        else:
            score = "errors 0, SOLVED" if node.errors == 0 else f"errors {node.errors:g}"
        if solution_chars <= 0:
            return f"{node.id} [{made}] for {target}: {score}"
        return f"{node.id} [{made}] for {target}: {self.task.short_solution(node.solution, solution_chars)} ({score})"

    def render(self, solution_chars: int = 120) -> str:
        """The live graph, one line per node; pruned nodes are counted, not shown."""
        lines = [self.render_node(n, solution_chars) for n in self.nodes if not n.pruned]
        pruned = sum(n.pruned for n in self.nodes)
        if pruned:
            lines.append(f"({pruned} pruned node{'s' if pruned != 1 else ''} hidden)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON-able data (every node, pruned ones included)."""
        return {
            "nodes": [
                {"id": n.id, "op": n.op, "parents": list(n.parents), "depth": n.depth, "base": n.base,
                 "parts": list(n.parts), "part_of": list(n.part_of) if n.part_of else None,
                 "problem": self.task.to_json(n.problem), "solution": n.solution, "errors": n.errors,
                 "valid": n.valid, "solved": n.solved, "pruned": n.pruned}
                for n in self.nodes
            ],
            "decompositions": {str(k): v for k, v in self.decompositions.items()},
        }
