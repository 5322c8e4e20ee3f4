"""`RLTrainer`: one step of multi-turn policy optimization, read top to bottom.

    rollout = collect()                 # tasks_per_step tasks x group_size episodes through the one episode
                                        #   loop (+ DAPO dynamic sampling); env rubric rewards on every turn
    shape_rewards(rollout.groups)       # reward stages: the trainer's own (TAPO, IGPO), then user shapers
    batch = build_batch(trajectories)   # the recorded token view: one row per token context
    score_batch(batch)                  # reference log-probs (KL), critic values (PPO)
    A, R = compute_advantages(batch)    # the registered estimator, then advantage shapers (ASPO, HBPO)
    optimize(batch)                     # epochs x minibatches (one optimizer step each) x micro-batches
    sync_weights()                      # the rollout engine samples from the new weights

Old log-probs are the engine's sampling log-probs (the policy before this update), so an on-policy step
needs no extra scoring pass. Losses divide by the whole minibatch's token or sequence count, which makes
gradient accumulation (and data-parallel ranks) sum to the same update. Everything around the step (model,
LoRA and reference setup, envs, checkpoints, evaluation, warm start) is `TrainerRuntime` (`runtime.py`).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.algorithms.registry import compute_advantages, get_policy_loss
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch, build_batch
from agentgym.trainers.distributed import local_rows, reduce_step_metrics
from agentgym.trainers.modeling import TokenScores, score_tokens
from agentgym.trainers.runtime import TrainerRuntime, _mean
from agentgym.trainers.shapers import Group, Shaper, flatten

from agentgym.trajectory import Trajectory

# metrics already normalized by the whole minibatch's counts: micro-batch parts add up
ADDITIVE_METRICS = frozenset({"loss", "pg_loss", "kl", "vf_loss"})


def minibatch_sizes(mb: TokenBatch | None) -> list[float]:
    """`[policy tokens, sequences with a policy token]` of (this rank's share of) a minibatch."""
    if mb is None:
        return [0.0, 0.0]
    return [float(mb.num_policy_tokens), float(int((mb.loss_mask.sum(-1) > 0).sum()))]


def merge_rank_metrics(parts: list[tuple[dict[str, float], dict[str, float], int]]) -> tuple[
        dict[str, float], dict[str, float], int]:
    """Every rank's `(additive metrics, token-weighted metric sums, tokens)` of one minibatch, summed."""
    added: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for a, w, _ in parts:
        for k, v in a.items():
            added[k] = added.get(k, 0.0) + v
        for k, v in w.items():
            weighted[k] = weighted.get(k, 0.0) + v
    return added, weighted, sum(n for _, _, n in parts)


def apply_overlong_shaping(batch: TokenBatch, cfg: RLConfig) -> None:
    """DAPO soft overlong penalty on each row's total reward, placed on its last policy token."""
    limit = cfg.max_policy_tokens or cfg.max_length
    lengths = batch.loss_mask.sum(dim=-1)
    penalty = A.overlong_penalty(lengths, limit, cfg.overlong_buffer, cfg.overlong_penalty)
    last = (batch.loss_mask * torch.arange(batch.loss_mask.shape[1])).argmax(dim=-1)
    batch.token_rewards[torch.arange(len(batch)), last] += penalty


@dataclass
class Rollout:
    """What `collect` returns: the groups to train on, every episode sampled (for metrics), sampling stats."""

    groups: list[Group]
    sampled: list[Trajectory]
    stats: dict[str, float] = field(default_factory=dict)


class RLTrainer(TrainerRuntime):
    """Multi-turn RL on a `LanguageEnv` with any transformers causal LM; subclasses pick the algorithm.
    Arguments: see `TrainerRuntime`.

    A new algorithm overrides what differs: `reward_stages()` (its reward), `build_batch`, `score_batch`,
    `compute_advantages` (or registers an estimator by name), `objective`; see trainers/README.md.
    """

    # ------------------------------------------------------------------ 1. rollout

    def collect(self) -> Rollout:
        """This step's groups of episodes."""
        return asyncio.run(self.acollect())

    async def acollect(self) -> Rollout:
        """Sample `tasks_per_step` groups; with DAPO dynamic sampling, drop groups whose
        `dynamic_sampling_key` is constant and sample more, up to `max_sampling_rounds` rounds."""
        cfg = self.config
        seen: list[Trajectory] = []

        async def sample(n: int) -> list[list[Trajectory]]:
            # every rank draws the same n tasks (same sampler state) and plays its share of them
            groups = await self.rollout(self.dp.shard(self.sampler.next(n)), training=True)
            seen.extend(t for g in groups for t in g)
            return groups

        if not cfg.dynamic_sampling:
            kept = await sample(cfg.tasks_per_step)
            stats = {"sampled_groups": float(len(kept))}
        else:  # rounds continue until the groups kept on all ranks together reach tasks_per_step
            result = await A.dynamic_sampling(sample, self.dynamic_sampling_key, cfg.tasks_per_step,
                                              cfg.max_sampling_rounds, global_count=lambda n: int(self.dp.sum([n])[0]))
            kept, stats = result.groups, {"sampled_groups": result.sampled_groups,
                                          "dropped_groups": result.dropped_groups, "sampling_rounds": result.rounds}
        groups = [Group(g[0].task_id, list(g), cfg.group_size) for g in kept if g]
        return Rollout(groups, seen, stats)

    def dynamic_sampling_key(self, trajectory: Trajectory) -> float:
        """What dynamic sampling compares within a group: the episode reward (DAPO); TAPO uses accuracy."""
        return float(trajectory.reward)

    # ------------------------------------------------------------------ 2. rewards

    def reward_stages(self) -> list[Shaper]:
        """The trainer's own reward stages, run before the user's shapers (none: the env's rubric)."""
        return []

    def shape_rewards(self, groups: list[Group]) -> None:
        """env rubric -> the trainer's reward stages -> user shapers, each told its group."""
        for stage in [*self.reward_stages(), *self.shapers]:
            for group in groups:
                stage.shape_rewards(group)

    # ------------------------------------------------------------------ 3. token batch

    def build_batch(self, trajectories: list[Trajectory]) -> TokenBatch:
        """The recorded token view (one row per token context), DAPO overlong shaping, truncation masking."""
        cfg = self.config
        batch = build_batch(trajectories, self.tokenizer, cfg.max_length, group_key=lambda t: t.task_id)
        if cfg.overlong_buffer > 0:
            apply_overlong_shaping(batch, cfg)
        if cfg.mask_truncated:
            batch.loss_mask[batch.truncated] = 0
        return batch

    def score_batch(self, batch: TokenBatch) -> None:
        """Fill what needs the model before the update: pi_ref(a_t | s_t) when `kl_coef` > 0."""
        if self.config.kl_coef > 0:
            batch.ref_logprobs = self.score_rows(batch, self._ref_logprobs)

    # ------------------------------------------------------------------ 4. advantages

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """`(A, R)` of the registered estimator named by `config.advantage` (e.g. GRPO:
        A_i = (r_i - mean_group r) / (std_group r + eps) on every policy token of episode i)."""
        return compute_advantages(batch, self.config)

    # ------------------------------------------------------------------ 5. loss

    def forward(self, micro: TokenBatch) -> TokenScores:
        """log pi_theta(a_t | s_t) on the micro-batch (and entropies when asked for)."""
        cfg = self.config
        entropy = "grad" if cfg.entropy_coef > 0 else ("detached" if cfg.log_entropy else None)
        if self.scorer is not None:  # data parallel: through the FSDP2 root, which gathers the shards
            return self.scorer.score(micro.input_ids, micro.attention_mask, micro.loss_mask, cfg.temperature,
                                     entropy=entropy, bf16=cfg.bf16)
        return score_tokens(self.model, micro.input_ids, micro.attention_mask, micro.loss_mask, cfg.temperature,
                            entropy=entropy, bf16=cfg.bf16)

    def policy_loss(self, logprobs: torch.Tensor, micro: TokenBatch,
                    counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The registered policy loss named by `config.policy_loss` (PPO clip:
        -min(rho A, clip(rho, 1 - e_low, 1 + e_high) A), rho = exp(log pi - log pi_old))."""
        return get_policy_loss(self.config.policy_loss).fn(logprobs, micro, self.config, counts)

    def objective(self, scores: TokenScores, micro: TokenBatch,
                  counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L = L_policy + kl_coef * KL(pi_theta || pi_ref) - entropy_coef * H(pi_theta)."""
        cfg = self.config
        mask = micro.loss_mask
        loss, metrics = self.policy_loss(scores.logprobs, micro, counts)
        metrics["pg_loss"] = loss.detach()
        if cfg.kl_coef > 0:
            assert micro.ref_logprobs is not None
            kl = A.kl_loss(scores.logprobs, micro.ref_logprobs, mask, cfg.kl_estimator, cfg.loss_agg, **counts)
            loss = loss + cfg.kl_coef * kl
            metrics["kl"] = kl.detach()
        if scores.entropy is not None:
            if cfg.entropy_coef > 0:
                loss = loss - cfg.entropy_coef * A.entropy_bonus(scores.entropy, mask, cfg.loss_agg, **counts)
            metrics["entropy"] = A.masked_mean(scores.entropy.detach(), mask)
        metrics["loss"] = loss.detach()
        return loss, metrics

    def loss(self, micro: TokenBatch, counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss and metrics of one micro-batch (already on the device) under the minibatch's `counts`."""
        return self.objective(self.forward(micro), micro, counts)

    def loss_counts(self, mb: TokenBatch | None, totals: tuple[float, float] | None = None) -> dict[str, float]:
        """What the aggregation divides by, from the whole minibatch: its policy tokens (token-mean) or
        sequences (seq-mean-*; seq-mean-token-sum-norm also by the horizon). Data parallel: the minibatch
        is every rank's share together (`totals`: its `(tokens, sequences)` already summed over ranks;
        otherwise they are summed here, a collective), so each rank's loss is its part of the global mean."""
        mode = self.config.loss_agg
        tokens, seqs = totals if totals is not None else self.dp.sum(minibatch_sizes(mb))
        if mode == "token-mean":
            return {"num_tokens": float(max(tokens, 1))}
        counts = {"num_seqs": float(max(seqs, 1))}
        if mode == "seq-mean-token-sum-norm":
            counts["horizon"] = float(self.config.max_policy_tokens or self.config.max_length)
        return counts

    # ------------------------------------------------------------------ 6. update

    def can_skip_zero_advantage_rows(self) -> bool:
        """Whether rows with all-zero advantages add nothing to the loss (no KL, entropy or value term)."""
        cfg = self.config
        return cfg.skip_zero_advantages and cfg.kl_coef == 0 and cfg.entropy_coef == 0

    def optimize(self, batch: TokenBatch | None) -> dict[str, float]:
        """`ppo_epochs` passes of shuffled minibatches, one optimizer step each, accumulated over micro-batches.

        Data parallel: `batch` is this rank's rows (None: it has none this step) and a minibatch is each
        rank's `mini_batch_size / world_size` rows; the loss counts, whether a minibatch is skipped, the
        number of minibatches and of micro-batches are agreed over the ranks (a rank short of micro-batches
        runs idle passes, which FSDP's collectives need), and metrics are reduced over the ranks."""
        cfg = self.config
        dp = self.dp
        totals: dict[str, float] = {}
        n_updates = 0
        here = len(batch) if batch is not None else 0
        mb_size = local_rows(cfg.mini_batch_size, dp.world_size) if cfg.mini_batch_size else max(here, 1)
        n_minibatches = int(dp.max([math.ceil(here / mb_size)])[0])
        shuffle = cfg.ppo_epochs > 1 or n_minibatches > 1
        pad = int(self.tokenizer.pad_token_id or 0)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(here).tolist() if shuffle else list(range(here))
            for k in range(n_minibatches):
                mb = batch.select(order[k * mb_size: (k + 1) * mb_size]) if batch is not None else None
                rows = list(range(len(mb))) if mb is not None else []
                if mb is not None and self.can_skip_zero_advantage_rows():  # such a row adds exactly 0
                    assert mb.advantages is not None
                    rows = [i for i, live in enumerate((mb.advantages.abs() * mb.loss_mask).sum(-1) > 0) if live]
                # counts from the whole minibatch (every rank's share), so skipping rows changes nothing
                tokens, seqs, live = dp.sum([*minibatch_sizes(mb), len(rows)])
                if tokens == 0 or live == 0:
                    continue
                counts = self.loss_counts(mb, (tokens, seqs))
                self.zero_grad()
                added: dict[str, float] = {}
                weighted: dict[str, float] = {}
                seen_tokens = 0
                micros = ([m for m in mb.select(rows).split(cfg.micro_batch_size) if m.num_policy_tokens]
                          if mb is not None and rows else [])
                for i in range(int(dp.max([len(micros)])[0])):
                    if i >= len(micros):  # only under data parallelism: another rank has more to do
                        assert self.scorer is not None
                        self.scorer.idle_backward(pad)
                        continue
                    micro = micros[i]
                    loss, metrics = self.loss(micro.to(self.device), counts)
                    loss.backward()
                    seen_tokens += micro.num_policy_tokens
                    for key, v in metrics.items():
                        if key in ADDITIVE_METRICS:
                            added[key] = added.get(key, 0.0) + float(v)
                        else:
                            weighted[key] = weighted.get(key, 0.0) + float(v) * micro.num_policy_tokens
                added, weighted, seen_tokens = merge_rank_metrics(dp.gather_objects((added, weighted, seen_tokens)))
                step_metrics = {**added, **{key: v / max(seen_tokens, 1) for key, v in weighted.items()},
                                **self.optimizer_step()}
                for key, v in step_metrics.items():
                    totals[key] = totals.get(key, 0.0) + v
                n_updates += 1
        self.zero_grad()
        out = {k: v / max(n_updates, 1) for k, v in totals.items()}
        out["updates"] = n_updates
        return out

    def sync_weights(self) -> None:
        """Make the rollout engine (and the rollout workers, if any) sample from the updated policy."""
        self.engine.sync_weights(self.model)
        if self.rollout_pool is not None:
            from agentgym.trainers.rollout_workers import policy_state

            self.rollout_pool.push_weights(policy_state(self.model))

    # ------------------------------------------------------------------ the step

    def train_step(self) -> dict[str, Any]:
        """One rollout + update; returns its metrics (also appended to `history`)."""
        t0 = time.perf_counter()
        self.engine.wake()
        rollout = self.collect()
        self.engine.sleep()
        t1 = time.perf_counter()
        self.shape_rewards(rollout.groups)
        trajs = flatten(rollout.groups)
        opt: dict[str, float] = {"updates": 0}
        policy_tokens, truncated = 0, 0.0
        lr = float(self.optimizer.param_groups[0]["lr"])
        # dynamic sampling may keep nothing: then there is nothing to learn from this step (data parallel:
        # a rank that kept nothing still takes part in the update of the others)
        if self.dp.max([len(trajs)])[0] > 0:
            batch = None
            if trajs:
                batch = self.build_batch(trajs)
                self.score_batch(batch)
                batch.advantages, batch.returns = self.compute_advantages(batch)
                for shaper in self.shapers:
                    batch.advantages = shaper.shape_advantages(batch, batch.advantages, rollout.groups)
                policy_tokens, truncated = batch.num_policy_tokens, float(batch.truncated.float().mean())
            opt = self.optimize(batch)
        t2 = time.perf_counter()
        if opt["updates"]:
            self.sync_weights()
        t3 = time.perf_counter()
        self.scheduler_step()
        self.step += 1
        sampled = rollout.sampled
        self.sampled_episodes = list(sampled)  # what the logger saves for the viewer (episodes/step-N.jsonl)
        metrics: dict[str, Any] = {
            "step": self.step, "reward": _mean([t.reward for t in sampled]),
            "success": _mean([float(t.success) for t in sampled]), "episodes": len(sampled),
            "trained_episodes": len(trajs), "turns": _mean([t.num_turns for t in sampled]),
            "response_length": _mean([t.completion_tokens for t in sampled]),
            "tool_calls": _mean([t.num_tool_calls for t in sampled]), "policy_tokens": policy_tokens,
            "truncated": truncated, "lr": lr,
            "tokens_per_second": sum(t.completion_tokens for t in sampled) / max(t1 - t0, 1e-9),
            "rollout_seconds": t1 - t0, "train_seconds": t2 - t1, "sync_seconds": t3 - t2, "step_seconds": t3 - t0,
            **rollout.stats, **opt,
        }
        metrics = reduce_step_metrics(self.dp.gather_objects(metrics))  # data parallel: the whole step's
        self.history.append(metrics)
        return metrics
