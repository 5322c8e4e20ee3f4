"""REX-RAG: the prompt-pool distribution, the mixture log-prob, the corrected loss and the probe filter on
hand-computed cases; probes built from failed episodes of the tiny key env; a 2-step run; the run file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import RexRagConfig, RexRagTrainer
from agentgym.trainers.algorithms.losses import ppo_clip_loss
from agentgym.trainers.algorithms.registry import get_policy_loss
from agentgym.trainers.algorithms.rexrag import (
    PromptPool,
    inserted_weights,
    mixture_logprob,
    mixture_logprobs,
    probe_share,
    rexrag_policy_loss,
    select_probes,
)
from agentgym.trainers.config import ConfigError
from agentgym.trainers.modeling import score_tokens
from agentgym.trainers.registry import load_run_spec
from agentgym.trainers.rexrag import PROBE_INFO, cut_before_answer, inserted_span

HERE = Path(__file__).resolve().parent
L = math.log


# ------------------------------------------------------------------ pure functions, by hand


def test_prompt_pool_is_the_empirical_next_token_distribution_of_the_pool() -> None:
    pool = PromptPool([[1, 2, 3], [1, 2, 4], [1, 5], [6]])
    assert pool.prob([], 1) == 3 / 4 and pool.prob([], 6) == 1 / 4 and pool.prob([], 2) == 0
    assert pool.prob([1], 2) == 2 / 3 and pool.prob([1], 5) == 1 / 3
    assert pool.prob([1, 2], 3) == 1 / 2 and pool.prob([1, 2], 4) == 1 / 2
    assert pool.prob([1, 2, 3], 4) == 0 and pool.prob([7], 1) == 0  # past a prompt's end, off the trie
    assert pool.logprobs([1, 2, 3]) == pytest.approx([L(3 / 4), L(2 / 3), L(1 / 2)])
    assert pool.logprobs([1, 9]) == [pytest.approx(L(3 / 4)), -math.inf]
    assert PromptPool([[1, 2], [1, 2], [1, 3]]).prob([1], 2) == 2 / 3  # duplicates weigh as often drawn
    with pytest.raises(ValueError):
        PromptPool([[1], []])


def test_mixture_logprob_by_hand_and_at_the_edges() -> None:
    old, mu = torch.tensor([L(0.2)]), torch.tensor([0.0])  # pi_old 0.2, mu 1
    assert float(mixture_logprob(old, mu, 0.25)) == pytest.approx(L(0.75 * 0.2 + 0.25 * 1.0))  # log 0.4
    assert float(mixture_logprob(old, mu, 0.0)) == pytest.approx(L(0.2))
    assert float(mixture_logprob(old, mu, 1.0)) == pytest.approx(0.0)
    assert float(mixture_logprob(old, torch.tensor([-math.inf]), 0.25)) == pytest.approx(L(0.75 * 0.2))
    tiny = mixture_logprob(torch.tensor([-1000.0]), torch.tensor([-1000.0]), 0.5)  # no underflow to -inf
    assert float(tiny) == pytest.approx(-1000.0)
    with pytest.raises(ValueError):
        mixture_logprob(old, mu, 1.5)


def test_mixture_only_on_inserted_tokens_and_the_probe_weight() -> None:
    old = torch.tensor([[L(0.5), L(0.2), L(0.1)], [L(0.5), L(0.5), L(0.5)]])
    mu = torch.tensor([[-math.inf, 0.0, L(0.5)], [-math.inf, -math.inf, -math.inf]])
    ins = torch.tensor([[0, 1, 1], [0, 0, 0]])
    mix = mixture_logprobs(old, mu, ins, 0.5)
    # inserted: 0.5 * 0.2 + 0.5 * 1 = 0.6 and 0.5 * 0.1 + 0.5 * 0.5 = 0.3; elsewhere pi_old
    assert mix[0].tolist() == pytest.approx([L(0.5), L(0.6), L(0.3)])
    assert torch.equal(mix[1], old[1])
    w = inserted_weights(old, mix, ins)
    assert w.tolist() == pytest.approx([(0.2 / 0.6) * (0.1 / 0.3), 1.0])  # 1/9, and 1 for a non-probe
    assert probe_share([True, False, False, False]) == 0.25 and probe_share([]) == 0.0


def test_probe_filter_keeps_the_highest_mean_old_logprob_per_group() -> None:
    means, groups = [-1.0, -0.5, -2.0, -0.1, -0.3], [0, 0, 0, 1, 1]
    assert select_probes(means, groups, 1) == [1, 3]
    assert select_probes(means, groups, 2) == [0, 1, 3, 4]
    assert select_probes(means, groups, None) == [0, 1, 2, 3, 4]
    assert select_probes([-1.0, -1.0], ["a", "a"], 1) == [0]  # a tie keeps the earlier candidate


def test_corrected_loss_by_hand() -> None:
    logp = torch.tensor([[L(0.3), L(0.9)]])
    mix = torch.tensor([[L(0.6), L(0.6)]])  # rho = 0.5 and 1.5
    adv, mask = torch.tensor([[1.0, -1.0]]), torch.ones(1, 2)
    loss, _ = rexrag_policy_loss(logp, mix, adv, mask, clip_low=0.2)
    # token 1: max(-0.5, -0.8) = -0.5; token 2: max(1.5, 1.2) = 1.5; token-mean 0.5
    assert float(loss) == pytest.approx(0.5)
    loss_w, _ = rexrag_policy_loss(logp, mix, adv, mask, weights=torch.tensor([2.0]), clip_low=0.2)
    assert float(loss_w) == pytest.approx((-1.0 + 3.0) / 2)  # advantages doubled
    old = torch.tensor([[L(0.4), L(0.7)]])  # pi_mix = pi_old: PPO exactly
    assert float(rexrag_policy_loss(logp, old, adv, mask)[0]) == pytest.approx(float(ppo_clip_loss(
        logp, old, adv, mask, 0.2, None, None)[0]))


def test_cut_before_answer_keeps_the_ids_before_the_pattern() -> None:
    tok = tiny_tokenizer()
    ids = tok("a b seven c", add_special_tokens=False)["input_ids"]
    n = cut_before_answer(tok, ids, "seven")
    assert tok.decode(ids[:n]) == "a b " and n == 4
    assert cut_before_answer(tok, ids, "<answer>") == 0  # no answer: the whole turn is cut


def test_config_is_validated() -> None:
    for bad in ({"probe_prob": 1.5}, {"probe_candidates": 0}, {"probe_keep": 0}, {"correction": "tokens"},
                {"answer_pattern": "("}, {"revision_prompts": [""]}, {"train_inserted": True}):
        with pytest.raises(ConfigError):
            RexRagConfig(**bad)
    assert RexRagConfig(train_inserted=True, correction="token").train_inserted


# ------------------------------------------------------------------ probes on the key env


class ToolFirstKeyEnv(KeyEnv):
    """The key env with a first turn that always gets the tool's answer: failures happen at turn 2, so
    probes must replay turn 1 through the env before they continue."""

    async def astep(self, action: str | dict[str, Any]):
        if self.turn == 0:
            self.turn = 1
            return [{"role": "tool", "content": "key seven"}], 0.2, False, False, {"tool_calls": ["lookup"]}
        return await super().astep(action)


RUN = dict(group_size=4, tasks_per_step=2, max_new_tokens=4, max_length=64, temperature=1.0, report_to=[],
           log_every=0, seed=0, learning_rate=1e-2)


def make(env: Any, **kw: Any) -> RexRagTrainer:
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    cfg = RexRagConfig(**{**RUN, "probe_prob": 1.0, "revision_prompts": ["call", "a b"], "answer_pattern": "c",
                          **kw})
    return RexRagTrainer(tiny_model(tok, seed=0), env, cfg, tokenizer=tok)


def recorded_ids(traj: Any) -> list[int]:
    return [i for t in traj.turns for i in (t.context_ids or []) + (t.token_ids or [])]


def check_probes(trainer: RexRagTrainer) -> tuple[list[Any], Any, Any]:
    """Collect once and check every probe's token layout against its source; returns (probes, batch, trajs)."""
    rollout = trainer.collect()
    trajs = [t for g in rollout.groups for t in g.trajectories]
    probes = [t for t in trajs if PROBE_INFO in t.info]
    assert probes, "every failed episode is probed with probe_prob=1"
    by_id = {t.episode_id: t for t in rollout.sampled}
    pool = trainer.pool
    for p in probes:
        meta = p.info[PROBE_INFO]
        src = by_id[meta["source"]]
        assert not src.success and p.task_id == src.task_id
        group = next(g for g in rollout.groups if p in g.trajectories)
        assert src in group.trajectories  # the probe joined its source's group
        inserted = trainer.prompt_ids[meta["prompt"]]
        turn = p.turns[meta["inserted_turn"]]
        assert turn.context_ids[-len(inserted):] == inserted  # recorded as context (inserted), not generated
        # the exact prefix: the source's recorded ids up to its last turn's generation, the kept ids, the prompt
        last = src.turns[-1]
        kept = cut_before_answer(trainer.tokenizer, last.token_ids, trainer.config.answer_pattern)
        prefix = recorded_ids(src)[: len(recorded_ids(src)) - len(last.token_ids) + kept]
        assert recorded_ids(p)[: len(prefix) + len(inserted)] == prefix + inserted
        assert meta["mu_logprobs"] == pytest.approx(pool.logprobs(inserted))
        assert p.reward == pytest.approx(sum(t.reward for t in p.turns))
    assert rollout.stats["probes"] == len(probes)
    assert rollout.stats["probe_alpha"] == pytest.approx(len(probes) / len(trajs)) == trainer.alpha
    batch = trainer.build_batch(trajs)
    ins = batch.extras["inserted_mask"]
    for row, e in enumerate(batch.episode_index.tolist()):
        t = trajs[e]
        if PROBE_INFO not in t.info:
            assert ins[row].sum() == 0 and batch.extras["probe_weight"][row] == 1.0
            continue
        meta = t.info[PROBE_INFO]
        start, stop = inserted_span(t, meta, 0)
        assert ins[row].nonzero().flatten().tolist() == list(range(start, stop))
        assert batch.input_ids[row, start:stop].tolist() == trainer.prompt_ids[meta["prompt"]]
        assert batch.loss_mask[row, start:stop].sum() == 0  # inserted tokens are not in the loss
        cont = t.turns[meta["inserted_turn"]].token_ids
        assert batch.loss_mask[row, stop: stop + len(cont)].tolist() == [1] * len(cont)  # the continuation is
        old = torch.tensor(meta["old_logprobs"])
        mix = mixture_logprob(old, torch.tensor(meta["mu_logprobs"]), trainer.alpha)
        assert batch.extras["mix_logprobs"][row, start:stop].tolist() == pytest.approx(mix.tolist())
        assert float(batch.extras["probe_weight"][row]) == pytest.approx(float(torch.exp((old - mix).sum())))
    # pi_old of the inserted tokens, scored again on the batch rows: the same numbers
    fresh = score_tokens(trainer.model, batch.input_ids, batch.attention_mask, ins, trainer.config.temperature)
    assert fresh.logprobs[ins.bool()].tolist() == pytest.approx(batch.old_logprobs[ins.bool()].tolist(), abs=1e-5)
    return probes, batch, trajs


def test_probes_of_first_turn_failures_continue_through_the_env() -> None:
    with make(KeyEnv, revision_prompts=["call"], answer_pattern="<answer>") as trainer:  # whole turn cut
        probes, _, _ = check_probes(trainer)
    first = [p for p in probes if p.info[PROBE_INFO]["inserted_turn"] == 0]  # probes of a failed first turn
    assert first
    # the inserted "call" makes the env answer with the tool, and the episode goes on to a second turn
    assert all(p.turns[0].tool_calls == ["lookup"] for p in first)
    assert all(len(p.turns) == 2 or p.truncated for p in first)
    assert any(len(p.turns) == 2 and p.turns[1].token_ids for p in first)


def test_probes_replay_the_env_to_the_failed_turn() -> None:
    with make(ToolFirstKeyEnv) as trainer:
        probes, _, _ = check_probes(trainer)
    replayed = [p for p in probes if p.info[PROBE_INFO]["inserted_turn"] >= 1]
    assert replayed and all(p.turns[0].observation == [{"role": "tool", "content": "key seven"}] for p in replayed)


def test_filter_keeps_probe_keep_per_group_and_loss_uses_the_mixture() -> None:
    with make(KeyEnv, probe_candidates=3, probe_keep=1, correction="token", train_inserted=True) as trainer:
        rollout = trainer.collect()
        assert rollout.stats["probe_candidates"] > rollout.stats["probes"]
        for g in rollout.groups:
            assert sum(PROBE_INFO in t.info for t in g.trajectories) <= 1
        trajs = [t for g in rollout.groups for t in g.trajectories]
        batch = trainer.build_batch(trajs)
    ins = batch.extras["inserted_mask"].bool()
    assert ins.any() and bool(batch.loss_mask[ins].all())  # train_inserted: the authors' code path
    assert "probe_weight" not in batch.extras
    batch.advantages = torch.ones_like(batch.old_logprobs) * batch.loss_mask
    logp = batch.old_logprobs.clone()  # pi_theta = pi_old: rho = pi_old / pi_mix on inserted tokens, 1 elsewhere
    loss, _ = get_policy_loss("rexrag").fn(logp, batch, trainer.config, {"num_tokens": float(batch.num_policy_tokens)})
    ratio = torch.exp(logp - batch.extras["mix_logprobs"])
    assert bool((ratio[ins] < 1).all()) and torch.allclose(ratio[~ins & batch.loss_mask.bool()], torch.ones(1))
    expected = -(torch.minimum(ratio, torch.clamp(ratio, 0.8, 1.2)) * batch.loss_mask).sum() / batch.num_policy_tokens
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_two_training_steps() -> None:
    with make(KeyEnv, revision_prompts=None, answer_pattern="<answer>") as trainer:
        before = [p.detach().clone() for p in trainer.model.parameters()]
        history = trainer.train(steps=2)
        after = list(trainer.model.parameters())
    assert len(history) == 2 and all(math.isfinite(m["loss"]) for m in history if m["updates"])
    assert all(m["probes"] > 0 and 0 < m["probe_alpha"] < 1 for m in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_the_example_run_file_is_valid() -> None:
    spec = load_run_spec(HERE.parents[1] / "examples" / "configs" / "rexrag_multihop.yaml", ["steps=2"])
    assert spec.trainer == "rexrag" and isinstance(spec.config, RexRagConfig)
    assert spec.config.steps == 2 and spec.config.policy_loss == "rexrag" and spec.env == "MultiHopQA-v0"
