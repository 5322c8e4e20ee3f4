"""Token-exact sampling from a `transformers` causal LM.

`generate_batch` runs its own decoding loop over a KV cache instead of `model.generate` so that it can
(1) record the log-prob of every sampled token under the sampling distribution (logits / temperature;
temperature 1 when greedy; top-p truncation not applied), the same quantity a trainer scores with
`score_tokens(..., temperature)`, so the first PPO ratio of an on-policy batch is 1, (2) stop each row at its own EOS or stop string, (3) drop
finished rows from the batch instead of decoding padding for them, (4) run decode steps' linear layers in
the layout the CPU BLAS streams fastest (`SmallBatchLinear`), and (5) prefill shared work once:
identical prompts (a group's first turn) and the prefix all prompts share (the system prompt and tool
schemas, a group's conversation so far).

`BatchingGenerator` collects concurrent requests from many episodes into one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from agentgym.models.kv_cache import reserved_cache
from agentgym.models.small_batch_linear import SmallBatchLinear


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. `temperature=0` is greedy; `stop` strings end a row (and are kept in its text);
    `ignore_eos` decodes past end-of-sequence tokens up to `max_new_tokens` (fixed-length load tests, as
    vLLM's parameter of that name)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False


@dataclass
class Generation:
    """One completion: the exact token ids, their log-probs, the decoded text and why it ended."""

    token_ids: list[int]
    logprobs: list[float]
    text: str
    # "stop" (EOS or a stop string), "length" (max_new_tokens), "time_limit" (the batcher's per-request
    # limit) or "cancelled" (the caller went away)
    finish_reason: str
    prompt_token_ids: list[int] = field(default_factory=list)
    stop_reason: str | None = None  # the stop string that ended it, if any


@dataclass
class RowControl:
    """Ends one row of a running batch early: when its caller has gone away (`cancelled`, set from any
    thread) or at `deadline` (`time.monotonic()`); checked before every decode step."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None

    def reason(self, now: float) -> str | None:
        if self.cancelled.is_set():
            return "cancelled"
        if self.deadline is not None and now >= self.deadline:
            return "time_limit"
        return None


def _sample(logits: torch.Tensor, params: SamplingParams,
            generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens and their log-probs under the sampling distribution (logits / temperature; the raw
    logits when greedy). Top-p only narrows where the draw may land."""
    logp = torch.log_softmax(logits / params.temperature if params.temperature > 0 else logits, dim=-1)
    if params.temperature <= 0:
        tokens = logits.argmax(dim=-1)
    else:
        probs = logp.exp()
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(dim=-1) - sorted_p < params.top_p
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


class _StopChecker:
    """Finds stop strings in the tail of a row's text without decoding the whole row each step."""

    def __init__(self, tokenizer: Any, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        longest = max((len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in self.stop), default=0)
        self.window = longest + 3

    def match(self, tokens: list[int]) -> str | None:
        if not self.stop:
            return None
        tail = self.tokenizer.decode(tokens[-self.window:], skip_special_tokens=False)
        for s in self.stop:
            if s in tail:
                return s
        return None


def _accepts_logits_to_keep(model: Any) -> bool:
    """Whether the model's forward can skip the LM head on all but the last position (prefill)."""
    import inspect

    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all `prompts` share."""
    first, k = prompts[0], min(len(p) for p in prompts)
    for p in prompts[1:]:
        i = 0
        while i < k and p[i] == first[i]:
            i += 1
        k = i
    return k


def _prefill(
    model: Any, prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device, kw: dict[str, Any],
    reserve: int = 0,
) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the prompts through the model once, sharing work: identical prompts are computed once, and the
    prefix every distinct prompt shares (a system prompt, a group's conversation so far) once for all.

    The distinct prompts' remainders are left-padded *after* the shared prefix, so a row reads
    `[prefix][pad...][own tokens]`: the attention mask has a hole, positions skip it, and the last column
    is every row's last prompt token. Returns the KV cache, next-token logits, attention mask and the last
    position id, all with one row per prompt. The cache keeps room for `reserve` more tokens.
    """
    n = len(prompts)
    unique: dict[tuple[int, ...], int] = {}
    row_of = [unique.setdefault(tuple(p), len(unique)) for p in prompts]
    distinct = [list(p) for p in unique]
    if len(distinct) == 1:
        shared = len(distinct[0])
    else:  # leave every distinct prompt at least one token of its own, so its next-token logits come out of
        # the second pass (a prompt that is the whole prefix of another one still gets its own row there)
        shared = min(_common_prefix(distinct), min(len(p) for p in distinct) - 1)
    past = reserved_cache(model, reserve)
    if shared:
        prefix = torch.tensor([distinct[0][:shared]], dtype=torch.long, device=device)
        out = model(input_ids=prefix, attention_mask=torch.ones_like(prefix), past_key_values=past,
                    use_cache=True, **kw)
        past = out.past_key_values
    if len(distinct) == 1:
        logits = out.logits[:, -1, :].float()
        attn = torch.ones((1, shared), dtype=torch.long, device=device)
        pos = torch.full((1, 1), shared - 1, dtype=torch.long, device=device)
    else:
        rest = [p[shared:] for p in distinct]
        width = max(len(r) for r in rest)
        ids = torch.full((len(rest), width), pad_id, dtype=torch.long)
        own = torch.zeros((len(rest), width), dtype=torch.long)
        for i, r in enumerate(rest):
            if r:
                ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
                own[i, width - len(r):] = 1
        attn = torch.cat([torch.ones((len(rest), shared), dtype=torch.long), own], dim=-1).to(device)
        pos_all = (attn.cumsum(-1) - 1).clamp(min=0)
        if shared:
            past.batch_repeat_interleave(len(rest))
        out = model(input_ids=ids.to(device), attention_mask=attn, position_ids=pos_all[:, shared:],
                    past_key_values=past, use_cache=True, **kw)
        past = out.past_key_values
        logits = out.logits[:, -1, :].float()
        pos = pos_all[:, -1:]
    if n > 1:  # back to one row per prompt
        idx = torch.tensor(row_of, device=device)
        past.batch_select_indices(idx)
        logits, attn, pos = logits[idx], attn[idx], pos[idx]
    return past, logits, attn, pos


@torch.no_grad()
def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    params: SamplingParams,
    generator: torch.Generator | None = None,
    controls: Sequence[RowControl | None] | None = None,
) -> list[Generation]:
    """Sample one completion per prompt (left-padded batch, per-row stopping, finished rows dropped).

    `controls` (one per prompt, optional) end rows early: a cancelled row or one past its deadline is
    dropped before the next decode step, with finish reason "cancelled" or "time_limit".
    """
    device = next(model.parameters()).device
    n = len(prompts)
    if n == 0:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("generate_batch needs a non-empty prompt for every row")
    eos_ids = set()
    for attr in ("eos_token_id",):
        v = getattr(model.generation_config, attr, None) or getattr(tokenizer, attr, None)
        if isinstance(v, int):
            eos_ids.add(v)
        elif isinstance(v, (list, tuple)):
            eos_ids.update(int(x) for x in v)
    if tokenizer.eos_token_id is not None:
        eos_ids.add(int(tokenizer.eos_token_id))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos_ids), 0)
    last_only = _accepts_logits_to_keep(model)
    kw: dict[str, Any] = {"logits_to_keep": 1} if last_only else {}
    past, logits, attn, cur_pos = _prefill(model, prompts, pad_id, device, kw, reserve=params.max_new_tokens)

    checker = _StopChecker(tokenizer, params.stop)
    tokens: list[list[int]] = [[] for _ in range(n)]
    logps: list[list[float]] = [[] for _ in range(n)]
    reasons: list[str] = ["length"] * n
    stop_reasons: list[str | None] = [None] * n
    active = list(range(n))  # original row index of each batch row
    controlled = [(i, c) for i, c in enumerate(controls or ()) if c is not None]
    fast_linear = SmallBatchLinear() if device.type == "cpu" else contextlib.nullcontext()
    for step in range(params.max_new_tokens):
        next_tok, lp = _sample(logits, params, generator)
        keep: list[int] = []
        toks, lps = next_tok.tolist(), lp.tolist()
        for b, row in enumerate(active):
            tokens[row].append(toks[b])
            logps[row].append(lps[b])
            if toks[b] in eos_ids and not params.ignore_eos:
                reasons[row] = "stop"
                continue
            hit = checker.match(tokens[row])
            if hit is not None:
                reasons[row], stop_reasons[row] = "stop", hit
                continue
            keep.append(b)
        if controlled and keep:
            now = time.monotonic()
            ended = {i: r for i, c in controlled if (r := c.reason(now)) is not None}
            for b in keep:
                if active[b] in ended:
                    reasons[active[b]] = ended[active[b]]
            keep = [b for b in keep if active[b] not in ended]
        if not keep or step + 1 == params.max_new_tokens:
            break
        attn = torch.cat([attn, torch.ones((attn.shape[0], 1), dtype=attn.dtype, device=device)], dim=-1)
        cur_ids = next_tok[:, None]
        cur_pos = cur_pos[:, -1:] + 1
        if len(keep) < len(active):
            idx = torch.tensor(keep, device=device)
            past.batch_select_indices(idx)
            attn, cur_ids, cur_pos = attn[idx], cur_ids[idx], cur_pos[idx]
            active = [active[b] for b in keep]
        with fast_linear:
            out = model(input_ids=cur_ids, attention_mask=attn, position_ids=cur_pos, past_key_values=past,
                        use_cache=True, **kw)
        past = out.past_key_values
        logits = out.logits[:, -1, :].float()
    return [
        Generation(
            token_ids=tokens[i],
            logprobs=logps[i],
            text=tokenizer.decode(tokens[i], skip_special_tokens=True),
            finish_reason=reasons[i],
            prompt_token_ids=list(prompts[i]),
            stop_reason=stop_reasons[i],
        )
        for i in range(n)
    ]


@dataclass
class _Request:
    prompt: list[int]
    params: SamplingParams
    future: asyncio.Future[Generation]
    control: RowControl


class RequestBatcher(ABC):
    """Serves `generate` calls from many coroutines by batching them through one `generate_batch`.

    Requests that arrive within `max_wait` seconds of each other and share sampling parameters run as one
    batch (at most `max_batch_size` rows), on a worker thread when `run_in_thread` (so the event loop keeps
    stepping envs) or inline. A failing batch hands its exception to every waiting caller.

    Limits that keep one request from holding everyone else: with `lanes` > 1, up to that many batches run
    at once (a short request that arrives while a long batch decodes gets its own batch instead of waiting
    for the long one to end); `request_timeout` seconds after its batch starts a request ends with finish
    reason "time_limit"; a caller that is cancelled (a client that went away) frees its row at the next
    decode step.
    """

    run_in_thread: bool = True

    def __init__(self, max_batch_size: int = 16, max_wait: float = 0.01, lanes: int = 1,
                 request_timeout: float | None = None) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, got {lanes}")
        if request_timeout is not None and request_timeout <= 0:
            raise ValueError(f"request_timeout must be positive seconds, got {request_timeout}")
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.lanes = lanes
        self.request_timeout = request_timeout
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._decoding = 0

    def load(self) -> dict[str, int]:
        """Requests waiting for a batch, and rows in batches now decoding."""
        return {"queued": self._queue.qsize() if self._queue is not None else 0, "decoding": self._decoding}

    @abstractmethod
    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        """One completion per prompt, in order (blocking); `controls` may end rows early."""

    async def generate(self, prompt: Sequence[int], params: SamplingParams) -> Generation:
        """Sample one completion; concurrent calls are batched together. Cancelling the caller frees its row."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._serve())
        fut: asyncio.Future[Generation] = loop.create_future()
        control = RowControl()
        fut.add_done_callback(lambda f: control.cancelled.set() if f.cancelled() else None)
        assert self._queue is not None
        self._queue.put_nowait(_Request(list(prompt), params, fut, control))
        return await fut

    async def _next_batch(self, queue: asyncio.Queue[_Request]) -> list[_Request]:
        loop = asyncio.get_running_loop()
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
        return [r for r in batch if not r.future.done()]  # callers that went away while queued

    async def _run(self, reqs: list[_Request], params: SamplingParams) -> None:
        if self.request_timeout is not None:
            start = time.monotonic()
            for r in reqs:
                r.control.deadline = start + self.request_timeout
        prompts, controls = [r.prompt for r in reqs], [r.control for r in reqs]
        self._decoding += len(reqs)
        try:
            if self.run_in_thread:
                outs = await asyncio.to_thread(self.generate_batch, prompts, params, controls)
            else:
                outs = self.generate_batch(prompts, params, controls)
        except Exception as e:  # hand the failure to every waiting caller
            for r in reqs:
                if not r.future.done():
                    r.future.set_exception(e)
            return
        finally:
            self._decoding -= len(reqs)
        for r, o in zip(reqs, outs, strict=True):
            if not r.future.done():
                r.future.set_result(o)

    async def _serve(self) -> None:
        assert self._queue is not None
        queue = self._queue
        # inline batches block the loop anyway: one at a time
        lanes = asyncio.Semaphore(self.lanes if self.run_in_thread else 1)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await lanes.acquire()  # a free lane first, so a batch holds whatever queued meanwhile
                try:
                    batch = await self._next_batch(queue)
                except BaseException:
                    lanes.release()
                    raise
                by_params: dict[SamplingParams, list[_Request]] = {}
                for r in batch:
                    by_params.setdefault(r.params, []).append(r)
                if not by_params:
                    lanes.release()
                    continue
                groups = list(by_params.items())
                # one lane per batch; sampling settings that differ run one after the other in that lane

                async def run_groups(groups: list[tuple[SamplingParams, list[_Request]]] = groups) -> None:
                    try:
                        for params, reqs in groups:
                            await self._run(reqs, params)
                    finally:
                        lanes.release()

                task = asyncio.get_running_loop().create_task(run_groups())
                running.add(task)
                task.add_done_callback(running.discard)
                if not self.run_in_thread:
                    await task
        finally:
            for task in list(running):
                task.cancel()

    async def aclose(self) -> None:
        """Stop the batching worker of the current event loop."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._worker
            self._worker = None


class BatchingGenerator(RequestBatcher):
    """A `RequestBatcher` over a local transformers model (`generate_batch` above), at most `lanes` batches
    at a time through the model across event loops, with a seeded CPU sampling generator."""

    def __init__(self, model: Any, tokenizer: Any, max_batch_size: int = 16, max_wait: float = 0.01,
                 seed: int | None = None, lanes: int = 1, request_timeout: float | None = None) -> None:
        super().__init__(max_batch_size, max_wait, lanes, request_timeout)
        self.model = model
        self.tokenizer = tokenizer
        self._generator = torch.Generator(device="cpu")
        if seed is not None:
            self._generator.manual_seed(seed)
        self._slots = threading.BoundedSemaphore(lanes)

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        with self._slots:
            gen = self._generator if next(self.model.parameters()).device.type == "cpu" else None
            return generate_batch(self.model, self.tokenizer, prompts, params, gen, controls)

