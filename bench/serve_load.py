"""The local model server under load: 1, 8, 32 and 64 concurrent clients, beside sequential `model.generate`.

Starts `agentgym serve-model hf:smollm2` (SmolLM2-135M-Instruct, fp32, CPU) on a free loopback port and, for
each concurrency level, runs that many clients in closed loops (each sends its next request when the last
one is answered) until `--requests` requests (at least one per client) are done. Every request is a short
chat prompt with `max_tokens=--tokens` and `ignore_eos` so that every completion has the same length.
The peer, in the same run and on the same prompts: the model loaded in this process, one request at a
time through `model.generate(do_sample=True, min_new_tokens=max_new_tokens=--tokens)`, no server.

Prints requests/s, completion tokens/s and latency p50/p95 per row, and each row's throughput as a ratio
to the sequential peer. The server process is stopped by its PID at the end.

    python bench/serve_load.py [--levels 1,8,32,64] [--requests 64] [--tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "What is the capital of France?", "Name a prime number above 50.", "Give a synonym of quick.",
    "What colour is the sky on a clear day?", "How many legs does a spider have?", "Spell the word cat backwards.",
    "What is 12 plus 30?", "Name a planet of the solar system.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _row(name: str, latencies: list[float], seconds: float, tokens: int, base: float | None) -> str:
    lat = sorted(latencies)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    tps = tokens / seconds
    ratio = f"{tps / base:6.2f}x" if base else "  peer "
    return (f"{name:<22} {len(lat):>5} {len(lat) / seconds:>8.2f} {tps:>9.1f} {statistics.median(lat):>8.2f} "
            f"{p95:>8.2f} {ratio}")


def sequential_generate(n: int, tokens: int) -> tuple[list[float], float, int]:
    import torch

    from agentgym.models.chat_template import prompt_ids
    from agentgym.models.loading import load_model

    model, tok = load_model("smollm2")
    model.eval()
    torch.manual_seed(0)
    latencies, total = [], 0
    t_all = time.perf_counter()
    for i in range(n):
        ids = torch.tensor([prompt_ids(tok, [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}])])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=tokens,
                                 min_new_tokens=tokens, pad_token_id=tok.eos_token_id)
        latencies.append(time.perf_counter() - t0)
        total += out.shape[1] - ids.shape[1]
    return latencies, time.perf_counter() - t_all, total


async def load_level(base: str, clients: int, requests: int, tokens: int) -> tuple[list[float], float, int]:
    import httpx

    todo = list(range(max(requests, clients)))
    latencies: list[float] = []
    total = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal total
        while todo:
            i = todo.pop()
            body = {"model": "smollm2", "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                    "max_tokens": tokens, "ignore_eos": True, "temperature": 1.0}
            t0 = time.perf_counter()
            r = await http.post(f"{base}/chat/completions", json=body)
            r.raise_for_status()
            latencies.append(time.perf_counter() - t0)
            total += r.json()["usage"]["completion_tokens"]

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=900, limits=limits) as http:
        t_all = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return latencies, time.perf_counter() - t_all, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="1,8,32,64")
    ap.add_argument("--requests", type=int, default=64, help="requests per level (at least one per client)")
    ap.add_argument("--tokens", type=int, default=32, help="completion tokens per request")
    ap.add_argument("--sequential", type=int, default=8, help="requests for the sequential model.generate peer")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]

    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agentgym.cli", "serve-model", "hf:smollm2", "--port", str(port), "--name", "smollm2",
         "--max-batch-size", str(max(levels))],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 300
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the model server exited with {server.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise SystemExit("the model server did not come up in 300 s")
            time.sleep(0.5)
        asyncio.run(load_level(base, 1, 1, 4))  # warm-up

        print(f"SmolLM2-135M-Instruct, fp32, {os.cpu_count()} CPU cores; {a.tokens} completion tokens per request")
        print(f"{'':<22} {'reqs':>5} {'req/s':>8} {'tok/s':>9} {'p50 s':>8} {'p95 s':>8} {'vs peer':>7}")
        lat, secs, toks = sequential_generate(a.sequential, a.tokens)
        peer_tps = toks / secs
        print(_row("model.generate, seq.", lat, secs, toks, None), flush=True)
        for c in levels:
            lat, secs, toks = asyncio.run(load_level(base, c, a.requests, a.tokens))
            print(_row(f"server, {c} clients", lat, secs, toks, peer_tps), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
