"""Run folders for the viewer tests, made by the real code paths: `collect` with scripted agents into a
`TrajectoryStore` (eval runs, before / after), a thought-graph episode and a tree-search episode played by
`run_episode`, a web-style episode with a screenshot, and a tiny GRPO run whose logger writes the training
folder. A few hand-written lines add what a real run may leave: malformed and truncated lines, and text that
would be HTML if it were not escaped."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode
from agentgym.rollout import collect
from agentgym.trajectory import Trajectory, TrajectoryStore, Turn

ROOT = Path(__file__).resolve().parents[2]
TASKS = [f"test-{i}" for i in range(8)]
TRIALS = 2
SANDBOX_RESULT = ("MemoryError\n[killed by SIGKILL: killed, e.g. for memory or the CPU-time limit]\n"
                  "[the interpreter was restarted: all variables, imports and files of this session were lost]")
INJECTION = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> & </script> <!-- done"


def _answers() -> dict[str, int]:
    env = agentgym.make("Arithmetic-v0")
    tasks = env.unwrapped.tasks
    out = {tasks.get(t).prompt: int(tasks.get(t).answer) for t in TASKS}
    env.close()
    return out


def _solver(right: set[int], answers: dict[str, int]) -> Any:
    """Calls the calculator (a bad expression first on odd tasks: an error result), then answers: the gold
    number on tasks in `right`, one more than it elsewhere."""

    def policy(messages: list[dict[str, Any]]) -> str:
        prompt = next(m["content"] for m in messages if m["role"] == "user")
        gold = answers[prompt]
        index = list(answers).index(prompt)
        turn = sum(1 for m in messages if m["role"] == "assistant")
        if turn == 0 and index % 2:
            return ('Let me compute.\n<tool_call>{"name": "calculator", "arguments": {"expression": "2 +* 3"}}'
                    "</tool_call>")
        if turn <= 1:
            return f'<tool_call>{{"name": "calculator", "arguments": {{"expression": "{gold} + 0"}}}}</tool_call>'
        answer = gold if index in right else gold + 1
        return f'The result is {answer}.\n<tool_call>{{"name": "answer", "arguments": {{"answer": "{answer}"}}}}</tool_call>'

    return policy


def _png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a gradient), written by hand so the fixture needs no imaging library."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 10 % 256, y * 15 % 256, 160)) for x in range(width))
                   for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _extra_episodes() -> list[Trajectory]:
    """A thought-graph episode, a tree-search episode, a web episode with a screenshot, and one whose
    messages hold HTML."""
    from agentgym.envs.thought_graph import ThoughtGraphEnv, schedule_agent

    from agentgym.search_agents import TreeSearchAgent

    async def play() -> list[Trajectory]:
        env = ThoughtGraphEnv("sorting", size=8, reasoner_options={"error_rate": 0.0, "merge_error_rate": 0.0})
        graph = await run_episode(env, schedule_agent("got", parts=2, k=2, merge_tries=2, refine_rounds=1),
                                  "test-0", env_id="agentgym/ThoughtGraph-sorting")
        env.close()

        def policy(messages: list[dict[str, Any]]) -> str:
            n = sum(1 for m in messages if m["role"] == "assistant")
            if n == 0:
                return '<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>'
            return '<tool_call>{"name": "answer", "arguments": {"answer": "42"}}</tool_call>'

        def value(messages: list[dict[str, Any]], task: Any) -> float:
            return 0.5

        make = lambda: agentgym.make("Arithmetic-v0")  # noqa: E731
        agent = TreeSearchAgent(FunctionAgent(policy, name="searcher"), make, value, max_depth=2, branching=2,
                                budget=4)
        env2 = make()
        tree = await run_episode(env2, agent, "train-5", env_id="agentgym/Arithmetic-v0")
        await agent.aclose()
        env2.close()
        return [graph, tree]

    graph, tree = asyncio.run(play())
    png = "data:image/png;base64," + base64.b64encode(_png()).decode()
    web = Trajectory(
        "shop-1#0", "agentgym/WebShop-v0", "shop-1", "scripted", messages=[
            {"role": "system", "content": "You shop on a web site."},
            {"role": "user", "content": [{"type": "text", "text": "Buy a red mug. URL: /home"},
                                         {"type": "image_url", "image_url": {"url": png}}]}],
        turns=[Turn(assistant={"role": "assistant", "content": "click('12')"}, tool_calls=["click"],
                    observation=[{"role": "user", "content": [{"type": "text", "text": "Page: red mug"},
                                                              {"type": "image_url", "image_url": {"url": png}}]}],
                    reward=1.0, logprobs=[-0.1, -0.5, -2.0], completion_tokens=3, prompt_tokens=40)],
        reward=1.0, terminated=True, success=True, reward_components={"bought": 1.0})
    evil = Trajectory(
        "html-1#0", "agentgym/Arithmetic-v0", "html-1", "scripted",
        messages=[{"role": "user", "content": INJECTION}],
        turns=[Turn(assistant={"role": "assistant", "content": INJECTION,
                               "tool_calls": [{"id": "c1", "type": "function", "function": {
                                   "name": "calculator", "arguments": json.dumps({"expression": INJECTION})}}]},
                    observation=[{"role": "tool", "tool_call_id": "c1",
                                  "content": "Error: 'calculator' timed out after 5 s."}],
                    tool_calls=["calculator"]),
               Turn(assistant={"role": "assistant", "content": None, "tool_calls": [
                   {"id": "c2", "type": "function", "function": {"name": "python", "arguments": '{"code": "x = [0] * 10**10"}'}}]},
                    observation=[{"role": "tool", "tool_call_id": "c2", "content": SANDBOX_RESULT}],
                    tool_calls=["python"])],
        terminated=True, reward_components={INJECTION: 0.0})
    return [graph, tree, web, evil]


def make_eval_run(path: Path, right: set[int], extras: bool = False, corrupt: bool = False) -> Path:
    """`collect` 8 Arithmetic-v0 tasks x 2 trials into `path/trajectories.jsonl` and write `summary.json`."""
    from agentgym.eval.metrics import summarize

    path.mkdir(parents=True, exist_ok=True)
    answers = _answers()
    with TrajectoryStore(path / "trajectories.jsonl") as store:
        trajs = collect("Arithmetic-v0", FunctionAgent(_solver(right, answers), name="scripted"), TASKS,
                        group_size=TRIALS, concurrency=4, progress=False, store=store)
        if extras:
            extra = _extra_episodes()
            store.extend(extra)
            trajs = [*trajs, *extra]
    (path / "summary.json").write_text(json.dumps(summarize(trajs, k=TRIALS).to_dict()))
    if corrupt:
        lines = (path / "trajectories.jsonl").read_text().splitlines(keepends=True)
        lines.insert(3, "{this is not json\n")
        lines.insert(7, "[1, 2, 3]\n")
        lines.append(lines[0][: len(lines[0]) // 2])  # a torn last line
        (path / "trajectories.jsonl").write_text("".join(lines))
    return path


STEPS = 4


def make_train_run(path: Path) -> Path:
    """A real 4-step GRPO run of a tiny random Llama on the two-turn KeyEnv, evaluated every 2 steps; its
    logger writes `metrics.jsonl` and `episodes/step-NNNNNN.jsonl` under `path`."""
    import torch

    sys.path.insert(0, str(ROOT / "tests" / "trainers"))
    from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
    from agentgym.trainers import GRPOTrainer

    torch.set_num_threads(1)
    cfg = dict(steps=STEPS, learning_rate=3e-3, group_size=4, tasks_per_step=2, max_new_tokens=4, max_length=64,
               micro_batch_size=16, seed=0, kl_coef=0.05, eval_every=2, eval_tasks=2, report_to=[],
               output_dir=str(path))
    tok = tiny_tokenizer()
    with GRPOTrainer(tiny_model(tok), KeyEnv, cfg, tokenizer=tok) as trainer:
        trainer.train()
    return path
