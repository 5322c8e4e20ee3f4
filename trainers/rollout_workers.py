"""A trainer's rollouts on Ray rollout workers (`RLTrainer(..., rollout_workers=N)`).

Each worker (`agentgym.distributed.RayRolloutPool`) holds its own envs and an `EngineReplica`: an `HFEngine`
over a copy of the policy, seeded `seed + worker index`. The trainer sends the sampling settings with every
rollout and, after each optimizer step (`RLTrainer.sync_weights`), puts the policy's state dict in Ray's
object store once; every worker loads it before its next episode. Workers play episodes through the same
`TokenAgent` as the in-process engine, so trajectories come back with the recorded token view (context ids,
generated ids, sampling log-probs) and the trainer builds its batch from them unchanged.

Ray is imported only when a pool starts; torch, transformers and the model move to the workers by pickle.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.episodes import engine_policy
from agentgym.trainers.shapers import Shaper

from agentgym.agents.base import Agent
from agentgym.models.generation import SamplingParams

#: what the trainer sends with each rollout: the sampling settings and its `max_length`
RolloutOptions = tuple[SamplingParams, int | None]


@dataclass
class ShaperPrompt:
    """The shapers' prompt changes for a group of `group_size` episodes (`Shaper.prompt`, in order); a
    picklable `PreparePrompt`, so that rollout workers apply the same ones."""

    shapers: Sequence[Shaper]
    group_size: int

    def __call__(self, messages: list[dict[str, Any]], task_id: str, index: int) -> list[dict[str, Any]]:
        for shaper in self.shapers:
            messages = shaper.prompt(messages, task_id, index, self.group_size)
        return messages


@dataclass
class EngineReplica:
    """A `WorkerPolicy`: the trainer's rollout engine rebuilt in a worker (see the module docstring).

    Args:
        model: a copy of the policy (moved to the worker's GPU if Ray gave it one).  tokenizer: its tokenizer.
        max_batch_size, bf16, max_model_len: as `HFEngine`.  seed: the worker in slot i seeds with seed + i.
    """

    model: Any
    tokenizer: Any
    max_batch_size: int = 64
    seed: int | None = None
    bf16: bool = False
    max_model_len: int | None = None
    engine: HFEngine | None = field(default=None, repr=False)

    @classmethod
    def of(cls, model: Any, tokenizer: Any, engine: HFEngine, seed: int | None) -> EngineReplica:
        """A replica of `engine` over a CPU copy of `model` (the trainer's module is left where it is)."""
        replica = copy.deepcopy(model).to("cpu").eval()
        return cls(replica, tokenizer, engine.max_batch_size, seed, engine.bf16, engine.context_window)

    def setup(self, worker_index: int) -> None:
        import ray

        device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
        self.engine = HFEngine(self.model.to(device), self.tokenizer, max_batch_size=self.max_batch_size,
                               seed=None if self.seed is None else self.seed + worker_index, bf16=self.bf16,
                               max_model_len=self.max_model_len)

    def policy(self, options: RolloutOptions | None) -> Agent:
        if self.engine is None:
            raise RuntimeError("EngineReplica.setup() was not called")
        params, max_length = options if options is not None else (SamplingParams(), None)
        return engine_policy(self.engine, params, max_length)

    def load_weights(self, state: dict[str, Any]) -> None:
        assert self.engine is not None
        with torch.no_grad():
            self.engine.model.load_state_dict(state)

    async def aclose(self) -> None:
        return None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "engine": None}


def start_rollout_workers(trainer: Any, env: Any, env_kwargs: dict[str, Any] | None, num_workers: int,
                          address: str | None = None, actor_options: dict[str, Any] | None = None) -> Any:
    """A `RayRolloutPool` of `num_workers` engine replicas of `trainer`'s policy on `env`; the trainer's
    `concurrency` episodes are spread over the workers."""
    from agentgym.distributed import RayRolloutPool

    if not isinstance(trainer.engine, HFEngine):
        raise ValueError("rollout_workers replicate the policy as an HFEngine in every worker; they cannot be "
                         f"combined with a {type(trainer.engine).__name__}")
    cfg = trainer.config
    replica = EngineReplica.of(trainer.model, trainer.tokenizer, trainer.engine, cfg.seed)
    return RayRolloutPool(env, replica, num_workers, env_kwargs=env_kwargs, address=address,
                          concurrency=max(1, -(-cfg.concurrency // num_workers)), actor_options=actor_options)


def policy_state(model: Any) -> dict[str, torch.Tensor]:
    """The policy's weights to push to the workers: its full state dict (FSDP shards gathered: under data
    parallelism every rank calls this, and each rank's workers get the whole policy), on the CPU."""
    from agentgym.trainers.distributed import full_state_dict

    return {k: v.detach().to("cpu") for k, v in full_state_dict(model).items()}
