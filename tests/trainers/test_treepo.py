"""TreePO: the segment-tree rollout (shape, budget transfer, fallback, stop strings, depth limit) with a
scripted engine, the real `HFEngine` on the tiny model, the tree advantage wired to the batch rows, a 2-step
training run, and the YAML."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers.algorithms.treepo import tree_advantages, tree_token_advantages
from agentgym.trainers.config import ConfigError
from agentgym.trainers.treepo import (
    PrefilledGenerator,
    TreeBranch,
    TreePOConfig,
    TreePOTrainer,
    TreeSpec,
    analytic_tree_tokens,
    children_per_branch,
    grow_trees,
)

from agentgym.models.chat_template import prompt_ids
from agentgym.models.generation import Generation, SamplingParams

ROOT = Path(__file__).resolve().parents[2]


class ScriptedEngine:
    """Every sampled token is a fresh id (so shared ids mean a shared segment); a row ends early ("stop")
    when `stops(round, row, prompt)` says so, after `stop_after` tokens."""

    def __init__(self, stops: Callable[[int, int, list[int]], bool] = lambda r, i, p: False,
                 stop_after: int = 1) -> None:
        self.stops, self.stop_after = stops, stop_after
        self.ids = itertools.count(1000)
        self.round = 0
        self.calls: list[tuple[int, int]] = []  # (rows, max_new_tokens) of each call

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[Generation]:
        self.round += 1
        self.calls.append((len(prompts), params.max_new_tokens))
        out = []
        for i, p in enumerate(prompts):
            stop = self.stops(self.round, i, list(p))
            n = min(self.stop_after, params.max_new_tokens) if stop else params.max_new_tokens
            toks = [next(self.ids) for _ in range(n)]
            out.append(Generation(toks, [-0.5] * n, "", "stop" if stop else "length", list(p)))
        return out


def check_paths_match_tokens(leaves: list[TreeBranch], distinct: bool = True) -> None:
    """A leaf's path names its segments: leaves sharing the first j nodes below the root share exactly the
    ids of their first j segments, and (`distinct`: every sampled id is new, as from `ScriptedEngine`) no more."""
    for leaf in leaves:
        assert len(leaf.path) == len(leaf.segment_ends) + 1
        assert len(leaf.token_ids) == len(leaf.logprobs) == leaf.segment_ends[-1]
    for a, b in itertools.combinations(leaves, 2):
        j = 0
        while j + 1 < min(len(a.path), len(b.path)) and a.path[j + 1] == b.path[j + 1]:
            j += 1
        n = a.segment_ends[j - 1] if j else 0
        assert a.token_ids[:n] == b.token_ids[:n]
        if distinct:
            assert len(a.token_ids) == n or len(b.token_ids) == n or a.token_ids[n] != b.token_ids[n]


def test_full_tree_shape_and_token_count() -> None:
    # S=2, d=2, B=4 leaves, 8-token budget (4 segments), nothing ends early: 2, 4, 4, 4 branches per round
    eng = ScriptedEngine()
    out = grow_trees(eng.generate_batch, [[1, 2], [3]], TreeSpec(2, 2, 4), SamplingParams(max_new_tokens=8))
    assert [rows for rows, _ in eng.calls] == [4, 8, 8, 8]  # both tasks' branches in one call per round
    assert all(size == 2 for _, size in eng.calls)
    assert out.generated_tokens == 2 * analytic_tree_tokens(2, 2, 4, 4) == 2 * 2 * (2 + 4 + 4 + 4) == 56
    assert out.tokens_per_leaf == 7.0 and out.num_leaves == 8  # independent sampling: 8 tokens per leaf
    assert out.resent_tokens == 2 * (0 * 2 + 2 * 4 + 4 * 4 + 6 * 4)  # each round re-sends the ids sampled so far
    for leaves in out.leaves:
        assert len(leaves) == 4 and {x.finish_reason for x in leaves} == {"length"}
        assert all(len(x.path) == 5 and len(x.token_ids) == 8 for x in leaves)
        # the root's two children split the leaves 2 + 2, and each node of depth >= 2 has one leaf
        assert sorted(list(map(lambda x: x.path[1], leaves)).count(p) for p in {x.path[1] for x in leaves}) == [2, 2]
        assert len({x.path[2] for x in leaves}) == 4
        check_paths_match_tokens(leaves)
    assert {x.path[0] for x in out.leaves[0]} != {x.path[0] for x in out.leaves[1]}
    # a task whose prompt left no room for a turn gets no tree (its episodes end truncated in the loop)
    out = grow_trees(ScriptedEngine().generate_batch, [[1], [2]], TreeSpec(2, 2, 4), SamplingParams(),
                     budgets=[0, 4])
    assert out.leaves[0] == [] and len(out.leaves[1]) == 4


def test_children_per_branch_budget_transfer() -> None:
    assert children_per_branch(2, 8, 0, 2) == [2, 2]
    assert children_per_branch(4, 8, 0, 2) == [2, 2, 2, 2]
    assert children_per_branch(8, 8, 0, 2) == [1] * 8          # the budget is reached: no more branching
    assert children_per_branch(1, 3, 1, 2) == [3]               # a finished sibling's share moves over
    assert children_per_branch(3, 5, 0, 2) == [2, 2, 1]         # the remainder to the first branches
    assert children_per_branch(0, 4, 2, 2) == []


def test_a_branch_that_ends_early_passes_its_budget_to_its_sibling() -> None:
    # round 1: row 0 stops after 1 token; the survivor gets min(4 - 1, 2 * 1 + 2 * 1) = 3 children
    eng = ScriptedEngine(lambda r, i, p: r == 1 and i == 0)
    out = grow_trees(eng.generate_batch, [[1]], TreeSpec(2, 2, 4), SamplingParams(max_new_tokens=6))
    assert [rows for rows, _ in eng.calls] == [2, 3, 3]
    leaves = out.leaves[0]
    assert len(leaves) == 4 and out.fallbacks == 0
    early = [x for x in leaves if x.finish_reason == "stop"]
    assert len(early) == 1 and len(early[0].token_ids) == 1 and len(early[0].path) == 2
    assert len({x.path[1] for x in leaves if x.finish_reason == "length"}) == 1
    assert out.generated_tokens == 1 + 2 + 3 * 2 + 3 * 2
    check_paths_match_tokens(leaves)


def test_fallback_rebranches_finished_leaves_when_every_branch_ended_early() -> None:
    # rounds 1 and 2: every branch stops at once; the budget is refilled from the finished leaves
    eng = ScriptedEngine(lambda r, i, p: r <= 2)
    out = grow_trees(eng.generate_batch, [[1]], TreeSpec(2, 2, 4), SamplingParams(max_new_tokens=6))
    leaves = out.leaves[0]
    assert len(leaves) == 4 and out.fallbacks == 1
    assert [rows for rows, _ in eng.calls] == [2, 2]
    # every leaf stopped after one segment, so the fallback re-branched from the root
    assert all(len(x.path) == 2 and x.finish_reason == "stop" for x in leaves)
    check_paths_match_tokens(leaves)
    # without fallback the tree keeps its two early leaves
    eng = ScriptedEngine(lambda r, i, p: r <= 2)
    assert len(grow_trees(eng.generate_batch, [[1]], TreeSpec(2, 2, 4, fallback=False),
                          SamplingParams(max_new_tokens=6)).leaves[0]) == 2


def test_fallback_cuts_at_a_segment_boundary_and_keeps_the_prefix() -> None:
    # every branch stops in its 2nd segment (prompt = root + 2 tokens of segment 1) until 6 leaves exist
    def stops(r: int, i: int, p: list[int]) -> bool:
        return len(p) >= 3

    eng = ScriptedEngine(stops)
    out = grow_trees(eng.generate_batch, [[1]], TreeSpec(2, 2, 6), SamplingParams(max_new_tokens=10),
                     rng=random.Random(3))
    leaves = out.leaves[0]
    assert len(leaves) == 6 and out.fallbacks >= 1
    check_paths_match_tokens(leaves)
    # a branch cut after its first segment re-uses that segment's ids: some leaves share a depth-1 node
    # with a leaf of an earlier round; all stop after a 2-token + 1-token path or a 1-token re-branch
    assert {len(x.token_ids) for x in leaves} <= {1, 3}
    assert max(sum(1 for y in leaves if y.path[:2] == x.path[:2]) for x in leaves) >= 2


def test_stop_string_across_a_segment_boundary_and_depth_limit() -> None:
    vocab = {10: "a", 11: "<", 12: "/a>", 13: "b"}

    def generate(prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[Generation]:
        # segment 1: "a<", segment 2: "/a>bb" (the stop "</a>" spans the boundary), then "bb"
        out = []
        for p in prompts:
            toks = [10, 11] if len(p) == 1 else [12, 13]
            out.append(Generation(toks, [-1.0, -1.0], "", "length", list(p)))
        return out

    def decode(ids: list[int]) -> str:
        return "".join(vocab[i] for i in ids)

    out = grow_trees(generate, [[1]], TreeSpec(2, 1, 1), SamplingParams(max_new_tokens=20), stops=[("</a>",)],
                     decode=decode)
    (leaf,) = out.leaves[0]
    assert leaf.token_ids == [10, 11, 12] and leaf.finish_reason == "stop" and leaf.text == "a</a>"
    assert out.generated_tokens == 4  # the cut "b" was generated all the same
    with pytest.raises(ValueError, match="decode"):
        grow_trees(generate, [[1]], TreeSpec(2, 1, 1), SamplingParams(stop=("</a>",)))
    # max_depth: a leaf ends after 2 segments even with budget left
    eng = ScriptedEngine()
    out = grow_trees(eng.generate_batch, [[1]], TreeSpec(3, 2, 2, max_depth=2), SamplingParams(max_new_tokens=30))
    assert {x.finish_reason for x in out.leaves[0]} == {"max_depth"}
    assert all(len(x.token_ids) == 6 for x in out.leaves[0])


def test_hf_engine_tree_shares_prefixes_and_counts_tokens() -> None:
    from agentgym.trainers.engines.hf import HFEngine

    tok = tiny_tokenizer()
    engine = HFEngine(tiny_model(tok), tok, seed=0)
    prompt = prompt_ids(tok, [{"role": "user", "content": "go"}])
    params = SamplingParams(max_new_tokens=12, ignore_eos=True)
    out = grow_trees(engine.generate_batch, [prompt, prompt], TreeSpec(3, 2, 4), params)
    assert out.generated_tokens == 2 * analytic_tree_tokens(3, 2, 4, 4) == 2 * 3 * (2 + 4 + 4 + 4)
    for leaves in out.leaves:
        assert len(leaves) == 4 and all(len(x.token_ids) == 12 for x in leaves)
        check_paths_match_tokens(leaves, distinct=False)  # a 20-token vocabulary: siblings may agree by chance
        # the engine's sampling log-probs are kept per token, finite and negative
        assert all(len(x.logprobs) == 12 and all(lp <= 0 for lp in x.logprobs) for x in leaves)


def test_prefilled_generator_checks_the_prompt() -> None:
    import asyncio

    from agentgym.episode import _EPISODE, EpisodeContext

    gen = Generation([5], [-0.1], "x", "stop", [1, 2])
    pre = PrefilledGenerator(None, {("t", 0): gen})

    async def first(prompt: list[int]) -> Generation:
        token = _EPISODE.set(EpisodeContext("t", "", 0, None))
        try:
            return await pre.generate(prompt, SamplingParams())
        finally:
            _EPISODE.reset(token)

    assert asyncio.run(first([1, 2])) is gen
    pre = PrefilledGenerator(None, {("t", 0): gen})
    with pytest.raises(RuntimeError, match="opening prompt"):
        asyncio.run(first([1, 3]))


def test_tree_token_advantages_with_several_rows_per_leaf() -> None:
    # leaf 0 spans rows 0 and 1 (a context reset); leaves as in the 4-leaf hand-computed case
    paths = [("T", "a", "a1"), ("T", "a", "a2"), ("T", "b", "b1"), ("T", "b", "b2")]
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    mask = torch.ones(5, 2)
    adv = tree_token_advantages(rewards, paths, mask, rows=torch.tensor([0, 0, 1, 2, 3]))
    per_leaf = torch.tensor([4 / 6, -2 / 6, -1 / 6, -1 / 6])[[0, 0, 1, 2, 3]]
    m = per_leaf.repeat_interleave(2)
    assert torch.allclose(adv.flatten(), (m - m.mean()) / m.std(), atol=1e-5)
    with pytest.raises(ValueError, match="rows"):
        tree_token_advantages(rewards, paths, mask)


class ToolFirstEnv(KeyEnv):
    """KeyEnv whose first turn always gets the tool's answer back: every episode has a second turn."""

    async def astep(self, action: str | dict[str, object]):  # type: ignore[override]
        if self.turn == 0:
            self.turn = 1
            return [{"role": "tool", "content": "key seven"}], 0.2, False, False, {"tool_calls": ["lookup"]}
        return await super().astep(action)


def _trainer(env: object = KeyEnv, **cfg: object) -> TreePOTrainer:
    tok = tiny_tokenizer()
    config = TreePOConfig(**{"steps": 2, "tasks_per_step": 2, "group_size": 4, "segment_tokens": 2, "branching": 2,
                             "max_new_tokens": 6, "max_length": 64, "learning_rate": 1e-2, "micro_batch_size": 8,
                             "report_to": [], "device": "cpu", "seed": 0, **cfg})
    return TreePOTrainer(tiny_model(tok), env, config, tokenizer=tok)


def test_trainer_rows_get_the_tree_advantage_of_their_leaf() -> None:
    trainer = _trainer()
    rollout = trainer.collect()
    trajs = [t for g in rollout.groups for t in g.trajectories]
    assert len(rollout.groups) == 2 and all(len(g.trajectories) == 4 for g in rollout.groups)
    assert rollout.stats["tree_leaves"] == 8 and rollout.stats["tree_tokens_per_leaf"] > 0
    for t in trajs:
        first = t.turns[0]
        # the leaf is the episode's first turn, recorded with the exact prompt the tree was grown from
        assert first.context_ids == prompt_ids(trainer.tokenizer, [{"role": "user", "content": "go"}])
        assert len(first.token_ids) == len(first.logprobs) <= 6
        assert len(t.info["tree_path"]) >= 2
    # different tasks never share a root
    assert len({t.info["tree_path"][0] for t in trajs}) == 2
    # give the leaves rewards that differ (the random model's own are mostly equal), then build the batch
    rewards = [float(i % 3 == 0) for i in range(len(trajs))]
    for t, r in zip(trajs, rewards, strict=True):
        for turn in t.turns:
            turn.reward = 0.0
        t.turns[-1].reward = t.reward = r
    batch = trainer.build_batch(trajs)
    adv, _ = trainer.compute_advantages(batch)
    leaf = tree_advantages(torch.tensor(rewards), [t.info["tree_path"] for t in trajs]).double()
    # whitened by hand over the policy tokens: row i holds n_i tokens of value leaf_i
    n = batch.loss_mask.sum(-1).double()
    mean = (n * leaf).sum() / n.sum()
    var = (n * (leaf - mean) ** 2).sum() / (n.sum() - 1)
    per_row = (leaf - mean) / torch.sqrt(var + 1e-8)
    m = batch.loss_mask.bool()
    assert torch.allclose(adv, (per_row[:, None] * m).float(), atol=1e-5)
    assert (adv[~m] == 0).all() and float(leaf.abs().sum()) > 0


def test_two_training_steps_update_the_policy() -> None:
    trainer = _trainer(ToolFirstEnv, skip_zero_advantages=False)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    history = trainer.train(steps=2)
    assert len(history) == 2 and all(h["tree_leaves"] == 8 for h in history)
    assert all(h["updates"] >= 1 for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))
    # every leaf went on to a second turn, sampled by the engine through the episode loop after the tool's
    # answer; the first turn is the leaf, recorded with the tree's prompt
    episodes = trainer.sampled_episodes
    assert len(episodes) == 8 and all(t.num_turns == 2 for t in episodes)
    assert all(t.turns[1].context_ids and t.turns[1].token_ids and t.turns[1].logprobs for t in episodes)
    assert all(len(t.turns[0].token_ids) <= 6 for t in episodes)
    # evaluation plays independent greedy episodes
    assert 0.0 <= trainer.evaluate(n=2)["success"] <= 1.0


def test_config_and_yaml() -> None:
    from agentgym.trainers.registry import TRAINERS, load_run_spec

    assert TRAINERS["treepo"] is TreePOTrainer
    spec = load_run_spec(ROOT / "examples/configs/treepo_arithmetic.yaml", ["steps=3"])
    assert spec.trainer_class is TreePOTrainer and isinstance(spec.config, TreePOConfig)
    assert spec.config.steps == 3 and spec.config.advantage == "treepo"
    assert spec.config.tree_spec == TreeSpec(spec.config.segment_tokens, spec.config.branching,
                                             spec.config.group_size, spec.config.max_depth, True)
    with pytest.raises(ConfigError, match="branching"):
        TreePOConfig(branching=0)
    with pytest.raises(ConfigError, match="tree_weighting"):
        TreePOConfig(tree_weighting="max")
    with pytest.raises(ConfigError, match="advantage"):  # only TreePO can feed the tree estimator
        from agentgym.trainers import GRPOConfig

        GRPOConfig(advantage="treepo")
