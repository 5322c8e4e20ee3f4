"""Graph-of-Thoughts reasoning as an environment (ARIES): a policy transforms a graph of partial solutions and an
injected reasoner carries each transformation out.

    python examples/thought_graph.py                 # sorting 32 numbers with the programmatic reasoner
    python examples/thought_graph.py --tasks 20 --size 64
    python examples/thought_graph.py --reasoner hf:smollm2 --tasks 1 --size 8    # a real model as the reasoner

It plays one episode of the Graph of Thoughts schedule step by step, printing the policy's calls and the graph,
then compares the static schedules (IO, ToT, GoT) on held-out tasks: success and reasoner calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="sorting", help="sorting, set_intersection, keyword_counting, doc_merging")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--reasoner", default=None, help="an agent spec (openai:..., hf:...) instead of the programmatic one")
    a = ap.parse_args()

    from agentgym.envs.thought_graph import ThoughtGraphEnv, schedule_agent

    from agentgym.rollout import collect

    env_kwargs = {"task": a.family, "size": a.size, "reasoner": a.reasoner}
    env = ThoughtGraphEnv(**env_kwargs)
    got = schedule_agent("got", size=a.size)
    messages, info = env.reset(seed=0, options={"task_id": "test-0"})
    print(messages[-1]["content"], "\n")
    done, graph = False, ""
    while not done:
        output = asyncio.run(got.act(env.state.messages))
        observation, reward, terminated, truncated, info = env.step(output.message)
        print(">>", output.message["content"].replace("\n", " "))
        graph = observation[-1]["content"] if "# Graph" in observation[-1]["content"] else graph
        done = terminated or truncated
    print("\nthe graph before the submission:\n" + graph.split("# Graph\n", 1)[-1])
    print(f"reward {reward:.0f}, reasoner calls {info['reasoner_usage']['calls']}, graph of "
          f"{len(info['graph']['nodes'])} nodes\n")
    env.close()

    for name in ("io", "tot", "got"):
        trajs = collect("ThoughtGraph-v0", schedule_agent(name, size=a.size), [f"test-{i}" for i in range(a.tasks)],
                        progress=False, env_kwargs=env_kwargs)
        calls = sum(t.info["reasoner_usage"]["calls"] for t in trajs) / len(trajs)
        print(f"{name:4} success {sum(t.success for t in trajs)} / {len(trajs)}, {calls:.1f} reasoner calls per episode")


if __name__ == "__main__":
    main()
