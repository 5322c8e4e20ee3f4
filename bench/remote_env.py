"""Remote vs in-process env: step latency and episodes/s at 1, 64 and 1,000 concurrent episodes.

The same 3-step episodes of `agentgym/Arithmetic-v0` (calculator, calculator, answer; an instant scripted
policy) are played on local envs and on `RemoteEnv`s served by a real `agentgym serve-env` process on loopback,
all on one event loop with `concurrency` workers (each keeps one env and plays its share of the episodes; the
remote ones each with their own connection). Step latency is the time `await
env.astep(...)` takes, as the episode loop sees it; episodes/s counts reset + 3 steps. Both sides run in this
invocation; the table prints remote / in-process ratios.

    python bench/remote_env.py [--concurrency 1 64 1000] [--episodes-per-worker 200 4 1]
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
from typing import Any

import httpx

import agentgym
from agentgym.remote import RemoteEnv

CALC = '<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 34 + 5"}}</tool_call>'
ANSWER = '<tool_call>{"name": "answer", "arguments": {"answer": "413"}}</tool_call>'
ACTIONS = (CALC, CALC, ANSWER)


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process `pid` (Linux /proc)."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def play(make_env: Any, concurrency: int, per_worker: int) -> tuple[float, list[float], int]:
    """`concurrency` workers, each playing `per_worker` episodes on its own env; (wall s, step latencies, episodes)."""
    steps: list[float] = []

    async def worker(w: int) -> None:
        env = make_env()
        try:
            for k in range(per_worker):
                await env.areset(options={"task_id": f"test-{(w * per_worker + k) % 1000}"})
                for action in ACTIONS:
                    t = time.perf_counter()
                    _, _, terminated, truncated, _ = await env.astep(action)
                    steps.append(time.perf_counter() - t)
                assert terminated and not truncated, "bench episodes must end with the answer"
        finally:
            await env.aclose()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return time.perf_counter() - t0, steps, concurrency * per_worker


def start_server(max_episodes: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "agentgym.cli", "serve-env", "Arithmetic-v0", "--port", str(port),
                             "--max-episodes", str(max_episodes), "--idle-timeout", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve-env exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("serve-env did not come up in 120 s")


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] * 1e3 if len(xs) > 1 else xs[0] * 1e3


async def bench(base: str, server_pid: int, concurrency: int, per_worker: int) -> dict[str, Any]:
    local = await play(lambda: agentgym.make("Arithmetic-v0"), concurrency, per_worker)
    url = f"remote:{base}/Arithmetic-v0"
    RemoteEnv(url).connect()
    client0, server0 = cpu_seconds(), cpu_seconds(server_pid)
    remote = await play(lambda: RemoteEnv(url, timeout=300, connect_timeout=300), concurrency, per_worker)
    row: dict[str, Any] = {"concurrency": concurrency, "episodes": local[2],
                           "client_cpu_ms": (cpu_seconds() - client0) / remote[2] * 1e3,
                           "server_cpu_ms": (cpu_seconds(server_pid) - server0) / remote[2] * 1e3}
    for name, (wall, steps, n) in (("local", local), ("remote", remote)):
        row[f"{name}_p50"], row[f"{name}_p95"] = pct(steps, 50), pct(steps, 95)
        row[f"{name}_eps"] = n / wall
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 1000])
    ap.add_argument("--episodes-per-worker", type=int, nargs="+", default=[200, 4, 1])
    args = ap.parse_args()
    if len(args.episodes_per_worker) != len(args.concurrency):
        ap.error("give one --episodes-per-worker value per --concurrency value")
    proc, base = start_server(max_episodes=max(args.concurrency) + 16)
    try:
        rows = []
        for c, e in zip(args.concurrency, args.episodes_per_worker, strict=True):
            rows.append(asyncio.run(bench(base, proc.pid, c, e)))
            print(rows[-1], flush=True)
    finally:
        proc.terminate()  # the server this script started
        proc.wait(timeout=10)
    print(f"Arithmetic-v0, 3-step episodes (reset + 3 steps), scripted policy; {os.cpu_count()} CPUs; "
          f"server: 1 uvicorn process; load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| concurrent | episodes | step p50 / p95 ms, in-process | remote | p50 ratio | episodes/s, in-process | "
          "remote | ratio | remote CPU ms per episode, client + server |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['concurrency']} | {r['episodes']} | {r['local_p50']:.3f} / {r['local_p95']:.3f} | "
              f"{r['remote_p50']:.2f} / {r['remote_p95']:.2f} | {r['remote_p50'] / r['local_p50']:.0f}x | "
              f"{r['local_eps']:.0f} | {r['remote_eps']:.0f} | {r['local_eps'] / r['remote_eps']:.1f}x | "
              f"{r['client_cpu_ms']:.1f} + {r['server_cpu_ms']:.1f} |")


if __name__ == "__main__":
    main()
