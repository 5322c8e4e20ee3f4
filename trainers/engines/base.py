"""The rollout-engine interface: sample token-exact completions for many concurrent episodes.

An engine turns prompt token ids into `Generation`s (exact token ids, their log-probs under the sampling
policy at temperature 1, the decoded text, why it stopped). `generate` is the async entry point: calls
that arrive together from concurrent episodes are gathered into one `generate_batch` call on a worker
thread, so the event loop keeps stepping environments meanwhile (an engine that computes on the CPU
can set `run_in_thread = False`: torch ops issued from a worker thread ran ~25% slower here). After each optimizer update a trainer
calls `sync_weights(model)`; engines that share the GPU with the trainer free memory in `sleep()` and
take it back in `wake()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.models.generation import Generation, SamplingParams

__all__ = ["Generation", "RolloutEngine", "SamplingParams"]


@dataclass
class _Pending:
    prompt: list[int]
    params: SamplingParams
    future: asyncio.Future[Generation]


class RolloutEngine(ABC):
    """Base class of rollout engines.

    Args:
        tokenizer: the policy's tokenizer (the token view and prompts are built with it).
        max_batch_size: most rows in one `generate_batch` call.
        max_wait: seconds `generate` waits for more concurrent requests before running a batch.
    """

    run_in_thread: bool = True

    def __init__(self, tokenizer: Any, max_batch_size: int = 64, max_wait: float = 0.005) -> None:
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @abstractmethod
    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[Generation]:
        """One completion per prompt, in order (blocking)."""

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

    async def generate(self, prompt: Sequence[int], params: SamplingParams) -> Generation:
        """Sample one completion; concurrent calls are batched together."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._serve())
        fut: asyncio.Future[Generation] = loop.create_future()
        assert self._queue is not None
        self._queue.put_nowait(_Pending(list(prompt), params, fut))
        return await fut

    async def _serve(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch_size:
                # drain what is already queued, then wait briefly for stragglers
                try:
                    batch.append(queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            by_params: dict[SamplingParams, list[_Pending]] = {}
            for p in batch:
                if not p.future.done():
                    by_params.setdefault(p.params, []).append(p)
            for params, reqs in by_params.items():
                prompts = [r.prompt for r in reqs]
                try:
                    if self.run_in_thread:
                        outs = await asyncio.to_thread(self.generate_batch, prompts, params)
                    else:
                        outs = self.generate_batch(prompts, params)
                except Exception as e:  # hand the failure to every waiting episode
                    for r in reqs:
                        if not r.future.done():
                            r.future.set_exception(e)
                    continue
                for r, o in zip(reqs, outs, strict=True):
                    if not r.future.done():
                        r.future.set_result(o)

    async def aclose(self) -> None:
        """Stop the batching worker of the current event loop."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._worker
            self._worker = None
