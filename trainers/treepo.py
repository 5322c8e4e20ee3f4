"""`TreePOTrainer`: TreePO (Li et al. 2025, arXiv 2508.17445), rollouts grown as segment trees and scored with
the tree advantage.

**Segment-tree rollout** (`grow_trees`). Each task's first assistant turn is sampled segment by segment:
every alive branch generates at most S = `segment_tokens` tokens per round, all tasks' branches in one
`generate_batch` call of the rollout engine (siblings have the same prompt, so the engine prefills it once).
The root first gets d = `branching` children. After each round, per task, with B = `group_size` leaves to
reach, L the leaves finished so far, a the branches still alive and f the leaves that finished this round,

    children this round = min(B - L, d * a + d * f)                  (the authors' "budget transfer")

spread evenly over the alive branches (each keeps at least one child, since a <= B - L always holds). A
branch ends as a leaf at EOS or a stop string (the env's answer tags: the early stop at the answer), at its
turn's token budget, or at `max_depth` segments. **Fallback**: when a task has no alive branch but fewer
than B leaves, finished leaves (stopped ones first, random order among equals) are cut back to a random
segment boundary and re-branched, d children each, until the budget is filled again.

Each leaf is a node path (root id, then one id per segment; a node's children get new ids, even an only
child, as in the authors' code). Every leaf's first turn then goes through the one episode loop
(`agentgym.episode.run_episode`) as the episode's first generation (`PrefilledGenerator`); later turns of a
multi-turn env are sampled by the engine as usual. So the trajectory records exactly the ids sampled, and
`build_batch` works unchanged. The path is kept in `Trajectory.info["tree_path"]`.

**Tree advantage** (`algorithms/treepo.py`): for each leaf, the subgroup-size-weighted mean over depths of
(reward - mean reward of the leaves sharing its first segments), then whitened over the batch's policy tokens.

Faithfulness (the authors' `recipe/treepo/vllm_rollout_tree.py`, read for facts):
- The authors' rollout forces an answer at the depth limit or near the length limit by appending
  "<answer>" tokens the policy did not sample (with stand-in log-probs). Here no token is ever inserted: a
  branch that hits the limit is a length-truncated leaf, because the token view trains only on sampled ids.
- Their fallback cuts a finished leaf at a random `<step>` tag (or a random token when there is none) and
  keeps its full tree index; here the cut is at a random segment boundary and the path is cut with it, so
  the path always names the segments the tokens came from.
- Their split of the children gives every alive path `total // a` and the last one the remainder (which
  can starve all but one path when `total < a`); here the remainder goes one each to the first branches.
  Under the budget rule above `total >= a` always, so no branch is ever pruned either way.
- Multi-turn envs: the paper segments single responses. Here only the first assistant turn is a tree; a
  leaf's later turns (after tool results) are sampled independently through the episode loop.
- Shapers' prompt changes (`ShaperPrompt`) are not applied to tree rollouts: siblings must share one prompt.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from agentgym.trainers.algorithms.registry import register_advantage
from agentgym.trainers.algorithms.treepo import WEIGHTINGS, tree_token_advantages
from agentgym.trainers.base import RLTrainer, Rollout
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.episodes import engine_policy

from agentgym.agents.token_agent import TokenAgent
from agentgym.episode import current_episode, run_episodes
from agentgym.models.context import ContextWindowExceeded
from agentgym.models.generation import Generation, SamplingParams
from agentgym.trajectory import Trajectory

__all__ = ["PrefilledGenerator", "TreeBranch", "TreePOConfig", "TreePOTrainer", "TreeRollout", "TreeSpec",
           "analytic_tree_tokens", "children_per_branch", "grow_trees", "open_tasks"]

GenerateFn = Callable[[Sequence[Sequence[int]], SamplingParams], list[Generation]]
# finish reasons, most wanted first when the fallback picks leaves to re-branch
FINISH_PRIORITY = {"stop": 0, "length": 1, "max_depth": 2}


# ---------------------------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class TreeSpec:
    """Shape of the segment trees: S = `segment_tokens`, d = `branching`, B = `leaves` per task, at most
    `max_depth` segments per leaf (None: until the turn's token budget), `fallback` re-branching."""

    segment_tokens: int
    branching: int
    leaves: int
    max_depth: int | None = None
    fallback: bool = True


@dataclass
class TreeBranch:
    """An alive branch or a finished leaf: its node path (root first), the ids sampled along it, their
    log-probs, the token count at the end of each segment, and why it ended (None while alive)."""

    task: int
    path: tuple[Hashable, ...]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    segment_ends: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    text: str = ""

    def child(self, node: Hashable) -> TreeBranch:
        return TreeBranch(self.task, (*self.path, node), list(self.token_ids), list(self.logprobs),
                          list(self.segment_ends))

    def cut(self, segments: int) -> TreeBranch:
        """This branch's first `segments` segments, alive again (the fallback's re-branching point)."""
        n = self.segment_ends[segments - 1] if segments else 0
        return TreeBranch(self.task, self.path[: segments + 1], self.token_ids[:n], self.logprobs[:n],
                          self.segment_ends[:segments])


@dataclass
class TreeRollout:
    """What `grow_trees` returns: each task's leaves, and what generating them cost."""

    leaves: list[list[TreeBranch]]
    generated_tokens: int = 0      # every id the engine sampled, including tails cut at a stop string
    rounds: int = 0                # generate_batch rounds (one segment each)
    fallbacks: int = 0             # re-branchings from finished leaves
    rows: int = 0                  # segment generations requested
    resent_tokens: int = 0         # already-sampled ids sent back as prompt (an engine without a prefix
    #                                cache across calls prefills them again: HFEngine, once per distinct prompt)

    @property
    def num_leaves(self) -> int:
        return sum(len(x) for x in self.leaves)

    @property
    def tokens_per_leaf(self) -> float:
        return self.generated_tokens / max(self.num_leaves, 1)


def children_per_branch(alive: int, room: int, finished_now: int, branching: int) -> list[int]:
    """How many children each of `alive` branches gets this round:

        total = min(room, d * alive + d * finished_now)       (room = B - leaves finished so far)

    spread evenly, the remainder one each to the first branches (zero children prunes a branch)."""
    if alive == 0:
        return []
    total = max(0, min(room, branching * (alive + finished_now)))
    base, extra = divmod(total, alive)
    return [base + (1 if i < extra else 0) for i in range(alive)]


def _first_stop(tokens: list[int], start: int, stop: Sequence[str], decode: Callable[[list[int]], str],
                lookback: int = 16) -> int | None:
    """Token count at which a stop string first appears when it straddles a segment boundary (the engine
    checks stop strings within one call only): the smallest k > start with a stop in the decoded tail of
    `tokens[:k]`, or None."""
    if not stop:
        return None
    lo = max(0, start - lookback)
    before = decode(tokens[lo:start])
    if not any(s in decode(tokens[lo:]) for s in stop):
        return None
    for k in range(start + 1, len(tokens) + 1):
        tail = decode(tokens[lo:k])
        if any(s in tail and s not in before for s in stop):
            return k
    return None


def grow_trees(
    generate: GenerateFn,
    prompts: Sequence[Sequence[int]],
    spec: TreeSpec,
    params: SamplingParams,
    *,
    budgets: Sequence[int] | None = None,
    stops: Sequence[Sequence[str]] | None = None,
    decode: Callable[[list[int]], str] | None = None,
    node_ids: Iterator[Hashable] | None = None,
    rng: random.Random | None = None,
) -> TreeRollout:
    """Grow one segment tree per prompt (see the module docstring) and return each task's leaves.

    Args:
        generate: `engine.generate_batch(prompts, params)`: one `Generation` per prompt.
        prompts: each task's prompt ids (its root).
        spec: segment length, branching factor, leaves per task, depth limit, fallback.
        params: sampling settings (temperature, top-p); `max_new_tokens` is the default per-task budget.
        budgets: tokens each task's turn may generate in all (default `params.max_new_tokens`); a task with
            no budget gets no leaves.
        stops: each task's stop strings (default `params.stop`); a leaf ends at the first one.
        decode: token ids -> text (checks stop strings across segment boundaries; needed with stops).
        node_ids: where node ids come from (default 0, 1, 2, ...; pass a shared counter to keep ids unique
            over several calls). The root's id is drawn from it too.
        rng: the fallback's random choices.
    """
    if spec.segment_tokens < 1 or spec.branching < 1 or spec.leaves < 1:
        raise ValueError(f"segment_tokens, branching and leaves must be >= 1, got {spec}")
    n = len(prompts)
    ids = node_ids if node_ids is not None else itertools.count()
    rng = rng or random.Random(0)
    budgets = list(budgets) if budgets is not None else [params.max_new_tokens] * n
    stops = [tuple(s) for s in stops] if stops is not None else [tuple(params.stop)] * n
    if decode is None and any(stops):
        raise ValueError("stop strings need `decode` to be checked across segment boundaries")
    out = TreeRollout(leaves=[[] for _ in range(n)])
    roots = [TreeBranch(t, (next(ids),)) for t in range(n)]
    alive = [roots[t].child(next(ids)) for t in range(n) if budgets[t] > 0
             for _ in range(min(spec.branching, spec.leaves))]
    while alive:
        # 1. one segment for every alive branch (rows grouped by their sampling settings)
        out.rounds += 1
        out.rows += len(alive)
        out.resent_tokens += sum(len(b.token_ids) for b in alive)
        calls: dict[tuple[int, tuple[str, ...]], list[int]] = defaultdict(list)
        for i, b in enumerate(alive):
            calls[(min(spec.segment_tokens, budgets[b.task] - len(b.token_ids)), stops[b.task])].append(i)
        gens: list[Generation | None] = [None] * len(alive)
        for (size, stop), rows in calls.items():
            got = generate([list(prompts[alive[i].task]) + alive[i].token_ids for i in rows],
                           replace(params, max_new_tokens=size, stop=stop))
            for i, g in zip(rows, got, strict=True):
                gens[i] = g
        # 2. extend; a branch that stopped, used its budget or reached the depth limit is a leaf
        finished_now: dict[int, int] = defaultdict(int)
        survivors: dict[int, list[TreeBranch]] = defaultdict(list)
        for b, g in zip(alive, gens, strict=True):
            assert g is not None
            out.generated_tokens += len(g.token_ids)
            start = len(b.token_ids)
            b.token_ids += list(g.token_ids)
            b.logprobs += list(g.logprobs)
            stopped = g.finish_reason == "stop"
            if not stopped and stops[b.task] and decode is not None:
                k = _first_stop(b.token_ids, start, stops[b.task], decode)
                if k is not None:
                    del b.token_ids[k:], b.logprobs[k:]
                    stopped = True
            b.segment_ends.append(len(b.token_ids))
            if stopped:
                b.finish_reason = "stop"
            elif len(b.token_ids) >= budgets[b.task] or not g.token_ids:
                b.finish_reason = "length"
            elif spec.max_depth is not None and len(b.segment_ends) >= spec.max_depth:
                b.finish_reason = "max_depth"
            if b.finish_reason is not None:
                out.leaves[b.task].append(b)
                finished_now[b.task] += 1
            else:
                survivors[b.task].append(b)
        # 3. branch the survivors within the leaf budget; fall back to finished leaves when none is left
        alive = []
        for t in range(n):
            room = spec.leaves - len(out.leaves[t])
            here = survivors.get(t, [])
            if here:
                for b, k in zip(here, children_per_branch(len(here), room, finished_now[t], spec.branching),
                                strict=True):
                    alive += [b.child(next(ids)) for _ in range(k)]
            elif room > 0 and spec.fallback and out.leaves[t]:
                order = sorted(out.leaves[t], key=lambda x: (FINISH_PRIORITY.get(x.finish_reason or "", 9),
                                                             rng.random()))
                for leaf in order:
                    if room <= 0:
                        break
                    point = leaf.cut(rng.randrange(len(leaf.segment_ends)))
                    k = min(spec.branching, room)
                    alive += [point.child(next(ids)) for _ in range(k)]
                    room -= k
                    out.fallbacks += 1
    if decode is not None:
        for leaves in out.leaves:
            for leaf in leaves:
                leaf.text = decode(leaf.token_ids)
    return out


# ---------------------------------------------------------------------------------------------- episodes


async def open_tasks(env: Any, agent: TokenAgent, task_ids: Sequence[str]) -> tuple[
        list[list[int]], list[int], list[tuple[str, ...]]]:
    """Each task's opening prompt ids, first-turn token budget (0: the prompt leaves no room) and stop
    strings, exactly as its episodes will see them (the env reset as `run_episode` resets it, the prompt
    built by the agent's session)."""
    prompts, budgets, stops = [], [], []
    for tid in task_ids:
        messages, info = await env.areset(options={"task_id": tid})
        tools = info.get("tools") if info.get("protocol") == "native" else None
        session = agent.start_episode(messages, tools=tools, stop=tuple(info.get("stop") or ()))
        prompts.append(list(session.ids))
        try:
            budgets.append(agent.completion_budget(len(session.ids)))
        except ContextWindowExceeded:  # no room for a turn: the episode loop ends these episodes truncated
            budgets.append(0)
        stops.append(tuple(session.stop))
    return prompts, budgets, stops


class PrefilledGenerator:
    """A `TokenGenerator` whose first generation in each episode is given (a tree leaf): the episode loop
    plays the leaf's first turn exactly as sampled, and later turns come from `engine`.

    `first[(task_id, sample_index)]` is that episode's first `Generation`; the prompt the episode asks with
    must equal the leaf's `prompt_token_ids` (the env opened the same way), or it raises.
    """

    def __init__(self, engine: Any, first: dict[tuple[str, int], Generation]) -> None:
        self.engine, self.first = engine, dict(first)

    async def generate(self, prompt: Sequence[int], params: SamplingParams) -> Generation:
        ep = current_episode()
        key = (ep.task_id, ep.sample_index) if ep is not None else None
        if key is not None and key in self.first:
            gen = self.first.pop(key)
            if list(prompt) != list(gen.prompt_token_ids):
                raise RuntimeError(f"episode {key}: the env's opening prompt differs from the tree's root prompt "
                                   "(TreePO needs envs that open a task the same way every time)")
            return gen
        return await self.engine.generate(prompt, params)


# ---------------------------------------------------------------------------------------------- trainer


@register_advantage("treepo", outcome=True, group_baseline=True, requires="tree paths (TreePOTrainer)")
def _treepo_estimator(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """TreePO: subgroup-size-weighted (reward - mean of the leaves sharing each prefix of segments), whitened
    over the batch (computed by `TreePOTrainer.compute_advantages`, which holds the leaves' paths)."""
    raise ValueError("advantage='treepo' needs the tree paths of TreePOTrainer's segment-tree rollouts")


@dataclass
class TreePOConfig(RLConfig):
    """TreePO: segment-tree rollouts and the tree advantage.

    `segment_tokens` (S) tokens per segment, `branching` (d) children per node, `group_size` leaves per task
    (the tree's budget), `max_depth` segments at most (None: until `max_new_tokens`), `fallback` re-branching
    from finished leaves when every branch ended early. `tree_weighting`: "group_size" (the authors' code)
    or "mean" over depths; `skip_constant_subgroups` drops subgroups whose rewards are all equal.
    Loss defaults follow the authors' recipe (PPO clip 0.2/0.28, token-mean, no KL).
    """

    allowed_advantages: ClassVar[tuple[str, ...]] = ("treepo",)
    advantage: str = "treepo"
    segment_tokens: int = 64
    branching: int = 2
    max_depth: int | None = None
    fallback: bool = True
    tree_weighting: str = "group_size"
    skip_constant_subgroups: bool = False
    clip_high: float | None = 0.28

    def validate(self) -> None:
        super().validate()
        for k in ("segment_tokens", "branching"):
            if getattr(self, k) < 1:
                self._fail(k, "must be >= 1")
        if self.max_depth is not None and self.max_depth < 1:
            self._fail("max_depth", "must be >= 1 (or null: until max_new_tokens)")
        self._choice("tree_weighting", WEIGHTINGS)

    @property
    def tree_spec(self) -> TreeSpec:
        return TreeSpec(self.segment_tokens, self.branching, self.group_size, self.max_depth, self.fallback)


class TreePOTrainer(RLTrainer):
    """TreePO on a `LanguageEnv` (see the module docstring): training rollouts are segment trees, the
    advantage is the tree advantage; evaluation and everything else is `RLTrainer`'s."""

    config_class: ClassVar[type[RLConfig]] = TreePOConfig
    name: ClassVar[str] = "treepo"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.rollout_pool is not None:
            raise ValueError("TreePOTrainer grows its trees with the trainer's own engine; rollout_workers "
                             "is not supported")
        self._node_ids = itertools.count()
        self._tree_rng = random.Random(self.config.seed + self.dp.rank)
        self._tree_stats: dict[str, float] = {}
        self._batch_paths: list[tuple[Hashable, ...]] = []

    async def rollout(self, task_ids: Sequence[str], group_size: int | None = None,
                      temperature: float | None = None, training: bool = False) -> list[list[Trajectory]]:
        """Training: one segment tree per task (`group_size` leaves), each leaf played to the end through
        the episode loop. Evaluation (and any call with `training=False`): independent episodes."""
        if not training:
            return await super().rollout(task_ids, group_size, temperature, training)
        cfg = self.config
        assert isinstance(cfg, TreePOConfig)
        params = self._params(temperature)
        agent = engine_policy(self.engine, params, cfg.max_length)
        prompts, budgets, stops = await open_tasks(self._envs[0], agent, task_ids)
        spec = replace(cfg.tree_spec, leaves=group_size or cfg.group_size)
        tok = self.tokenizer
        trees = grow_trees(self.engine.generate_batch, prompts, spec, params, budgets=budgets, stops=stops,
                           decode=lambda ids: tok.decode(ids, skip_special_tokens=True), node_ids=self._node_ids,
                           rng=self._tree_rng)
        first: dict[tuple[str, int], Generation] = {}
        jobs: list[tuple[str, int]] = []
        paths: dict[tuple[str, int], tuple[Hashable, ...]] = {}
        size = spec.leaves
        for tid, prompt, leaves in zip(task_ids, prompts, trees.leaves, strict=True):
            if not leaves:  # a prompt with no room left: ordinary episodes, which end truncated at once
                jobs += [(tid, k) for k in range(size)]
                paths.update({(tid, k): (f"untreed:{tid}", k) for k in range(size)})
            for k, leaf in enumerate(leaves):
                reason = "stop" if leaf.finish_reason == "stop" else "length"
                first[(tid, k)] = Generation(list(leaf.token_ids), list(leaf.logprobs), leaf.text, reason,
                                             prompt_token_ids=list(prompt))
                jobs.append((tid, k))
                paths[(tid, k)] = leaf.path
        policy = TokenAgent(PrefilledGenerator(self.engine, first), self.tokenizer, params,
                            context_window=self.engine.context_window, max_length=cfg.max_length)
        done = await run_episodes(self.make_env, policy, jobs, concurrency=cfg.concurrency, env_id=self.env_id,
                                  envs=self._envs)
        groups: dict[str, list[Trajectory]] = defaultdict(list)
        for (tid, k), traj in zip(jobs, done, strict=True):
            if traj is not None:
                traj.info["tree_path"] = list(paths[(tid, k)])
                groups[tid].append(traj)
        leaves = max(trees.num_leaves, 1)
        stats = {"tree_leaves": float(trees.num_leaves), "tree_generated_tokens": float(trees.generated_tokens),
                 "tree_tokens_per_leaf": trees.generated_tokens / leaves,
                 "tree_leaf_length": sum(len(x.token_ids) for g in trees.leaves for x in g) / leaves,
                 "tree_rounds": float(trees.rounds), "tree_fallbacks": float(trees.fallbacks)}
        for key, v in stats.items():  # summed over the step's rollout calls, averaged per call at the end
            self._tree_stats[key] = self._tree_stats.get(key, 0.0) + v
        self._tree_stats["_calls"] = self._tree_stats.get("_calls", 0.0) + 1
        return [groups.get(tid, []) for tid in task_ids]

    async def acollect(self) -> Rollout:
        self._tree_stats = {}
        rollout = await super().acollect()
        calls = self._tree_stats.pop("_calls", 0.0)
        if calls:
            rollout.stats.update({k: v / calls for k, v in self._tree_stats.items()})
        return rollout

    def extra_state(self) -> dict[str, Any]:
        return {"tree_rng": self._tree_rng.getstate()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "tree_rng" in state:
            self._tree_rng.setstate(state["tree_rng"])

    def build_batch(self, trajectories: list[Trajectory]) -> TokenBatch:
        """The usual token view; remembers each episode's tree path for `compute_advantages`."""
        batch = super().build_batch(trajectories)
        self._batch_paths = [tuple(t.info.get("tree_path") or (t.task_id, t.sample_index)) for t in trajectories]
        return batch

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """A_{row,t} = whiten(A_leaf(row)) on its policy tokens, A_leaf the tree advantage of the row's
        episode (reward: the sum of the episode's rewards over its rows). Returns `(A, A)`."""
        cfg = self.config
        assert isinstance(cfg, TreePOConfig) and batch.episode_index is not None
        n = len(self._batch_paths)
        episodes = batch.episode_index.long()
        if n == 0 or int(episodes.max()) >= n:
            raise ValueError("compute_advantages needs the batch built by this trainer's build_batch")
        rewards = torch.zeros(n, dtype=torch.float32).index_add_(0, episodes, batch.token_rewards.sum(-1).float())
        adv = tree_token_advantages(rewards, self._batch_paths, batch.loss_mask, weighting=cfg.tree_weighting,
                                    skip_constant=cfg.skip_constant_subgroups, rows=episodes).float()
        return adv, adv


def analytic_tree_tokens(segment_tokens: int, branching: int, leaves: int, depth: int) -> int:
    """Tokens one tree samples when no branch ends before `depth` segments (fixed-length segments):
    sum over rounds r = 1..depth of S * min(B, d^r)."""
    return sum(segment_tokens * min(leaves, branching ** r) for r in range(1, depth + 1))
