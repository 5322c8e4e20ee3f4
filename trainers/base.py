"""`RLTrainer`: the loop every RL algorithm in `agentgym.trainers` shares, read top to bottom.

One step::

    rollout = collect()                          # group_size token-exact episodes per task (+ DAPO dynamic sampling)
    groups  = shape_rewards(rollout.groups)      # trajectory-level reward shaping (identity by default)
    batch   = build_batch(trajectories)          # padded tokens, loss mask on policy tokens, overlong penalty
    score_batch(batch)                           # model-dependent fields: reference log-probs, critic values
    batch.advantages, batch.returns = compute_advantages(batch)
    optimize(batch)                              # PPO epochs x minibatches x micro-batches of loss(): one
                                                 #   optimizer step per minibatch
    sync_weights()                               # the rollout engine samples from the new weights
    # then: LR schedule, metrics -> logger, checkpoint every `checkpoint_every` steps

Old log-probs are the engine's own sampling log-probs (the policy before this update), so an on-policy
step needs no extra scoring pass. Loss aggregation divides by the whole minibatch's token or sequence
count, which is what makes gradient accumulation, and later data-parallel ranks, sum to the same loss.
The rollout half and the update half of a step exchange only trajectories, which is where Ray rollout
workers and FSDP ranks slot in.

Algorithm trainers (`GRPOTrainer`, `DAPOTrainer`, `RLOOTrainer`, `ReinforcePPTrainer`, `PPOTrainer`) are
thin subclasses: a config class with their defaults and, where needed, one or two overridden hooks.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.algorithms.registry import compute_advantages, get_policy_loss
from agentgym.trainers.checkpoint import (
    STATE_FILE,
    atomic_directory,
    checkpoint_path,
    latest_checkpoint,
    load_model_weights,
    load_pickle,
    prune_checkpoints,
    resolve_checkpoint,
    rng_state,
    save_model,
    save_pickle,
    set_rng_state,
)
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch, build_batch
from agentgym.trainers.engines.base import RolloutEngine
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.episodes import run_groups
from agentgym.trainers.logging import CallbackSink, MetricLogger, make_logger
from agentgym.trainers.modeling import TokenScores, score_tokens, unwrap_peft
from agentgym.trainers.optim import make_adamw, make_lr_scheduler
from agentgym.trainers.shapers import Shaper

from agentgym.episode import env_factory
from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory

# metrics already normalized by the whole minibatch's counts: micro-batch parts add up
ADDITIVE_METRICS = frozenset({"loss", "pg_loss", "kl", "vf_loss"})


def apply_overlong_shaping(batch: TokenBatch, cfg: RLConfig) -> None:
    """DAPO soft overlong penalty on each row's total reward, placed on its last policy token."""
    limit = cfg.max_policy_tokens or cfg.max_length
    lengths = batch.loss_mask.sum(dim=-1)
    penalty = A.overlong_penalty(lengths, limit, cfg.overlong_buffer, cfg.overlong_penalty)
    last = (batch.loss_mask * torch.arange(batch.loss_mask.shape[1])).argmax(dim=-1)
    batch.token_rewards[torch.arange(len(batch)), last] += penalty


class TaskSampler:
    """Shuffled passes over the training tasks. Its state (the RNG and what is left of the current pass)
    is the run's data position, saved in checkpoints."""

    def __init__(self, tasks: Sequence[str], seed: int) -> None:
        self.tasks = list(tasks)
        self.rng = random.Random(seed)
        self.order: list[str] = []

    def next(self, n: int) -> list[str]:
        out = []
        while len(out) < n:
            if not self.order:
                self.order = list(self.tasks)
                self.rng.shuffle(self.order)
            out.append(self.order.pop())
        return out

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "order": list(self.order)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.order = list(state["order"])


@dataclass
class Rollout:
    """What `collect` returns: the groups to train on, every episode sampled (for metrics), sampling stats."""

    groups: list[list[Trajectory]]
    sampled: list[Trajectory]
    stats: dict[str, float] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (envs and user code may draw from any of them)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


class RLTrainer:
    """Multi-turn RL on a `LanguageEnv` with any transformers causal LM; subclasses pick the algorithm.

    Args:
        model: a causal LM module, or a model spec for `agentgym.models.load_model` ("smollm2", a folder).
        env: an env id ("Arithmetic-v0"), a zero-argument env factory, or an env made by `agentgym.make`.
        config: a `config_class` instance, a dict, or a YAML path; another algorithm's `RLConfig` is
            converted (the fields it sets away from its own defaults carry over). With `resume_from` and no
            config, the checkpoint's config.
        tokenizer: required when `model` is a module.
        env_kwargs: keyword arguments for the env (with an env id).
        train_tasks: task ids to train on (default: the env's `train_split`).
        engine: a `RolloutEngine` (default: `HFEngine` on the model itself).
        ref_model: reference policy for the KL term (default when `kl_coef` > 0: a frozen copy of the initial
            model, or the model with its LoRA adapter disabled).
        optimizer: default AdamW over the trainable parameters.
        log: called with each step's metrics instead of the console sink.
        resume_from: a checkpoint directory, or a run directory whose latest checkpoint is loaded. Also
            `config.resume=True` resumes from `config.output_dir` when it holds a checkpoint.
        shapers: `agentgym.trainers.shapers` objects (ASPO, HBPO, APO ...) applied in order to the
            training prompts, the rewards and the advantages.

    Hooks a new algorithm overrides (each small, each called once per step unless noted):

    - `collect() -> Rollout`: rollouts -> groups of trajectories (default: `tasks_per_step` tasks x
      `group_size` episodes, DAPO dynamic sampling when configured; `acollect` is its async body).
    - `shape_rewards(groups) -> groups`: trajectory-level reward shaping before the token view, e.g.
      per-turn rewards from teacher-forced probes (IGPO) or tool-use rewards (TAPO). Identity by default.
    - `build_batch(trajectories) -> TokenBatch`: the token view (one row per trajectory by default; EAPO
      can emit one row per round), overlong shaping, truncation masking.
    - `score_batch(batch)`: fields that need the model before the update (reference log-probs; PPO adds
      critic values).
    - `compute_advantages(batch) -> (advantages, returns)`.
    - `forward(micro) -> TokenScores`, `policy_loss(logprobs, micro, counts) -> (loss, metrics)` and
      `objective(scores, micro, counts)` (policy loss + KL - entropy; PPO adds the value loss): called per
      micro-batch inside `optimize`.
    - `setup_models()` (extra modules before the optimizer is built), `trainable_parameters()`,
      `extra_state()` / `load_extra_state()` (what else a checkpoint keeps).
    """

    config_class: ClassVar[type[RLConfig]] = RLConfig
    name: ClassVar[str] = "rl"

    def __init__(
        self,
        model: Any,
        env: Any,
        config: RLConfig | dict[str, Any] | str | Path | None = None,
        *,
        tokenizer: Any = None,
        env_kwargs: dict[str, Any] | None = None,
        train_tasks: Sequence[str] | None = None,
        engine: RolloutEngine | None = None,
        ref_model: Any = None,
        optimizer: torch.optim.Optimizer | None = None,
        log: Callable[[dict[str, Any]], None] | None = None,
        resume_from: str | Path | None = None,
        shapers: Sequence[Shaper] = (),
    ) -> None:
        checkpoint = resolve_checkpoint(resume_from) if resume_from is not None else None
        if config is None and checkpoint is not None:
            config = json.loads((checkpoint / STATE_FILE).read_text())["config"]
        self.config = cfg = self.coerce_config(config)
        if checkpoint is None and cfg.resume and cfg.output_dir:
            checkpoint = latest_checkpoint(cfg.output_dir)
        self.resumed_from: Path | None = None
        self.shapers = list(shapers)
        seed_everything(cfg.seed)
        # 1. the policy (LoRA and gradient checkpointing applied here)
        self.model, self.tokenizer = self._load_model(model, tokenizer)
        self.model.train()
        self.device = next(self.model.parameters()).device
        if cfg.bf16 and self.device.type != "cuda":
            warnings.warn("bf16 autocast applies on CUDA only; this model is on the CPU and trains in its own "
                          "dtype", stacklevel=2)
        # 2. environments and the data order
        self.make_env, self.env_id = env_factory(env, env_kwargs)
        self._envs: list[Any] = [self.make_env()]
        self.train_tasks = list(train_tasks) if train_tasks is not None else self._envs[0].tasks.ids(cfg.train_split)
        if not self.train_tasks:
            raise ValueError(f"no training tasks (split {cfg.train_split!r} is empty)")
        self.sampler = TaskSampler(self.train_tasks, cfg.seed)
        # 3. rollout engine, reference policy, extra modules, optimizer and schedule
        self.engine = engine or HFEngine(self.model, self.tokenizer, max_batch_size=cfg.rollout_batch_size,
                                         seed=cfg.seed, bf16=cfg.bf16)
        self.ref_model = ref_model
        if cfg.kl_coef > 0 and self.ref_model is None and not self.is_lora:
            self.ref_model = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.setup_models()
        self.optimizer = optimizer or make_adamw(self.trainable_parameters(), cfg)
        self.scheduler = make_lr_scheduler(self.optimizer, cfg)
        # 4. bookkeeping, logging, and the checkpoint to continue from
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.logger = self._make_logger(log)
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)

    # ------------------------------------------------------------------ construction

    @classmethod
    def coerce_config(cls, config: RLConfig | dict[str, Any] | str | Path | None) -> RLConfig:
        """A validated `config_class` instance from a config, a dict, a YAML path or None (defaults)."""
        if config is None:
            return cls.config_class()
        if isinstance(config, dict):
            return cls.config_class.from_dict(config)
        if isinstance(config, (str, Path)):
            return cls.config_class.from_yaml(config)
        if isinstance(config, cls.config_class):
            return config
        if isinstance(config, RLConfig):
            # another algorithm's config: the fields set away from its defaults carry over, the rest take
            # this trainer's defaults (GRPOConfig(steps=10) for a DAPOTrainer is DAPO for 10 steps)
            defaults = type(config).defaults()
            changed = {k: v for k, v in config.to_dict().items() if v != defaults.get(k)}
            return cls.config_class.from_dict(changed)
        raise TypeError(f"config must be a {cls.config_class.__name__}, a dict or a YAML path, got {type(config)}")

    def _device(self) -> str:
        d = self.config.device
        return ("cuda" if torch.cuda.is_available() else "cpu") if d == "auto" else d

    def _load_model(self, model: Any, tokenizer: Any) -> tuple[Any, Any]:
        cfg = self.config
        if isinstance(model, (str, Path)):
            from agentgym.models import load_model

            model, tokenizer = load_model(str(model), device=self._device())
        elif cfg.device != "auto":
            model = model.to(cfg.device)
        if tokenizer is None:
            raise ValueError("pass the tokenizer along with a model module")
        if cfg.lora_r > 0 and not hasattr(model, "peft_config"):
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError as e:
                raise ImportError("lora_r > 0 needs peft: pip install peft (or agentgym[train])") from e
            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM")
            with warnings.catch_warnings():  # peft reads a transformers attribute that warns of its rename
                warnings.simplefilter("ignore", FutureWarning)
                model = get_peft_model(model, lora)
        if cfg.gradient_checkpointing:
            # non-reentrant checkpointing needs no input that requires grad (LoRA freezes the embeddings)
            inner = unwrap_peft(model)
            if hasattr(inner, "activation_checkpointing_enable"):  # transformers >= 5 name
                inner.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return model, tokenizer

    @property
    def is_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    def setup_models(self) -> None:
        """Hook: build extra modules (a critic) before the optimizer is created. Nothing by default."""
        return None

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer updates and gradient clipping measures (the policy's trainable parameters)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def _make_logger(self, log: Callable[[dict[str, Any]], None] | None) -> MetricLogger:
        cfg = self.config
        sinks = [s for s in cfg.report_to if not (log is not None and s == "console")]
        logger = make_logger(sinks, cfg.output_dir, run_name=cfg.run_name, config=cfg.to_dict(),
                             total_steps=cfg.steps, wandb_project=cfg.wandb_project, wandb_mode=cfg.wandb_mode)
        if log is not None:
            logger.add(CallbackSink(log))
        return logger

    # ------------------------------------------------------------------ rollout

    def _params(self, temperature: float | None = None) -> SamplingParams:
        cfg = self.config
        return SamplingParams(cfg.max_new_tokens, cfg.temperature if temperature is None else temperature)

    async def rollout(self, task_ids: Sequence[str], group_size: int | None = None,
                      temperature: float | None = None, training: bool = False) -> list[list[Trajectory]]:
        """`group_size` token-exact episodes of each task with the current policy (`training`: with the
        shapers' prompt changes)."""
        cfg = self.config
        size = group_size or cfg.group_size
        prepare = None
        if training and self.shapers:
            def prepare(messages: list[dict[str, Any]], task_id: str, index: int) -> list[dict[str, Any]]:
                for shaper in self.shapers:
                    messages = shaper.prompt(messages, task_id, index, size)
                return messages
        return await run_groups(self.make_env, self.engine, task_ids, size, self._params(temperature),
                                concurrency=cfg.concurrency, max_length=cfg.max_length, env_id=self.env_id,
                                envs=self._envs, prepare=prepare)

    async def acollect(self) -> Rollout:
        """The async body of `collect`: sample groups (with DAPO dynamic sampling when configured)."""
        cfg = self.config
        if not cfg.dynamic_sampling:
            groups = await self.rollout(self.sampler.next(cfg.tasks_per_step), training=True)
            return Rollout(groups, [t for g in groups for t in g], {"sampled_groups": len(groups)})
        seen: list[Trajectory] = []

        async def sample(n: int) -> list[list[Trajectory]]:
            groups = await self.rollout(self.sampler.next(n), training=True)
            seen.extend(t for g in groups for t in g)
            return groups

        result = await A.dynamic_sampling(sample, self.dynamic_sampling_key, cfg.tasks_per_step,
                                          cfg.max_sampling_rounds)
        return Rollout(result.groups, seen, {"sampled_groups": result.sampled_groups,
                                             "dropped_groups": result.dropped_groups,
                                             "sampling_rounds": result.rounds})

    def dynamic_sampling_key(self, trajectory: Trajectory) -> float:
        """Hook: what dynamic sampling compares within a group (drops groups where it is constant): the
        episode reward by default (DAPO); TAPO compares accuracy."""
        return float(trajectory.reward)

    def collect(self) -> Rollout:
        """Hook: this step's rollouts."""
        return asyncio.run(self.acollect())

    def shape_rewards(self, groups: list[list[Trajectory]]) -> list[list[Trajectory]]:
        """Hook: reshape trajectory/turn rewards before the token view (identity by default)."""
        return groups

    # ------------------------------------------------------------------ batch

    def build_batch(self, trajectories: Sequence[Trajectory]) -> TokenBatch:
        """Hook: the token view of the trajectories, with overlong shaping and truncation masking applied."""
        cfg = self.config
        batch = build_batch(trajectories, self.tokenizer, cfg.max_length, group_key=lambda t: t.task_id)
        if cfg.overlong_buffer > 0:
            apply_overlong_shaping(batch, cfg)
        if cfg.mask_truncated:
            batch.loss_mask[batch.truncated] = 0
        return batch

    @torch.no_grad()
    def score_rows(self, batch: TokenBatch, fn: Callable[[TokenBatch], torch.Tensor]) -> torch.Tensor:
        """Run `fn` (micro-batch on the device -> `(b, t)` tensor) over the batch without gradients and
        gather the results into one `(B, T)` CPU tensor."""
        out = torch.zeros(batch.input_ids.shape)
        size = self.config.micro_batch_size
        for i, micro in zip(range(0, len(batch), size), batch.split(size), strict=True):
            part = fn(micro.to(self.device)).float().cpu()
            out[i: i + part.shape[0], : part.shape[1]] = part
        return out

    def _ref_logprobs(self, micro: TokenBatch) -> torch.Tensor:
        cfg = self.config
        if self.ref_model is not None:
            model, ctx = self.ref_model, None
        else:  # LoRA: the reference policy is the base model, i.e. the adapter switched off
            model, ctx = self.model, self.model.disable_adapter()
        if ctx is None:
            return score_tokens(model, micro.input_ids, micro.attention_mask, micro.loss_mask, cfg.temperature,
                                bf16=cfg.bf16).logprobs
        with ctx:
            return score_tokens(model, micro.input_ids, micro.attention_mask, micro.loss_mask, cfg.temperature,
                                bf16=cfg.bf16).logprobs

    def score_batch(self, batch: TokenBatch) -> None:
        """Hook: fill what needs the model before the update (reference log-probs when `kl_coef` > 0)."""
        if self.config.kl_coef > 0:
            batch.ref_logprobs = self.score_rows(batch, self._ref_logprobs)

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Hook: `(advantages, returns)` for the batch (the configured critic-free estimator by default)."""
        return compute_advantages(batch, self.config)

    # ------------------------------------------------------------------ loss

    def forward(self, micro: TokenBatch) -> TokenScores:
        """Hook: score a micro-batch with the policy (log-probs, and entropies when asked for)."""
        cfg = self.config
        entropy = "grad" if cfg.entropy_coef > 0 else ("detached" if cfg.log_entropy else None)
        return score_tokens(self.model, micro.input_ids, micro.attention_mask, micro.loss_mask, cfg.temperature,
                            entropy=entropy, bf16=cfg.bf16)

    def policy_loss(self, logprobs: torch.Tensor, micro: TokenBatch,
                    counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Hook: the policy-gradient term of a micro-batch (the registered loss named by `policy_loss`)."""
        return get_policy_loss(self.config.policy_loss).fn(logprobs, micro, self.config, counts)

    def objective(self, scores: TokenScores, micro: TokenBatch,
                  counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Hook: the whole loss of a micro-batch: policy loss + `kl_coef` * KL - `entropy_coef` * entropy."""
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

    def loss_counts(self, mb: TokenBatch) -> dict[str, float]:
        """The minibatch-wide token/sequence counts the aggregation divides by (see `aggregate_loss`)."""
        mode = self.config.loss_agg
        if mode == "token-mean":
            return {"num_tokens": float(max(mb.num_policy_tokens, 1))}
        counts = {"num_seqs": float(max(int((mb.loss_mask.sum(-1) > 0).sum()), 1))}
        if mode == "seq-mean-token-sum-norm":
            counts["horizon"] = float(self.config.max_policy_tokens or self.config.max_length)
        return counts

    # ------------------------------------------------------------------ update

    def can_skip_zero_advantage_rows(self) -> bool:
        """Whether rows with all-zero advantages contribute nothing to the loss (no KL, entropy or value term)."""
        cfg = self.config
        return cfg.skip_zero_advantages and cfg.kl_coef == 0 and cfg.entropy_coef == 0

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def optimizer_step(self) -> dict[str, float]:
        """Clip gradients (reporting their norm before clipping) and step the optimizer."""
        limit = self.config.max_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(self.trainable_parameters(), limit if limit is not None else float("inf"))
        self.optimizer.step()
        return {"grad_norm": float(norm)}

    def scheduler_step(self) -> None:
        """Advance the per-step LR schedule (also on steps that made no update: the schedule counts steps)."""
        with warnings.catch_warnings():  # torch warns when the optimizer has not stepped yet
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
            self.scheduler.step()

    def optimize(self, batch: TokenBatch) -> dict[str, float]:
        """PPO epochs over the batch: shuffled minibatches (one optimizer step each), micro-batched."""
        cfg = self.config
        totals: dict[str, float] = {}
        n_updates = 0
        mb_size = cfg.mini_batch_size or len(batch)
        shuffle = cfg.ppo_epochs > 1 or mb_size < len(batch)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(len(batch)).tolist() if shuffle else list(range(len(batch)))
            for start in range(0, len(batch), mb_size):
                mb = batch.select(order[start: start + mb_size])
                if mb.num_policy_tokens == 0:
                    continue
                counts = self.loss_counts(mb)  # from the whole minibatch, so skipping rows below changes nothing
                rows = list(range(len(mb)))
                if self.can_skip_zero_advantage_rows():
                    # a row whose advantages are all 0 adds exactly 0 to the policy-gradient loss and its gradient
                    assert mb.advantages is not None
                    rows = [i for i, live in enumerate((mb.advantages.abs() * mb.loss_mask).sum(-1) > 0) if live]
                    if not rows:
                        continue
                self.zero_grad()
                added: dict[str, float] = {}
                weighted: dict[str, float] = {}
                seen_tokens = 0
                for micro in mb.select(rows).split(cfg.micro_batch_size):
                    if micro.num_policy_tokens == 0:
                        continue
                    loss, metrics = self.loss(micro.to(self.device), counts)
                    loss.backward()
                    seen_tokens += micro.num_policy_tokens
                    for k, v in metrics.items():
                        if k in ADDITIVE_METRICS:
                            added[k] = added.get(k, 0.0) + float(v)
                        else:
                            weighted[k] = weighted.get(k, 0.0) + float(v) * micro.num_policy_tokens
                step_metrics = {**added, **{k: v / max(seen_tokens, 1) for k, v in weighted.items()},
                                **self.optimizer_step()}
                for k, v in step_metrics.items():
                    totals[k] = totals.get(k, 0.0) + v
                n_updates += 1
        self.zero_grad()
        out = {k: v / max(n_updates, 1) for k, v in totals.items()}
        out["updates"] = n_updates
        return out

    def sync_weights(self) -> None:
        """Hook: make the rollout engine sample from the updated policy."""
        self.engine.sync_weights(self.model)

    # ------------------------------------------------------------------ the loop

    def train_step(self) -> dict[str, Any]:
        """One rollout + update; returns its metrics (also appended to `history`)."""
        t0 = time.perf_counter()
        self.engine.wake()
        rollout = self.collect()
        self.engine.sleep()
        t1 = time.perf_counter()
        groups = self.shape_rewards(rollout.groups)
        for shaper in self.shapers:
            groups = shaper.shape_rewards(groups)
        trajs = [t for g in groups for t in g]
        opt: dict[str, float] = {"updates": 0}
        policy_tokens, truncated = 0, 0.0
        lr = float(self.optimizer.param_groups[0]["lr"])
        if trajs:  # dynamic sampling may keep nothing: then there is nothing to learn from this step
            batch = self.build_batch(trajs)
            self.score_batch(batch)
            batch.advantages, batch.returns = self.compute_advantages(batch)
            for shaper in self.shapers:
                batch.advantages = shaper.shape_advantages(batch, batch.advantages, trajs)
            opt = self.optimize(batch)
            policy_tokens, truncated = batch.num_policy_tokens, float(batch.truncated.float().mean())
        t2 = time.perf_counter()
        if opt["updates"]:
            self.sync_weights()
        t3 = time.perf_counter()
        self.scheduler_step()
        self.step += 1
        sampled = rollout.sampled
        generated = sum(t.completion_tokens for t in sampled)
        metrics: dict[str, Any] = {
            "step": self.step,
            "reward": _mean([t.reward for t in sampled]),
            "success": _mean([float(t.success) for t in sampled]),
            "episodes": len(sampled),
            "trained_episodes": len(trajs),
            "turns": _mean([t.num_turns for t in sampled]),
            "response_length": _mean([t.completion_tokens for t in sampled]),
            "tool_calls": _mean([t.num_tool_calls for t in sampled]),
            "policy_tokens": policy_tokens,
            "truncated": truncated,
            "lr": lr,
            "tokens_per_second": generated / max(t1 - t0, 1e-9),
            "rollout_seconds": t1 - t0,
            "train_seconds": t2 - t1,
            "sync_seconds": t3 - t2,
            "step_seconds": t3 - t0,
            **rollout.stats,
            **opt,
        }
        self.history.append(metrics)
        return metrics

    def train(self, steps: int | None = None, minutes: float | None = None) -> list[dict[str, Any]]:
        """Train `steps` more steps (default: until `config.steps` steps are done, which continues a
        resumed run), evaluating, logging and checkpointing on the configured schedule. With `minutes`,
        also stop after the first step that ends past that much wall time (a time-budgeted run)."""
        cfg = self.config
        if minutes is not None and minutes <= 0:
            raise ValueError(f"minutes must be > 0, got {minutes}")
        n = steps if steps is not None else max(cfg.steps - self.step, 0)
        saved_at = None
        t0 = time.perf_counter()
        for _ in range(n):
            if minutes is not None and time.perf_counter() - t0 >= minutes * 60:
                break
            metrics = self.train_step()
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                metrics.update({f"eval_{k}": v for k, v in self.evaluate(n=cfg.eval_tasks).items()})
            if cfg.log_every and self.step % cfg.log_every == 0:
                self.logger.log(metrics, self.step)
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
                saved_at = self.step
        if cfg.checkpoint_every and n and saved_at != self.step:
            self.save_checkpoint()  # the final state, off the checkpoint_every grid
        return self.history

    def evaluate(self, task_ids: Sequence[str] | None = None, n: int = 100, temperature: float = 0.0,
                 split: str | None = None) -> dict[str, float]:
        """Success rate and mean reward on held-out tasks (greedy by default), one episode per task."""
        if task_ids is None:
            name = split or self.config.eval_split
            task_ids = self._envs[0].tasks.ids(name)[:n]
            if not task_ids:
                raise ValueError(f"the env has no {name!r} tasks to evaluate on; pass task_ids= or another split "
                                 "(config.eval_split)")
        was_training = self.model.training
        t0 = time.perf_counter()
        groups = asyncio.run(self.rollout(task_ids, group_size=1, temperature=temperature))
        self.model.train(was_training)
        trajs = [t for g in groups for t in g]
        return {
            "success": _mean([float(t.success) for t in trajs]),
            "reward": _mean([t.reward for t in trajs]),
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
                groups = asyncio.run(self.rollout(self.sampler.next(tasks or self.config.tasks_per_step)))
                pool = [t for g in groups for t in g]
            keep = successful(pool)
            stats = behaviour_cloning(self.model, self.tokenizer, keep, epochs=epochs, learning_rate=lr,
                                      micro_batch_size=self.config.micro_batch_size, max_length=self.config.max_length)
            stats["kept"], stats["sampled"] = len(keep), len(pool)
            self.sync_weights()
        return stats

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path) -> None:
        """Save the policy (full weights, or the LoRA adapter) and tokenizer with `save_pretrained`."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def extra_state(self) -> dict[str, Any]:
        """Hook: more state a checkpoint must keep (e.g. a critic and its optimizer). Empty by default."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Hook: restore `extra_state()`."""
        return None

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write a resumable checkpoint atomically; default `output_dir/checkpoint-NNNNNN` (then prune to
        `keep_last`). Holds: `model/` (save_pretrained: full weights or the LoRA adapter, and the tokenizer),
        `optimizer.pt`, `scheduler.pt`, `rng.pt` (Python, NumPy, torch, CUDA and engine RNG), `extra.pt`
        (subclass state) and `trainer_state.json` (step, data position, config, metric history)."""
        cfg = self.config
        if path is None:
            if cfg.output_dir is None:
                raise ValueError("save_checkpoint needs a path or config.output_dir")
            target = checkpoint_path(cfg.output_dir, self.step)
        else:
            target = Path(path)
        with atomic_directory(target) as tmp:
            save_model(self.model, tmp / "model")
            self.tokenizer.save_pretrained(tmp / "model")
            save_pickle(self.optimizer.state_dict(), tmp / "optimizer.pt")
            save_pickle(self.scheduler.state_dict(), tmp / "scheduler.pt")
            save_pickle({"global": rng_state(), "engine": self.engine.state_dict()}, tmp / "rng.pt")
            extra = self.extra_state()
            if extra:
                save_pickle(extra, tmp / "extra.pt")
            state = {"step": self.step, "trainer": self.name, "trainer_class": type(self).__name__,
                     "sampler": self.sampler.state_dict(), "config": cfg.to_dict(), "history": self.history}
            (tmp / STATE_FILE).write_text(json.dumps(state, default=_json_default))
        if path is None:
            prune_checkpoints(cfg.output_dir, cfg.keep_last)
        return target

    def load_checkpoint(self, path: str | Path) -> Path:
        """Restore a checkpoint (a checkpoint directory, or the latest under a run directory) in place."""
        path = resolve_checkpoint(path)
        state = json.loads((path / STATE_FILE).read_text())
        load_model_weights(self.model, path / "model")
        self.optimizer.load_state_dict(load_pickle(path / "optimizer.pt"))
        self.scheduler.load_state_dict(load_pickle(path / "scheduler.pt"))
        if (path / "extra.pt").is_file():
            self.load_extra_state(load_pickle(path / "extra.pt"))
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self.sampler.load_state_dict(state["sampler"])
        self.sync_weights()
        rng = load_pickle(path / "rng.pt")  # last: nothing above may consume random numbers after it
        set_rng_state(rng["global"])
        self.engine.load_state_dict(rng.get("engine", {}))
        self.resumed_from = path
        return path

    def close(self) -> None:
        """Finish the logging sinks (TensorBoard files, the W&B run)."""
        self.logger.close()

    def __enter__(self) -> RLTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(o: Any) -> Any:
    if isinstance(o, torch.Tensor) and o.numel() == 1:
        return o.item()
    if hasattr(o, "__float__"):
        return float(o)
    return str(o)
