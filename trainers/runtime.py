"""`TrainerRuntime`: everything a trainer needs around its step.

Loading the policy (LoRA, gradient checkpointing), the reference policy, environments and the task order,
the rollout engine, optimizer and schedule, logging, the train loop's schedule (evaluate, log, checkpoint),
evaluation, the SFT warm start and checkpoint I/O. The step itself (collect -> rewards -> token batch ->
advantages -> optimize -> sync) is `RLTrainer` in `base.py`, which subclasses this.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
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
from agentgym.trainers.config import RLConfig, UnsupportedSetup
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.distributed import (
    DistContext,
    PolicyScorer,
    broadcast_module,
    full_optimizer_state,
    full_weights_on_main,
    load_full_optimizer_state,
    load_full_state_dict,
    shard_policy,
)
from agentgym.trainers.distributed import init as init_distributed
from agentgym.trainers.engines.base import RolloutEngine
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.episodes import TaskSampler, run_groups
from agentgym.trainers.logging import CallbackSink, MetricLogger, make_logger
from agentgym.trainers.modeling import score_tokens, unwrap_peft
from agentgym.trainers.optim import make_adamw, make_lr_scheduler
from agentgym.trainers.rollout_workers import ShaperPrompt
from agentgym.trainers.shapers import Shaper

from agentgym.episode import env_factory
from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global RNGs (envs and user code may draw from any of them)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; anything else as given."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def load_policy(model: Any, tokenizer: Any, cfg: RLConfig) -> tuple[Any, Any]:
    """The policy and its tokenizer from a module or a model spec, with LoRA and gradient checkpointing
    applied as `cfg` says."""
    if isinstance(model, (str, Path)):
        from agentgym.models import load_model

        model, tokenizer = load_model(str(model), device=resolve_device(cfg.device))
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


class TrainerRuntime:
    """The parts of a trainer around its step (the step is `RLTrainer`).

    Args:
        model: a causal LM module, or a model spec for `agentgym.models.load_model` ("smollm2", a folder).
        env: an env id ("Arithmetic-v0"), an env class or zero-argument factory, or an env made by `make`.
        config: a `config_class` instance, a dict, or a YAML path (another algorithm's config converts).
        tokenizer: required when `model` is a module.  env_kwargs: keyword arguments for the env.
        train_tasks: task ids to train on (default: the env's `train_split`).
        engine: a `RolloutEngine` (default: `HFEngine` on the model itself).
        ref_model: the KL reference (default when `kl_coef` > 0: a frozen copy, or LoRA switched off).
        optimizer: default AdamW.  log: called with each step's metrics instead of the console sink.
        resume_from: a checkpoint or run directory (also `config.resume=True` with `config.output_dir`).
        shapers: reward / advantage shapers (`agentgym.trainers.shapers`) run after the trainer's own stages.
        rollout_workers: play rollouts on this many Ray actors, each with its own envs and a copy of the policy
            that the trainer updates after every optimizer step (`agentgym.trainers.rollout_workers`); 0: in
            this process.  ray_address: the Ray cluster the workers join (default: this process's Ray instance,
            else a new local one).  rollout_actor_options: Ray actor options of the workers (`num_gpus`, ...).
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
        rollout_workers: int = 0,
        ray_address: str | None = None,
        rollout_actor_options: dict[str, Any] | None = None,
    ) -> None:
        checkpoint = resolve_checkpoint(resume_from) if resume_from is not None else None
        if config is None and checkpoint is not None:
            config = json.loads((checkpoint / STATE_FILE).read_text())["config"]
        self.config = cfg = self.coerce_config(config)
        if checkpoint is None and cfg.resume and cfg.output_dir:
            checkpoint = latest_checkpoint(cfg.output_dir)
        self.resumed_from: Path | None = None
        self.shapers = list(shapers)
        # under torchrun: join the job first (on CUDA, "cuda" then means this rank's GPU)
        self.dp: DistContext = init_distributed(cfg.device)
        seed_everything(cfg.seed)
        # 1. the policy (LoRA and gradient checkpointing applied here)
        self.model, self.tokenizer = load_policy(model, tokenizer, cfg)
        self.model.train()
        self.device = next(self.model.parameters()).device
        rollout_model, ref_model = self._setup_data_parallel(engine, ref_model)
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
        self.engine = engine or HFEngine(rollout_model, self.tokenizer, max_batch_size=cfg.rollout_batch_size,
                                         seed=cfg.seed + self.dp.rank, bf16=cfg.bf16)
        self.rollout_pool: Any = None
        if rollout_workers:
            from agentgym.trainers.rollout_workers import start_rollout_workers

            self.rollout_pool = start_rollout_workers(self, env, env_kwargs, rollout_workers, ray_address,
                                                      rollout_actor_options)
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

    @property
    def is_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    def _setup_data_parallel(self, engine: RolloutEngine | None, ref_model: Any) -> tuple[Any, Any]:
        """Under torchrun: plain copies of the policy for the default rollout engine (synced with the
        gathered weights after each update) and the KL reference, then FSDP2 sharding of the policy
        (`self.scorer` scores it). Returns `(rollout model, reference model)`; single process: the policy
        itself and `ref_model` unchanged, and no sharding."""
        self.scorer: PolicyScorer | None = None
        #: a module with the policy's current weights that can run on its own (no collectives): the policy
        #: itself, or under data parallelism the rollout copy (None with an engine of its own, e.g. vLLM)
        self.plain_policy: Any = self.model
        if not self.dp.is_distributed:
            return self.model, ref_model
        cfg = self.config
        unsupported = [what for what, bad in [("LoRA (lora_r > 0)", self.is_lora),
                                              ("a separate critic or value head (PPO)", self.name == "ppo")] if bad]
        if unsupported:
            raise UnsupportedSetup(f"data-parallel training does not support {', '.join(unsupported)}; "
                                   "run it in one process")
        if self.dp.device.type == "cuda" and self.device != self.dp.device:  # this rank's GPU
            self.model.to(self.dp.device)
            self.device = self.dp.device
        broadcast_module(self.model, self.dp)  # every rank starts from rank 0's weights
        rollout_model = copy.deepcopy(self.model) if engine is None else None
        if cfg.kl_coef > 0 and ref_model is None:
            ref_model = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.scorer = shard_policy(self.model, self.dp, broadcast=False)
        self.plain_policy = rollout_model
        return rollout_model, ref_model

    def setup_models(self) -> None:
        """Hook: build extra modules (a critic) before the optimizer is created. Nothing by default."""
        return None

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer updates and gradient clipping measures (the policy's trainable parameters)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def _make_logger(self, log: Callable[[dict[str, Any]], None] | None) -> MetricLogger:
        cfg = self.config
        if not self.dp.is_main:  # data parallel: rank 0 logs the metrics reduced over all ranks
            return MetricLogger()
        sinks = [s for s in cfg.report_to if not (log is not None and s == "console")]
        logger = make_logger(sinks, cfg.output_dir, run_name=cfg.run_name, config=cfg.to_dict(),
                             total_steps=cfg.steps, wandb_project=cfg.wandb_project, wandb_mode=cfg.wandb_mode)
        if log is not None:
            logger.add(CallbackSink(log))
        return logger

    def _params(self, temperature: float | None = None) -> SamplingParams:
        cfg = self.config
        return SamplingParams(cfg.max_new_tokens, cfg.temperature if temperature is None else temperature)

    async def rollout(self, task_ids: Sequence[str], group_size: int | None = None,
                      temperature: float | None = None, training: bool = False) -> list[list[Trajectory]]:
        """`group_size` token-exact episodes of each task with the current policy (`training`: with the
        shapers' prompt changes)."""
        cfg = self.config
        size = group_size or cfg.group_size
        prepare = ShaperPrompt(self.shapers, size) if training and self.shapers else None
        return await run_groups(self.make_env, self.engine, task_ids, size, self._params(temperature),
                                concurrency=cfg.concurrency, max_length=cfg.max_length, env_id=self.env_id,
                                envs=self._envs, prepare=prepare, pool=self.rollout_pool)

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

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def optimizer_step(self) -> dict[str, float]:
        """Clip gradients (reporting their norm before clipping) and step the optimizer."""
        limit = self.config.max_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(self.trainable_parameters(), limit if limit is not None else float("inf"))
        self.optimizer.step()
        if hasattr(norm, "full_tensor"):  # FSDP2: the global norm, as a replicated DTensor
            norm = norm.full_tensor()
        return {"grad_norm": float(norm)}

    def scheduler_step(self) -> None:
        """Advance the per-step LR schedule (also on steps that made no update: the schedule counts steps)."""
        with warnings.catch_warnings():  # torch warns when the optimizer has not stepped yet
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
            self.scheduler.step()

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
                self.logger.log_episodes(getattr(self, "sampled_episodes", ()), self.step)
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
        # data parallel: each rank plays its share of the tasks, the results are summed over ranks
        groups = asyncio.run(self.rollout(self.dp.shard(task_ids), group_size=1, temperature=temperature))
        self.model.train(was_training)
        trajs = [t for g in groups for t in g]
        n, successes, rewards = self.dp.sum([len(trajs), sum(float(t.success) for t in trajs),
                                             sum(t.reward for t in trajs)])
        return {
            "success": successes / n if n else 0.0,
            "reward": rewards / n if n else 0.0,
            "n": int(n),
            "seconds": self.dp.max([time.perf_counter() - t0])[0],
        }

    def warm_start(self, trajectories: Sequence[Trajectory] | None = None, *, rounds: int = 1,
                   tasks: int | None = None, epochs: int = 1, learning_rate: float | None = None,
                   on_log: Callable[[int, int, float], None] | None = None) -> dict[str, float]:
        """Behaviour cloning on successful trajectories before RL (expert iteration when none are given).

        With `trajectories`, clone the successful ones: the policy tokens of episodes a token-level policy
        generated (the recorded token view), and the assistant messages, under the tokenizer's chat template,
        of demonstrations by message-level agents (an API model, a scripted schedule or oracle). Without, run
        `rounds` of expert iteration: sample `group_size` episodes on `tasks` training tasks with the current
        policy, keep the successes, clone. `on_log(step, total, loss)` reports the demonstrations' SFT every 10 steps.
        """
        from agentgym.trainers.sft import behaviour_cloning, chat_sft, successful

        if self.scorer is not None:
            raise UnsupportedSetup("warm_start runs in one process: warm-start there, save a checkpoint and "
                                   "resume it under torchrun")
        lr = learning_rate or self.config.learning_rate
        stats: dict[str, float] = {}
        for _ in range(1 if trajectories is not None else rounds):
            if trajectories is not None:
                pool = list(trajectories)
            else:
                groups = asyncio.run(self.rollout(self.sampler.next(tasks or self.config.tasks_per_step)))
                pool = [t for g in groups for t in g]
            keep = successful(pool)
            recorded = [t for t in keep if all(turn.token_ids for turn in t.turns)]
            demos = [t for t in keep if not all(turn.token_ids for turn in t.turns)]
            stats = behaviour_cloning(self.model, self.tokenizer, recorded, epochs=epochs, learning_rate=lr,
                                      micro_batch_size=self.config.micro_batch_size, max_length=self.config.max_length)
            if demos:
                conversations = [c for t in demos for c in t.context_conversations()]
                lm = chat_sft(self.model, self.tokenizer, conversations, epochs=epochs, learning_rate=lr,
                              micro_batch_size=self.config.micro_batch_size, max_length=self.config.max_length,
                              log_every=10, on_log=on_log)
                stats.update({"demo_nll_first": lm.first_loss, "demo_nll_last": lm.losses[-1] if lm.losses else
                              float("nan"), "demo_tokens": lm.tokens, "demos": len(demos)})
            stats["kept"], stats["sampled"] = len(keep), len(pool)
            self.sync_weights()
        return stats

    def save(self, path: str | Path) -> None:
        """Save the policy (full weights, or the LoRA adapter) and tokenizer with `save_pretrained`
        (data parallel: every rank calls it, rank 0 writes the gathered weights)."""
        if self.scorer is not None:
            weights = full_weights_on_main(self.model, self.dp)
            if self.dp.is_main:
                save_model(self.model, Path(path), state_dict=weights)
                self.tokenizer.save_pretrained(path)
            self.dp.barrier()
            return
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
        # data parallel (every rank calls this): the shards are gathered to rank 0, which writes the same
        # files as a single process (full weights, index-keyed optimizer state), plus each rank's RNG
        sharded = self.scorer is not None
        weights = full_weights_on_main(self.model, self.dp) if sharded else None
        optim = full_optimizer_state(self.optimizer, self.dp) if sharded else self.optimizer.state_dict()
        rngs = self.dp.gather_objects({"global": rng_state(), "engine": self.engine.state_dict()})
        if self.dp.is_main:
            with atomic_directory(target) as tmp:
                save_model(self.model, tmp / "model", state_dict=weights)
                self.tokenizer.save_pretrained(tmp / "model")
                save_pickle(optim, tmp / "optimizer.pt")
                save_pickle(self.scheduler.state_dict(), tmp / "scheduler.pt")
                save_pickle({**rngs[0], "ranks": rngs} if len(rngs) > 1 else rngs[0], tmp / "rng.pt")
                extra = self.extra_state()
                if extra:
                    save_pickle(extra, tmp / "extra.pt")
                state = {"step": self.step, "trainer": self.name, "trainer_class": type(self).__name__,
                         "sampler": self.sampler.state_dict(), "config": cfg.to_dict(), "history": self.history,
                         "world_size": self.dp.world_size}
                (tmp / STATE_FILE).write_text(json.dumps(state, default=_json_default))
            if path is None:
                prune_checkpoints(cfg.output_dir, cfg.keep_last)
        self.dp.barrier()  # no rank reads or prunes the directory before it is complete
        return target

    def load_checkpoint(self, path: str | Path) -> Path:
        """Restore a checkpoint (a checkpoint directory, or the latest under a run directory) in place."""
        path = resolve_checkpoint(path)
        state = json.loads((path / STATE_FILE).read_text())
        if self.scorer is not None:  # data parallel: every rank reads the full files and keeps its shards
            load_model_weights(self.model, path / "model", load=load_full_state_dict)
            load_full_optimizer_state(self.optimizer, load_pickle(path / "optimizer.pt"))
        else:
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
        ranks = rng.get("ranks", [])
        if len(ranks) == self.dp.world_size > 1:  # the same number of ranks: each continues its own streams
            rng = ranks[self.dp.rank]
        set_rng_state(rng["global"])
        self.engine.load_state_dict(rng.get("engine", {}))
        self.resumed_from = path
        return path

    def close(self) -> None:
        """Finish the logging sinks (TensorBoard files, the W&B run) and stop the rollout workers."""
        self.logger.close()
        if self.rollout_pool is not None:
            self.rollout_pool.close()
            self.rollout_pool = None

    def __enter__(self) -> TrainerRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(o: Any) -> Any:
    if isinstance(o, torch.Tensor) and o.numel() == 1:
        return o.item()
    if hasattr(o, "__float__"):
        return float(o)
    return str(o)
