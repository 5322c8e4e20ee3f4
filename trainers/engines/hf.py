"""`HFEngine`: rollouts from a `transformers` causal LM, on CPU or GPU, in the trainer's own process.

Decoding uses `agentgym.models.generation.generate_batch`, a KV-cache loop over the model's forward pass
rather than `model.generate`: it records the log-prob of every sampled token under the sampling temperature, stops
each row at EOS or its own stop string, and drops finished rows from the batch instead of decoding padding
for them. When the engine holds the trainer's model object, weight sync is free.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch
from agentgym.trainers.engines.base import RolloutEngine
from agentgym.trainers.modeling import autocast

from agentgym.models.context import context_window
from agentgym.models.generation import Generation, RowControl, SamplingParams, generate_batch


class HFEngine(RolloutEngine):
    """Rollout engine over a `transformers` model.

    Args:
        model: a causal LM (`AutoModelForCausalLM`); usually the very module being trained.
        tokenizer: its tokenizer.
        max_batch_size: most rows decoded together.
        max_wait: seconds to gather concurrent requests into a batch.
        seed: seeds the sampling generator (CPU) for reproducible rollouts.
        run_in_thread: decode on a worker thread so the event loop keeps stepping envs during a batch. Off by
            default on CPU, where torch ops issued from a non-main thread ran about 25% slower on this machine
            (and envs have little to do while a batch decodes); on by default on GPU.
        bf16: decode under bf16 autocast on CUDA (what a trainer with `bf16=True` trains under, so the
            sampling log-probs match the trainer's).
        max_model_len: the context window episodes must fit in (default: the model config's).
    """

    def __init__(self, model: Any, tokenizer: Any, max_batch_size: int = 64, max_wait: float = 0.005,
                 seed: int | None = None, run_in_thread: bool | None = None, bf16: bool = False,
                 max_model_len: int | None = None) -> None:
        super().__init__(tokenizer, max_batch_size, max_wait)
        self.model = model
        self.context_window = max_model_len or context_window(model, tokenizer)
        self.bf16 = bf16
        on_cpu = next(model.parameters()).device.type == "cpu"
        self.run_in_thread = (not on_cpu) if run_in_thread is None else run_in_thread
        self._lock = threading.Lock()
        self._generator = torch.Generator(device="cpu")
        if seed is not None:
            self._generator.manual_seed(seed)

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        out: list[Generation] = []
        with self._lock:
            was_training = self.model.training
            self.model.eval()
            try:
                device = next(self.model.parameters()).device
                for i in range(0, len(prompts), self.max_batch_size):
                    chunk = prompts[i: i + self.max_batch_size]
                    chunk_controls = controls[i: i + self.max_batch_size] if controls is not None else None
                    with autocast(device, self.bf16):
                        out += generate_batch(self.model, self.tokenizer, chunk, params,
                                              self._generator if device.type == "cpu" else None, chunk_controls)
            finally:
                self.model.train(was_training)
        return out

    def state_dict(self) -> dict[str, Any]:
        """The CPU sampling generator's state (CUDA sampling uses torch's global CUDA RNG, which a
        trainer checkpoint saves itself)."""
        return {"generator": self._generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self._generator.set_state(state["generator"])

    def sync_weights(self, model: Any) -> None:
        if model is self.model:
            return
        from agentgym.trainers.distributed import full_state_dict

        weights = full_state_dict(model)  # an FSDP2-sharded policy: the shards gathered (every rank calls this)
        with self._lock, torch.no_grad():
            self.model.load_state_dict(weights)
