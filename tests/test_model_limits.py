"""Context-window and load limits of local models, the batcher, and the agents and engines built on them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent / "trainers"))
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer

from agentgym.models.context import ContextWindowExceeded, completion_budget, context_window
from agentgym.models.generation import (
    Generation,
    RequestBatcher,
    RowControl,
    SamplingParams,
    generate_batch,
)
from agentgym.rollout import acollect

# ---------------------------------------------------------------------------------------------- the rule


def test_budget_fits_caps_or_rejects():
    assert completion_budget(100, 50, 200, strict=True) == 50
    assert completion_budget(100, 50, None, strict=True) == 50
    assert completion_budget(180, 50, 200, strict=False) == 20  # capped to what remains
    with pytest.raises(ContextWindowExceeded) as e:
        completion_budget(180, 50, 200, strict=True)
    assert (e.value.window, e.value.prompt_tokens, e.value.max_tokens) == (200, 180, 50)
    assert "200" in str(e.value) and "180" in str(e.value) and "50" in str(e.value)
    with pytest.raises(ContextWindowExceeded, match="maximum context length is 200 tokens"):
        completion_budget(200, 1, 200, strict=False)  # no room for a single token


def test_context_window_from_config_or_tokenizer():
    assert context_window(SimpleNamespace(config=SimpleNamespace(max_position_embeddings=8192))) == 8192
    assert context_window(SimpleNamespace(config=SimpleNamespace(n_positions=1024))) == 1024
    assert context_window(SimpleNamespace(config=None), SimpleNamespace(model_max_length=4096)) == 4096
    assert context_window(SimpleNamespace(config=None), SimpleNamespace(model_max_length=int(1e30))) is None


# ---------------------------------------------------------------------------------- rows ended early


@pytest.fixture(scope="module")
def tiny():
    tok = tiny_tokenizer()
    return tiny_model(tok), tok


def test_generate_batch_ends_cancelled_and_late_rows_only(tiny):
    model, tok = tiny
    prompt = tok("go call key", add_special_tokens=False)["input_ids"]
    params = SamplingParams(max_new_tokens=40, temperature=0.0)  # greedy: the same tokens on every row
    cancelled, late = RowControl(), RowControl(deadline=time.monotonic() - 1)
    cancelled.cancelled.set()
    outs = generate_batch(model, tok, [prompt, prompt, prompt], params, None, [cancelled, late, None])
    free = outs[2]
    assert free.token_ids[0] != tok.eos_token_id and len(free.token_ids) > 1  # the model does not stop at once
    assert [o.finish_reason for o in outs[:2]] == ["cancelled", "time_limit"]
    assert [o.token_ids for o in outs[:2]] == [free.token_ids[:1]] * 2  # one step, then dropped
    assert free.finish_reason in ("stop", "length")


class SteppingBatcher(RequestBatcher):
    """A batcher whose 'model' takes `step` seconds per token and honours row controls, like generate_batch."""

    def __init__(self, step: float = 0.02, **kw) -> None:
        super().__init__(max_batch_size=8, max_wait=0.001, **kw)
        self.step = step
        self.batches: list[int] = []

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        self.batches.append(len(prompts))
        n = len(prompts)
        done = [None] * n
        tokens = [0] * n
        for _ in range(params.max_new_tokens):
            live = [i for i in range(n) if done[i] is None]
            if not live:
                break
            time.sleep(self.step)
            now = time.monotonic()
            for i in live:
                tokens[i] += 1
                c = controls[i] if controls else None
                if c is not None and c.reason(now):
                    done[i] = c.reason(now)
        return [Generation([1] * tokens[i], [0.0] * tokens[i], "x" * tokens[i], done[i] or "length", list(p))
                for i, p in enumerate(prompts)]


async def _short_while_long_runs(lanes: int) -> tuple[float, Generation, Generation]:
    b = SteppingBatcher(lanes=lanes)
    long_task = asyncio.create_task(b.generate([1], SamplingParams(max_new_tokens=100)))  # ~2 s
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    short = await b.generate([2], SamplingParams(max_new_tokens=3))
    waited = time.monotonic() - t0
    long = await long_task
    await b.aclose()
    return waited, short, long


async def test_short_request_answered_while_a_long_one_decodes():
    waited, short, long = await _short_while_long_runs(lanes=2)
    assert waited < 0.8 and short.finish_reason == "length" and len(short.token_ids) == 3
    assert long.finish_reason == "length" and len(long.token_ids) == 100
    waited_one_lane, _, _ = await _short_while_long_runs(lanes=1)
    assert waited_one_lane > 1.0  # with one lane it had to wait for the long batch: the lanes are what helps


async def test_request_timeout_ends_a_long_request():
    b = SteppingBatcher(request_timeout=0.3)
    t0 = time.monotonic()
    out = await b.generate([1], SamplingParams(max_new_tokens=1000))
    assert out.finish_reason == "time_limit" and time.monotonic() - t0 < 2.0
    await b.aclose()


async def test_cancelled_caller_frees_its_row():
    b = SteppingBatcher()
    task = asyncio.create_task(b.generate([1], SamplingParams(max_new_tokens=1000)))
    await asyncio.sleep(0.2)
    assert b.load()["decoding"] == 1
    task.cancel()
    t0 = time.monotonic()
    while b.load()["decoding"] and time.monotonic() - t0 < 2:
        await asyncio.sleep(0.02)
    assert b.load()["decoding"] == 0  # the batch ended at the next step, not after 1000 steps
    await b.aclose()


def test_batcher_rejects_bad_limits():
    with pytest.raises(ValueError, match="lanes"):
        SteppingBatcher(lanes=0)
    with pytest.raises(ValueError, match="request_timeout"):
        SteppingBatcher(request_timeout=0)


# ------------------------------------------------------------------ episodes that outgrow the window


async def test_hf_agent_episode_that_outgrows_its_window_ends_truncated(smollm2_agent):
    from agentgym.registry import make

    agent = smollm2_agent
    env_kwargs = {"protocol": "tags", "max_turns": 10}
    env = make("Arithmetic-v0", **env_kwargs)
    lengths = {}
    for tid in (f"test-{i}" for i in range(8)):
        first, _ = await env.areset(options={"task_id": tid})
        lengths[tid] = len(agent.chat.prompt_ids(first))
    longest, shortest = max(lengths, key=lengths.get), min(lengths, key=lengths.get)
    assert lengths[longest] > lengths[shortest]
    window = lengths[longest]  # the longest opening prompt does not fit; the shortest leaves a few tokens
    saved, agent.context_window = agent.context_window, window
    try:
        trajs = await acollect("Arithmetic-v0", smollm2_agent, [longest, shortest], concurrency=2, progress=False,
                               env_kwargs=env_kwargs)
    finally:
        agent.context_window = saved
    by_task = {t.task_id: t for t in trajs}
    over, fits = by_task[longest], by_task[shortest]
    assert over.finished and over.error is None and over.truncated and not over.turns
    assert f"maximum context length is {window} tokens" in over.truncation_reason
    assert fits.error is None and fits.turns
    first_turn = fits.turns[0]
    assert first_turn.completion_tokens <= window - lengths[shortest]  # capped to the room left
    assert all(t.prompt_tokens + t.completion_tokens <= window for t in fits.turns)
    assert fits.terminated or fits.truncation_reason


async def test_training_episode_that_outgrows_the_engine_window_ends_truncated(tiny):
    from agentgym.trainers import HFEngine, run_groups

    model, tok = tiny
    engine = HFEngine(model, tok, max_model_len=4, seed=0)  # KeyEnv's first prompt alone is longer
    groups = await run_groups(lambda: KeyEnv(), engine, ["train-0"], 2, SamplingParams(max_new_tokens=8))
    for t in groups[0]:
        assert t.truncated and not t.turns and t.error is None
        assert "maximum context length is 4 tokens" in (t.truncation_reason or "")
    engine.context_window = 64
    groups = await run_groups(lambda: KeyEnv(), engine, ["train-0"], 2, SamplingParams(max_new_tokens=8))
    assert all(t.turns and t.truncation_reason is None for t in groups[0])


# ------------------------------------------------------------------- the model server at its limits


def _post(base: str, body: dict, timeout: float = 60.0):
    import httpx

    return httpx.post(f"{base}/chat/completions", json={"model": "smollm2", **body}, timeout=timeout)


def test_server_rejects_a_prompt_beyond_the_window_at_once_and_stays_up(model_server):
    huge = " ".join(["word"] * 200_000)
    t0 = time.monotonic()
    r = _post(model_server, {"messages": [{"role": "user", "content": huge}], "max_tokens": 8})
    assert time.monotonic() - t0 < 30  # tokenizing, not computing
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "context_length_exceeded" and err["type"] == "invalid_request_error"
    assert "8192" in err["message"]
    prompt_tokens = int(err["message"].split("(")[1].split(" prompt tokens")[0])
    assert prompt_tokens > 200_000
    ok = _post(model_server, {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}, timeout=30)
    assert ok.status_code == 200 and ok.json()["usage"]["completion_tokens"] <= 8


def test_server_rejects_max_tokens_beyond_the_window_and_caps_a_missing_one(model_server):
    messages = [{"role": "user", "content": "Say hi."}]
    r = _post(model_server, {"messages": messages, "max_tokens": 1_000_000_000})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "context_length_exceeded"
    assert "8192" in err["message"] and "1000000000 completion tokens" in err["message"]
    near = _post(model_server, {"messages": messages, "max_tokens": 8192 - 5})  # prompt is longer than 5 tokens
    assert near.status_code == 400


@pytest.mark.parametrize("tool", [
    {"type": "function", "function": {"name": 123, "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "has space"}},
    {"type": "function", "function": {"description": "no name"}},
    {"type": "retrieval", "function": {"name": "ok"}},
    {"function": {"name": "ok"}},
    "calculator",
])
def test_server_validates_tool_schemas(model_server, tool):
    r = _post(model_server, {"messages": [{"role": "user", "content": "hi"}], "tools": [tool], "max_tokens": 4})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("invalid request: tools")


async def test_server_answers_short_requests_while_a_long_one_runs_and_cancels_a_gone_client(model_server):
    import httpx

    health = model_server.removesuffix("/v1") + "/health"
    long_body = {"model": "smollm2", "messages": [{"role": "user", "content": "Count to ten thousand."}],
                 "max_tokens": 4000, "ignore_eos": True, "temperature": 1.0}
    async with httpx.AsyncClient(timeout=120) as client:
        long_client = httpx.AsyncClient(timeout=300)
        long_task = asyncio.create_task(long_client.post(f"{model_server}/chat/completions", json=long_body))
        t_wait = time.monotonic()
        while (await client.get(health)).json()["decoding"] < 1:
            assert time.monotonic() - t_wait < 30 and not long_task.done()
            await asyncio.sleep(0.1)
        t0 = time.monotonic()
        short = await client.post(f"{model_server}/chat/completions", json={
            "model": "smollm2", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8})
        short_seconds = time.monotonic() - t0
        assert short.status_code == 200
        assert not long_task.done()  # the long one is still decoding: the short one did not wait for it
        assert short_seconds < 20
        # the long request's client goes away: its row is freed within a few decode steps
        long_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await long_task
        await long_client.aclose()
        t1 = time.monotonic()
        while (await client.get(health)).json()["decoding"] > 0:
            assert time.monotonic() - t1 < 15, "the abandoned request kept decoding"
            await asyncio.sleep(0.2)


async def test_openai_agent_raises_context_overflow_the_loop_turns_it_into_truncation(model_server):
    from agentgym.agents.openai_agent import OpenAIAgent

    agent = OpenAIAgent("smollm2", base_url=model_server, api_key="none", max_tokens=8)
    with pytest.raises(ContextWindowExceeded, match="maximum context length is 8192"):
        await agent.act([{"role": "user", "content": "word " * 20_000}])
    await agent.aclose()


@pytest.mark.parametrize(("flag", "value"), [("--lanes", "0"), ("--max-model-len", "1"), ("--default-max-tokens", "0"),
                                             ("--request-timeout", "-1")])
def test_serve_model_rejects_bad_limits_before_loading_the_model(flag, value):
    import subprocess

    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "agentgym.cli", "serve-model", "hf:smollm2", flag, value],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and time.monotonic() - t0 < 30
    assert f"{flag} must be at least" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
