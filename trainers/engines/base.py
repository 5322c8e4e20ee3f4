"""The rollout-engine interface: sample token-exact completions for many concurrent episodes.

An engine turns prompt token ids into `Generation`s (exact token ids, their log-probs under the sampling
policy at the sampling temperature, as the trainer scores them; the decoded text, why it stopped). `generate` is the async entry point: calls
that arrive together from concurrent episodes are gathered into one `generate_batch` call on a worker
thread, so the event loop keeps stepping environments meanwhile (an engine that computes on the CPU
can set `run_in_thread = False`: torch ops issued from a worker thread ran ~25% slower here). After each optimizer update a trainer
calls `sync_weights(model)`; engines that share the GPU with the trainer free memory in `sleep()` and
take it back in `wake()`.
"""

from __future__ import annotations

from typing import Any

from agentgym.models.generation import Generation, RequestBatcher, SamplingParams

__all__ = ["Generation", "RolloutEngine", "SamplingParams"]


class RolloutEngine(RequestBatcher):
    """Base class of rollout engines: a `RequestBatcher` (concurrent episodes' requests batched into one
    `generate_batch`) with the trainer-facing hooks below.

    Args:
        tokenizer: the policy's tokenizer (the token view and prompts are built with it).
        max_batch_size: most rows in one `generate_batch` call.
        max_wait: seconds `generate` waits for more concurrent requests before running a batch.
    """

    def __init__(self, tokenizer: Any, max_batch_size: int = 64, max_wait: float = 0.005) -> None:
        super().__init__(max_batch_size, max_wait)
        self.tokenizer = tokenizer
        #: positions the model attends over (prompt + completion); None when unknown. An episode whose
        #: context reaches it ends truncated (`Trajectory.truncation_reason`).
        self.context_window: int | None = None

    def sync_weights(self, model: Any) -> None:
        """Make the engine sample from `model`'s current weights (no-op when it holds the same module)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for the engine to sample the same next tokens (e.g. its RNG)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` (no-op by default)."""
        return None

    def sleep(self) -> None:
        """Release accelerator memory between rollouts (no-op by default)."""
        return None

    def wake(self) -> None:
        """Take back what `sleep` released (no-op by default)."""
        return None
