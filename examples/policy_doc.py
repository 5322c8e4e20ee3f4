"""Policy-document tasks end to end: generate a CC-Gen-style domain, evaluate agents with pass^k, load a
τ-bench-format folder, export policy-internalization data, and (optionally) train SmolLM2 on it.

    python examples/policy_doc.py                         # no model: oracle and rule-skipping agents, export
    python examples/policy_doc.py --smollm2               # also SmolLM2-135M as the agent (CPU, minutes)
    python examples/policy_doc.py --train-minutes 10      # and a budgeted GRPO run on PolicyDoc-v0

The user is the deterministic `ScriptedUser`; pass `--user openai:MODEL` (with OPENAI_API_KEY / --base-url)
for an LLM-played user.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from agentgym.envs.policy import PolicyEnv, PolicyOracleAgent, export_domain

import agentgym
from agentgym.eval.metrics import summarize
from agentgym.rollout import collect

TAU_FOLDER = Path(__file__).resolve().parents[1] / "tests" / "data" / "policy" / "tau_layout"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", default="retail", choices=["retail", "airline", "bank", "clinic", "mixed"])
    p.add_argument("--workflow-level", type=int, default=3)
    p.add_argument("--query-level", type=int, default=2)
    p.add_argument("--tasks", type=int, default=12)
    p.add_argument("--k", type=int, default=4, help="trials per task for pass^k")
    p.add_argument("--user", default=None, help="agent spec for an LLM-played user (default: scripted)")
    p.add_argument("--smollm2", action="store_true", help="also evaluate hf:smollm2 (slow on CPU)")
    p.add_argument("--train-minutes", type=float, default=0.0, help="GRPO on PolicyDoc-v0 for this long")
    p.add_argument("--out", default=None, help="folder for the exported CPT/SFT data (default: a temp dir)")
    a = p.parse_args()

    dials = {"domain": a.domain, "env_level": 2, "task_level": 1, "workflow_level": a.workflow_level,
             "query_level": a.query_level, "num_tasks": a.tasks, "test_every": 1, "user": a.user}
    env = agentgym.make("PolicyDoc-v0", **dials)
    print(env.unwrapped.domain.policy[:600], "...\n")

    # 1. pass^k of agents that follow the policy, and of agents that skip one rule category
    agents = {"oracle": PolicyOracleAgent(), **{f"skip {s}": PolicyOracleAgent(skip=s)
                                                for s in ("authenticate", "confirm", "nested_conditions")}}
    if a.smollm2:
        from agentgym.agents.spec import make_agent

        agents["hf:smollm2"] = make_agent("hf:smollm2", temperature=0.7, max_tokens=128)
    for name, agent in agents.items():
        kwargs = {**dials, "max_turns": 8} if name.startswith("hf:") else dials
        trajs = collect("PolicyDoc-v0", agent, num_tasks=a.tasks, group_size=a.k, env_kwargs=kwargs, progress=False)
        s = summarize(trajs, k=a.k)
        print(f"{name:24s} pass^1 {s.pass_hat_k['1']:.2f}  pass^{a.k} {s.pass_hat_k[str(a.k)]:.2f}")

    # 2. a domain folder laid out as tau-bench's tau_bench/envs/<domain>/, loaded without tau-bench installed
    tau = PolicyEnv.from_directory(TAU_FOLDER)
    print(f"\ntau-bench folder: {len(tau.tasks.ids())} tasks, tools {[t.name for t in tau.tools]}")

    # 3. policy internalization data (CAP-CPT text and oracle SFT conversations without the policy)
    out = Path(a.out or tempfile.mkdtemp(prefix="policydoc-"))
    summary = export_domain(env.unwrapped.domain, out)
    print(f"exported to {out}: {summary['cpt']['records']} CPT records {summary['cpt']['by_category']}, "
          f"{summary['sft']['conversations']} SFT conversations (policy removed from their prompt)")
    print(f"train on it: agentgym train <run.yaml> with `trainer: sft` and `data: {out / 'sft.jsonl'}`")

    # 4. RL on PolicyDoc-v0 with the scripted user
    if a.train_minutes > 0:
        from agentgym.trainers import GRPOConfig, GRPOTrainer

        cfg = GRPOConfig(tasks_per_step=2, group_size=4, max_new_tokens=96, max_length=6144, report_to=["console"])
        train_env = {k: v for k, v in dials.items() if k != "test_every"} | {"num_tasks": 40, "max_turns": 8}
        with GRPOTrainer("smollm2", "PolicyDoc-v0", cfg, env_kwargs=train_env) as trainer:
            print("before:", trainer.evaluate(n=5))
            trainer.train(steps=10_000, minutes=a.train_minutes)
            print("after: ", trainer.evaluate(n=5))
    env.close()


if __name__ == "__main__":
    main()
