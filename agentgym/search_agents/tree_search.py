"""Best-first tree search over an env's states (Koh et al. 2024, "Tree Search for Language Model Agents",
arXiv 2407.01476; reference code kohjingyu/search-agents).

At every real step the agent explores from the current state before it acts:

1. sample `2b` actions from the policy (temperature sampling) and keep the `b` most frequent distinct ones
   (actions are compared by the tool calls the env's protocol reads from them, else by their text);
2. put them on a max-priority frontier with priority 0.5;
3. pop the best node, replay a simulation env to it (a separate env instance, reset to the task and driven
   through the real actions so far plus the node's path: the real episode is never touched) and score the
   state with the value function; stop when a value reaches 1.0 or `budget` values were computed;
4. unless the node ended the episode or is `max_depth` actions deep, sample its children the same way and
   push them with the node's value as their priority; ties go to the subtree of the more frequent root
   action, then to the more frequent sibling, then to the earlier node;
5. act: the first action on the path to the best-valued node (the earliest one among equals).

Every step's tree (nodes with their action, path, value, visit order) is returned in `AgentOutput.info`
under `search_tree`, which the episode loop stores in `Trajectory.info["search_tree"]` (one entry per real
step).
"""

from __future__ import annotations

import asyncio
import heapq
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.agents.base import Agent, AgentError, AgentOutput, EpisodeSession
from agentgym.messages import Message
from agentgym.search_agents.value import LLMJudge, ValueFunction, as_value_function, message_text

__all__ = ["SearchNode", "SearchSession", "TreeSearchAgent", "action_key", "replay_env"]

COMMIT_FIRST, COMMIT_PATH = "first", "path"


def _unwrapped(env: Any) -> Any:
    return getattr(env, "unwrapped", env)


def action_key(message: dict[str, Any], protocol: Any = None) -> str:
    """The normalized text of an action, for deduplication: the tool calls `protocol` reads from it (name and
    canonical JSON arguments), else its text with whitespace collapsed."""
    if protocol is not None:
        try:
            parsed = protocol.parse(Message.from_openai({**message, "role": "assistant"}), turn=0)
        except Exception:  # a protocol that raises on odd input: fall back to the text
            parsed = None
        if parsed is not None and parsed.calls:
            keys = []
            for c in parsed.calls:
                try:
                    args = json.dumps(c.parsed_arguments(), sort_keys=True, ensure_ascii=False)
                except ValueError:
                    args = c.arguments
                keys.append(f"{c.name}({args})")
            return "\n".join(keys)
    return " ".join(message_text(message).split())


async def replay_env(env: Any, actions: Sequence[Any], task_id: str, *,
                     seed: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`replay` for any async env (`areset`/`astep`): reset to `task_id` with `seed`, run `actions`, return the
    last observation and info (with `terminated`, `truncated`, `return`, `replayed`), as `WebEnv.areplay`."""
    obs, info = await env.areset(seed=seed, options={"task_id": task_id})
    terminated = truncated = False
    total, n = 0.0, 0
    for a in actions:
        if terminated or truncated:
            break
        obs, reward, terminated, truncated, info = await env.astep(a)
        total += float(reward)
        n += 1
    return obs, {**info, "terminated": terminated, "truncated": truncated, "return": total, "replayed": n}


@dataclass
class SearchNode:
    """One explored action: the path from the current real state is its ancestors' actions then its own.

    Attributes:
        id: index in the step's node list.
        parent: the parent's id (None for the current state's children).
        depth: actions from the current real state (1 for its children).
        action: the assistant message (the first sampled one with this key).
        key: the normalized action text.
        count: how many of the sampled actions had this key.
        priority: its frontier priority (0.5 at depth 1, the parent's value below).
        value: the value function's score, None while unvisited.
        visit: the order in which it was scored (0 first), None while unvisited.
        terminal: the episode ended at this node (no children).
    """

    id: int
    parent: int | None
    depth: int
    action: dict[str, Any]
    key: str
    count: int
    priority: float
    root_rank: int
    rank: int
    value: float | None = None
    visit: int | None = None
    terminal: bool = False
    error: str | None = None
    observation: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self, path: list[str]) -> dict[str, Any]:
        return {"id": self.id, "parent": self.parent, "depth": self.depth, "action": message_text(self.action),
                "key": self.key, "path": path, "count": self.count, "priority": self.priority,
                "value": self.value, "visit": self.visit, "terminal": self.terminal, "error": self.error}


@dataclass
class _Usage:
    policy_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, out: AgentOutput) -> None:
        self.prompt_tokens += out.prompt_tokens
        self.completion_tokens += out.completion_tokens
        self.cost += out.cost


class TreeSearchAgent(Agent):
    """Best-first search around a policy agent, over any env with `replay(actions, task_id)` (`areplay`; an
    env with only `areset`/`astep` is replayed by resetting and stepping, see `replay_env`).

    Defaults are those of Koh et al.'s released runs (scripts in kohjingyu/search-agents): lookahead depth
    d = 5 (their `--max_depth 4` counts from 0: "5 step lookahead"), branching b = 5, search budget c = 20 value
    computations per step, a GPT-4o judge with n = 20 samples (`LLMJudge`), policy temperature 1.0. Their
    code samples max(2b, 20) actions per expansion; this one samples `num_samples` (default 2b) and keeps
    the b most frequent. Their agent then executes the whole best path; `commit="first"` (the default) takes
    its first action and searches again at the next step, `commit="path"` executes the rest of the path on
    the following turns without searching.

    The episode (task id and seed) comes from the episode loop (`agentgym.episode.current_episode`), so this
    agent runs where any agent runs: `run_episode`, `collect`, `agentgym eval --search best-first`.

    Args:
        policy: the agent that proposes actions (sample it with a temperature > 0).
        env_factory: makes the simulation envs (one per concurrent episode, reused); they must play the same
            tasks as the real env and be deterministic given the task and seed.
        value: a callable `(messages, task) -> float` in [0, 1], an `Agent` or an agent spec (an `LLMJudge`
            with `value_samples` samples).
        max_depth: the longest action path explored from the current state (d).
        branching: distinct actions kept per expansion (b).
        budget: value computations per real step (c).
        num_samples: policy samples per expansion (default 2b).
        value_samples: judgements per state when `value` is an agent or spec (n).
        root_prior: the priority of the current state's children before they are scored.
        commit: "first" or "path" (see above).
        name: the agent id stored in trajectories (default `search(<policy>)`).
    """

    def __init__(
        self,
        policy: Agent,
        env_factory: Callable[[], Any],
        value: ValueFunction | Agent | str,
        *,
        max_depth: int = 5,
        branching: int = 5,
        budget: int = 20,
        num_samples: int | None = None,
        value_samples: int = 20,
        root_prior: float = 0.5,
        commit: str = COMMIT_FIRST,
        name: str | None = None,
    ) -> None:
        if max_depth < 1 or branching < 1 or budget < 1:
            raise ValueError("max_depth, branching and budget must be >= 1")
        if commit not in (COMMIT_FIRST, COMMIT_PATH):
            raise ValueError(f"commit must be 'first' or 'path', got {commit!r}")
        self.policy = policy
        self.env_factory = env_factory
        self.value_fn = as_value_function(value, n=value_samples)
        self.max_depth = max_depth
        self.branching = branching
        self.budget = budget
        self.num_samples = num_samples if num_samples is not None else 2 * branching
        if self.num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        self.root_prior = root_prior
        self.commit = commit
        self.name = name or f"search({policy.name})"
        self._free: list[Any] = []
        self._all: list[Any] = []

    # ------------------------------------------------------------------ Agent API

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        """Search from the state `messages` leads to and return the chosen action, with this step's tree in
        `info["search_tree"]` (a list of one)."""
        out, tree, _ = await self.search(messages, tools=tools, stop=stop)
        out.info = {"search_tree": [tree]}
        return out

    def start_episode(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                      stop: Sequence[str] = ()) -> EpisodeSession:
        return SearchSession(self, messages, tools, stop)

    async def check(self) -> None:
        await self.policy.check()
        if isinstance(self.value_fn, LLMJudge) and self.value_fn.agent is not self.policy:
            await self.value_fn.agent.check()

    async def aclose(self) -> None:
        envs, self._all, self._free = self._all, [], []
        for env in envs:
            try:
                if hasattr(env, "aclose"):
                    await env.aclose()
                else:
                    env.close()
            except Exception:
                pass
        if isinstance(self.value_fn, LLMJudge) and self.value_fn.agent is not self.policy:
            await self.value_fn.agent.aclose()
        await self.policy.aclose()

    # ------------------------------------------------------------------ search

    def _acquire(self) -> Any:
        if self._free:
            return self._free.pop()
        env = self.env_factory()
        if not any(hasattr(env, a) for a in ("areplay", "replay", "areset")):
            raise AgentError(f"tree search needs an env with replay(actions, task_id); {type(env).__name__} has none")
        self._all.append(env)
        return env

    @staticmethod
    async def _replay(env: Any, actions: list[dict[str, Any]], task_id: str,
                      seed: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if hasattr(env, "areplay"):
            return await env.areplay(actions, task_id, seed=seed)
        if hasattr(env, "replay"):
            return await asyncio.to_thread(env.replay, actions, task_id, seed=seed)
        return await replay_env(env, actions, task_id, seed=seed)

    async def _candidates(self, conversation: list[dict[str, Any]], protocol: Any, tools: Any, stop: Any,
                          usage: _Usage) -> list[tuple[str, dict[str, Any], int]]:
        """`num_samples` policy samples, deduplicated, the `branching` most frequent: (key, message, count)."""
        outs = await asyncio.gather(*(self.policy.act(conversation, tools=tools, stop=stop)
                                      for _ in range(self.num_samples)))
        usage.policy_calls += len(outs)
        first: dict[str, dict[str, Any]] = {}
        counts: Counter[str] = Counter()
        for o in outs:
            usage.add(o)
            msg = {k: v for k, v in o.message.items() if k != "role"}
            msg["role"] = "assistant"
            key = action_key(msg, protocol)
            counts[key] += 1
            first.setdefault(key, msg)
        order = sorted(first, key=lambda k: -counts[k])  # stable: equal counts keep sampling order
        return [(k, first[k], counts[k]) for k in order[: self.branching]]

    async def search(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                     stop: Sequence[str] | None = None) -> tuple[AgentOutput, dict[str, Any], list[dict[str, Any]]]:
        """One step's search. Returns the output to act with, the step's tree (JSON-ready), and the best path's
        actions (messages)."""
        from agentgym.episode import current_episode

        episode = current_episode()
        if episode is None:
            raise AgentError("tree search runs inside an episode (run_episode / collect / eval): no task id here")
        conversation = [dict(m) for m in messages]
        history = [m for m in conversation if m.get("role") == "assistant"]
        usage = _Usage()
        env = self._acquire()
        try:
            protocol = getattr(_unwrapped(env), "protocol", None)
            tasks = getattr(_unwrapped(env), "tasks", None)
            try:
                task = tasks.get(episode.task_id) if tasks is not None else episode.task_id
            except KeyError:
                task = episode.task_id
            nodes: list[SearchNode] = []
            frontier: list[tuple[float, int, int, int]] = []

            def push(parent: SearchNode | None, cands: list[tuple[str, dict[str, Any], int]], prior: float) -> None:
                for rank, (key, msg, count) in enumerate(cands):
                    node = SearchNode(len(nodes), None if parent is None else parent.id,
                                      1 if parent is None else parent.depth + 1, msg, key, count, prior,
                                      rank if parent is None else parent.root_rank, rank)
                    nodes.append(node)
                    heapq.heappush(frontier, (-prior, node.root_rank, node.rank, node.id))

            def path_of(node: SearchNode) -> list[SearchNode]:
                path = [node]
                while path[-1].parent is not None:
                    path.append(nodes[path[-1].parent])
                return path[::-1]

            push(None, await self._candidates(conversation, protocol, tools, stop, usage), self.root_prior)
            best: SearchNode | None = None
            visits = 0
            while frontier and visits < self.budget:
                node = nodes[heapq.heappop(frontier)[3]]
                node.visit = visits
                visits += 1
                path = path_of(node)
                state_messages = list(conversation)
                for n in path[:-1]:
                    state_messages += [n.action, *n.observation]
                try:
                    obs, info = await self._replay(env, [*history, *(n.action for n in path)], episode.task_id,
                                                   episode.seed)
                    node.observation = [dict(m) for m in obs]
                    node.terminal = bool(info.get("terminated") or info.get("truncated"))
                    state_messages += [node.action, *node.observation]
                    node.value = float(await self.value_fn(state_messages, task))
                except AgentError:
                    raise
                except Exception as e:  # a replay or judge failure scores 0 and is kept in the tree
                    node.value, node.terminal, node.error = 0.0, True, f"{type(e).__name__}: {e}"
                if best is None or node.value > best.value:  # type: ignore[operator]
                    best = node
                if node.value >= 1.0:
                    break
                if not node.terminal and node.depth < self.max_depth:
                    push(node, await self._candidates(state_messages, protocol, tools, stop, usage), node.value)
        finally:
            self._free.append(env)
        best_path = path_of(best) if best is not None else ([nodes[0]] if nodes else [])
        if not best_path:
            raise AgentError("the policy proposed no action")
        chosen = best_path[0]
        tree = {
            "step": len(history),
            "nodes": [n.to_dict([p.key for p in path_of(n)]) for n in nodes],
            "chosen": chosen.id,
            "best": best.id if best is not None else None,
            "best_value": best.value if best is not None else None,
            "value_calls": visits,
            "policy_calls": usage.policy_calls,
        }
        out = AgentOutput(message=dict(chosen.action), prompt_tokens=usage.prompt_tokens,
                          completion_tokens=usage.completion_tokens, cost=usage.cost)
        if isinstance(self.value_fn, LLMJudge):
            judged = self.value_fn.usage
            self.value_fn.usage = []
            out.prompt_tokens += sum(o.prompt_tokens for o in judged)
            out.completion_tokens += sum(o.completion_tokens for o in judged)
            out.cost += sum(o.cost for o in judged)
        return out, tree, [n.action for n in best_path]


class SearchSession(EpisodeSession):
    """One episode of a `TreeSearchAgent`: the conversation, the trees of the steps so far, and (with
    `commit="path"`) the rest of the best path still to play."""

    def __init__(self, agent: TreeSearchAgent, messages: Sequence[dict[str, Any]],
                 tools: Sequence[dict[str, Any]] | None, stop: Sequence[str]) -> None:
        self.agent, self.tools, self.stop = agent, tools, list(stop) or None
        self.conversation = list(messages)
        self.trees: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []

    async def next(self) -> AgentOutput:
        if self.pending:
            out = AgentOutput(message=dict(self.pending.pop(0)))
        else:
            out, tree, path = await self.agent.search(self.conversation, tools=self.tools, stop=self.stop)
            self.trees.append(tree)
            if self.agent.commit == COMMIT_PATH:
                self.pending = list(path[1:])
        out.info = {"search_tree": list(self.trees)}
        return out

    def observe(self, output: AgentOutput, observation: Sequence[dict[str, Any]], context_reset: bool) -> None:
        if context_reset:
            self.conversation = list(observation)
            self.pending = []
        else:
            self.conversation += [output.message, *observation]
