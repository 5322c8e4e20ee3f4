"""`GRPOTrainer`: the PPO/GRPO family on multi-turn, tool-using environments, read top to bottom.

One step::

    groups = rollout(tasks)                   # group_size token-exact episodes per task (engine + envs)
    groups = dynamic_sampling(groups)         # optional: drop constant-reward groups, resample (DAPO)
    batch = build_batch(trajectories)         # padded tokens, loss mask on policy tokens only
    batch.advantages = estimator(batch)       # GRPO / Dr.GRPO / RLOO / REINFORCE++ / turn-level ...
    for epoch, minibatch, micro-batch:        # PPO-clip or GSPO, + KL, - entropy, aggregated
        loss.backward(); optimizer.step()
    engine.sync_weights(model)

Old log-probs are the engine's own sampling log-probs (the policy before this update), so an on-policy
step needs no extra scoring pass. Loss aggregation divides by the whole minibatch's token or sequence
count, which is what makes gradient accumulation, and later data-parallel ranks, sum to the same loss.

Start one in five lines::

    from agentgym.trainers import GRPOConfig, GRPOTrainer
    trainer = GRPOTrainer("smollm2", "Arithmetic-v0", env_kwargs={"difficulty": 1},
                          config=GRPOConfig(steps=50, learning_rate=2e-6))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.config import GRPOConfig
from agentgym.trainers.data import TokenBatch, build_batch
from agentgym.trainers.engines.base import RolloutEngine
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.episodes import env_factory, run_groups
from agentgym.trainers.modeling import sequence_logprobs

from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory


def compute_advantages(batch: TokenBatch, cfg: GRPOConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The configured estimator applied to a batch: `(advantages, returns)`, zero off the loss mask."""
    r, m, g = batch.token_rewards, batch.loss_mask.float(), batch.group_index
    if cfg.advantage == "grpo":
        return A.grpo_advantages(r, m, g, eps=cfg.adv_eps)
    if cfg.advantage == "dr_grpo":
        return A.dr_grpo_advantages(r, m, g)
    if cfg.advantage == "batch_std":
        return A.batch_std_advantages(r, m, g, eps=cfg.adv_eps)
    if cfg.advantage == "rloo":
        return A.rloo_advantages(r, m, g)
    if cfg.advantage == "reinforce_pp":
        return A.reinforce_pp_advantages(r, m, cfg.gamma)
    if cfg.advantage == "reinforce_pp_baseline":
        return A.reinforce_pp_baseline_advantages(r, m, g)
    adv, ret = A.turn_level_advantages(batch.turn_rewards, batch.turn_mask, batch.turn_index, g, cfg.gamma,
                                       cfg.adv_eps)
    return adv * m, ret * m


def apply_overlong_shaping(batch: TokenBatch, cfg: GRPOConfig) -> None:
    """DAPO soft overlong penalty on each row's total reward, placed on its last policy token."""
    limit = cfg.max_policy_tokens or cfg.max_length
    lengths = batch.loss_mask.sum(dim=-1)
    penalty = A.overlong_penalty(lengths, limit, cfg.overlong_buffer, cfg.overlong_penalty)
    last = (batch.loss_mask * torch.arange(batch.loss_mask.shape[1])).argmax(dim=-1)
    batch.token_rewards[torch.arange(len(batch)), last] += penalty


def make_adamw(model: Any, cfg: GRPOConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; the fused kernel where torch has it for these tensors (same
    update rule as the default for-each kernel, one pass over the parameters instead of several)."""
    params = [p for p in model.parameters() if p.requires_grad]
    kw = dict(lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay)
    try:
        return torch.optim.AdamW(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, **kw)


class GRPOTrainer:
    """Multi-turn GRPO (and its PPO-family variants, chosen in `GRPOConfig`) on a `LanguageEnv`.

    Args:
        model: a causal LM module, or a model spec for `agentgym.models.load_model` (e.g. "smollm2").
        env: an env id ("Arithmetic-v0"), a zero-argument env factory, or an env made by `agentgym.make`.
        config: a `GRPOConfig`, a dict, or a path to a YAML file.
        tokenizer: required when `model` is a module.
        env_kwargs: keyword arguments for the env (with an env id).
        train_tasks: task ids to train on (default: the env's `train_split`).
        engine: a `RolloutEngine` (default: `HFEngine` on the model itself).
        ref_model: reference policy for the KL term (default: a frozen copy of the model if `kl_coef` > 0).
        optimizer: default AdamW over the model's parameters.
        log: called with each step's metrics (default: print every `log_every` steps).
    """

    def __init__(
        self,
        model: Any,
        env: Any,
        config: GRPOConfig | dict[str, Any] | str | None = None,
        *,
        tokenizer: Any = None,
        env_kwargs: dict[str, Any] | None = None,
        train_tasks: Sequence[str] | None = None,
        engine: RolloutEngine | None = None,
        ref_model: Any = None,
        optimizer: torch.optim.Optimizer | None = None,
        log: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if config is None:
            config = GRPOConfig()
        elif isinstance(config, dict):
            config = GRPOConfig.from_dict(config)
        elif isinstance(config, str):
            config = GRPOConfig.from_yaml(config)
        self.config = cfg = config
        torch.manual_seed(cfg.seed)
        if isinstance(model, str):
            from agentgym.models import load_model

            model, tokenizer = load_model(model)
        if tokenizer is None:
            raise ValueError("pass the tokenizer along with a model module")
        self.model, self.tokenizer = model, tokenizer
        self.model.train()
        self.make_env, self.env_id = env_factory(env, env_kwargs)
        self._envs: list[Any] = [self.make_env()]
        self.train_tasks = list(train_tasks) if train_tasks is not None else self._envs[0].tasks.ids(cfg.train_split)
        if not self.train_tasks:
            raise ValueError(f"no training tasks (split {cfg.train_split!r} is empty)")
        self.engine = engine or HFEngine(model, tokenizer, max_batch_size=cfg.rollout_batch_size, seed=cfg.seed)
        self.ref_model = ref_model
        if cfg.kl_coef > 0 and self.ref_model is None:
            self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.optimizer = optimizer or make_adamw(model, cfg)
        self.log = log or self._print_log
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self._rng = random.Random(cfg.seed)
        self._order: list[str] = []

    # ------------------------------------------------------------------ rollout

    def _next_tasks(self, n: int) -> list[str]:
        out = []
        while len(out) < n:
            if not self._order:
                self._order = list(self.train_tasks)
                self._rng.shuffle(self._order)
            out.append(self._order.pop())
        return out

    def _params(self, temperature: float | None = None, max_new_tokens: int | None = None) -> SamplingParams:
        cfg = self.config
        return SamplingParams(max_new_tokens or cfg.max_new_tokens,
                              cfg.temperature if temperature is None else temperature)

    async def rollout(self, task_ids: Sequence[str], group_size: int | None = None,
                      temperature: float | None = None) -> list[list[Trajectory]]:
        """`group_size` token-exact episodes of each task with the current policy."""
        cfg = self.config
        return await run_groups(self.make_env, self.engine, task_ids, group_size or cfg.group_size,
                                self._params(temperature), concurrency=cfg.concurrency,
                                max_length=cfg.max_length, env_id=self.env_id, envs=self._envs)

    async def _collect(self) -> tuple[list[list[Trajectory]], list[Trajectory], dict[str, float]]:
        """(groups to train on, every trajectory sampled, sampling stats)."""
        cfg = self.config
        if not cfg.dynamic_sampling:
            groups = await self.rollout(self._next_tasks(cfg.tasks_per_step))
            return groups, [t for g in groups for t in g], {"sampled_groups": len(groups)}
        seen: list[Trajectory] = []

        async def sample(n: int) -> list[list[Trajectory]]:
            groups = await self.rollout(self._next_tasks(n))
            seen.extend(t for g in groups for t in g)
            return groups

        result = await A.dynamic_sampling(sample, lambda t: t.reward, cfg.tasks_per_step, cfg.max_sampling_rounds)
        return result.groups, seen, {"sampled_groups": result.sampled_groups,
                                     "dropped_groups": result.dropped_groups, "sampling_rounds": result.rounds}

    # ------------------------------------------------------------------ loss

    def _loss(self, micro: TokenBatch, counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        logp, entropy = sequence_logprobs(self.model, micro.input_ids, micro.attention_mask, micro.loss_mask,
                                          cfg.temperature, with_entropy=cfg.entropy_coef > 0)
        mask = micro.loss_mask
        assert micro.advantages is not None
        if cfg.policy_loss == "ppo":
            loss, metrics = A.ppo_clip_loss(logp, micro.old_logprobs, micro.advantages, mask, cfg.clip_low,
                                            cfg.clip_high, cfg.dual_clip, cfg.loss_agg, **counts)
        else:
            loss, metrics = A.gspo_loss(logp, micro.old_logprobs, micro.advantages, mask, cfg.clip_low,
                                        cfg.clip_high, cfg.loss_agg, **counts)
        metrics["pg_loss"] = loss.detach()
        if cfg.kl_coef > 0:
            assert micro.ref_logprobs is not None
            kl = A.kl_loss(logp, micro.ref_logprobs, mask, cfg.kl_estimator, cfg.loss_agg, **counts)
            loss = loss + cfg.kl_coef * kl
            metrics["kl"] = kl.detach()
        if entropy is not None:
            ent = A.entropy_bonus(entropy, mask, cfg.loss_agg, **counts)
            loss = loss - cfg.entropy_coef * ent
            metrics["entropy"] = ent.detach()
        return loss, metrics

    def _counts(self, mb: TokenBatch) -> dict[str, float]:
        mode = self.config.loss_agg
        if mode == "token-mean":
            return {"num_tokens": float(max(mb.num_policy_tokens, 1))}
        counts = {"num_seqs": float(max(int((mb.loss_mask.sum(-1) > 0).sum()), 1))}
        if mode == "seq-mean-token-sum-norm":
            counts["horizon"] = float(self.config.max_policy_tokens or self.config.max_length)
        return counts

    @torch.no_grad()
    def _ref_logprobs(self, batch: TokenBatch) -> torch.Tensor:
        parts = [sequence_logprobs(self.ref_model, m.input_ids, m.attention_mask, m.loss_mask,
                                   self.config.temperature)[0] for m in batch.split(self.config.micro_batch_size)]
        out = torch.zeros(batch.input_ids.shape)
        for i, p in zip(range(0, len(batch), self.config.micro_batch_size), parts, strict=True):
            out[i: i + p.shape[0], : p.shape[1]] = p
        return out

    def optimize(self, batch: TokenBatch) -> dict[str, float]:
        """PPO epochs over the batch: shuffled minibatches (one optimizer step each), micro-batched."""
        cfg = self.config
        device = next(self.model.parameters()).device
        sums: dict[str, float] = {}
        n_updates = 0
        mb_size = cfg.mini_batch_size or len(batch)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(len(batch)).tolist() if cfg.ppo_epochs > 1 or mb_size < len(batch) else list(
                range(len(batch)))
            for start in range(0, len(batch), mb_size):
                mb = batch.select(order[start: start + mb_size])
                if mb.num_policy_tokens == 0:
                    continue
                counts = self._counts(mb)  # from the whole minibatch, so skipping rows below changes nothing
                self.optimizer.zero_grad(set_to_none=True)
                rows = list(range(len(mb)))
                if cfg.skip_zero_advantages and cfg.kl_coef == 0 and cfg.entropy_coef == 0:
                    # a row whose advantages are all 0 adds exactly 0 to the policy-gradient loss and its gradient
                    assert mb.advantages is not None
                    rows = [i for i, live in enumerate((mb.advantages.abs() * mb.loss_mask).sum(-1) > 0) if live]
                    if not rows:
                        continue
                for micro in mb.select(rows).split(cfg.micro_batch_size):
                    if micro.num_policy_tokens == 0:
                        continue
                    loss, metrics = self._loss(micro.to(device), counts)
                    loss.backward()
                    for k, v in metrics.items():
                        weight = micro.num_policy_tokens / mb.num_policy_tokens
                        sums[k] = sums.get(k, 0.0) + float(v) * (1.0 if k in ("pg_loss", "kl", "entropy") else weight)
                if cfg.max_grad_norm is not None:
                    norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                    sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(norm)
                self.optimizer.step()
                n_updates += 1
        self.optimizer.zero_grad(set_to_none=True)
        out = {k: v / max(n_updates, 1) for k, v in sums.items()}
        out["updates"] = n_updates
        return out

    # ------------------------------------------------------------------ the loop

    def train_step(self) -> dict[str, Any]:
        """One rollout + update; returns its metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        self.engine.wake()
        groups, sampled, sample_stats = asyncio.run(self._collect())
        self.engine.sleep()
        t1 = time.perf_counter()
        trajs = [t for g in groups for t in g]
        opt: dict[str, float] = {"updates": 0}
        policy_tokens, truncated = 0, 0.0
        if trajs:  # dynamic sampling may keep nothing: then there is nothing to learn from this step
            batch = build_batch(trajs, self.tokenizer, cfg.max_length, group_key=lambda t: t.task_id)
            if cfg.overlong_buffer > 0:
                apply_overlong_shaping(batch, cfg)
            if cfg.mask_truncated:
                batch.loss_mask[batch.truncated] = 0
            batch.advantages, batch.returns = compute_advantages(batch, cfg)
            if cfg.kl_coef > 0:
                batch.ref_logprobs = self._ref_logprobs(batch)
            opt = self.optimize(batch)
            self.engine.sync_weights(self.model)
            policy_tokens, truncated = batch.num_policy_tokens, float(batch.truncated.float().mean())
        t2 = time.perf_counter()
        self.step += 1
        metrics: dict[str, Any] = {
            "step": self.step,
            "reward": sum(t.reward for t in sampled) / max(len(sampled), 1),
            "success": sum(t.success for t in sampled) / max(len(sampled), 1),
            "episodes": len(sampled),
            "trained_episodes": len(trajs),
            "policy_tokens": policy_tokens,
            "turns": sum(t.num_turns for t in sampled) / max(len(sampled), 1),
            "truncated": truncated,
            "gen_seconds": t1 - t0,
            "opt_seconds": t2 - t1,
            **sample_stats,
            **opt,
        }
        self.history.append(metrics)
        return metrics

    def train(self, steps: int | None = None) -> list[dict[str, Any]]:
        """Run `steps` (default `config.steps`) training steps, evaluating every `eval_every` steps."""
        cfg = self.config
        for _ in range(steps if steps is not None else cfg.steps):
            metrics = self.train_step()
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                metrics.update({f"eval_{k}": v for k, v in self.evaluate(n=cfg.eval_tasks).items()})
            if cfg.log_every and self.step % cfg.log_every == 0:
                self.log(metrics)
        return self.history

    def evaluate(self, task_ids: Sequence[str] | None = None, n: int = 100, temperature: float = 0.0,
                 split: str | None = None) -> dict[str, float]:
        """Success rate and mean reward on held-out tasks (greedy by default), one episode per task."""
        if task_ids is None:
            task_ids = self._envs[0].tasks.ids(split or self.config.eval_split)[:n]
        was_training = self.model.training
        t0 = time.perf_counter()
        groups = asyncio.run(self.rollout(task_ids, group_size=1, temperature=temperature))
        self.model.train(was_training)
        trajs = [t for g in groups for t in g]
        return {
            "success": sum(t.success for t in trajs) / max(len(trajs), 1),
            "reward": sum(t.reward for t in trajs) / max(len(trajs), 1),
            "n": len(trajs),
            "seconds": time.perf_counter() - t0,
        }

    def warm_start(self, trajectories: Sequence[Trajectory] | None = None, *, rounds: int = 1,
                   tasks: int | None = None, epochs: int = 1, learning_rate: float | None = None) -> dict[str, float]:
        """Behaviour cloning on successful trajectories before RL (expert iteration when none are given).

        With `trajectories`, clone the successful ones. Without, run `rounds` of expert iteration: sample
        `group_size` episodes on `tasks` training tasks with the current policy, keep the successes, clone.
        """
        from agentgym.trainers.sft import behaviour_cloning, successful

        lr = learning_rate or self.config.learning_rate
        stats: dict[str, float] = {}
        for _ in range(1 if trajectories is not None else rounds):
            if trajectories is not None:
                pool = list(trajectories)
            else:
                groups = asyncio.run(self.rollout(self._next_tasks(tasks or self.config.tasks_per_step)))
                pool = [t for g in groups for t in g]
            keep = successful(pool)
            stats = behaviour_cloning(self.model, self.tokenizer, keep, epochs=epochs, learning_rate=lr,
                                      micro_batch_size=self.config.micro_batch_size, max_length=self.config.max_length)
            stats["kept"], stats["sampled"] = len(keep), len(pool)
            self.engine.sync_weights(self.model)
        return stats

    def save(self, path: str) -> None:
        """Save the policy and tokenizer with `save_pretrained`."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    @staticmethod
    def _print_log(m: dict[str, Any]) -> None:
        keys = ("step", "reward", "success", "pg_loss", "clipfrac", "approx_kl", "policy_tokens", "gen_seconds",
                "opt_seconds", "eval_success")
        print(" ".join(f"{k}={m[k]:.4g}" if isinstance(m[k], float) else f"{k}={m[k]}" for k in keys if k in m),
              flush=True)
