"""Oracles: scripted policies that solve an env's tasks from its hidden state, and their demonstrations.

An oracle proves a task solvable, and its successful episodes are demonstrations to clone before RL (a warm
start: `RLTrainer.warm_start(demos)`, or `agentgym demos ENV --out demos.jsonl` then `agentgym train` with
`trainer: sft` on that file). Each oracle is a policy callable for `FunctionAgent` that reads the env's state,
registered for an env class by import path so that nothing is imported until it is asked for:

    register_oracle("mypkg.env:MyEnv", "mypkg.oracle:MyOracle")    # MyOracle(env) -> policy(messages)
    demos = oracle_demonstrations(agentgym.make("MultiHopQA-v0", hops=2), [f"train-{i}" for i in range(100)])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from agentgym.trajectory import Trajectory

# env class (module:qualname) -> oracle factory (module:qualname, or the callable), called with the unwrapped env
ORACLES: dict[str, str | Callable[[Any], Any]] = {
    "agentgym.envs.search.env:MultiHopQAEnv": "agentgym.envs.search.oracle:OraclePolicy",
    "agentgym.envs.code.math_python:MathPythonEnv": "agentgym.envs.code.math_oracle:MathPythonOracle",
    "agentgym.envs.arithmetic.env:ArithmeticEnv": "agentgym.envs.arithmetic.oracle:ArithmeticOracle",
}


class NoOracleError(ValueError):
    """The env has no registered oracle."""


def register_oracle(env_class: str | type, factory: str | Callable[[Any], Any]) -> None:
    """Register `factory(env) -> policy` as the oracle of `env_class` and its subclasses (paths as "module:name")."""
    key = env_class if isinstance(env_class, str) else f"{env_class.__module__}:{env_class.__qualname__}"
    ORACLES[key] = factory


def _load(path: str | Callable[[Any], Any]) -> Any:
    if not isinstance(path, str):
        return path
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _classes(env: Any) -> Iterator[str]:
    for cls in type(env).__mro__:
        yield f"{cls.__module__}:{cls.__qualname__}"


def oracle_policy(env: Any) -> Callable[[Sequence[dict[str, Any]]], Any]:
    """The oracle policy of `env` (wrappers included: it plays through the env's own protocol)."""
    inner = getattr(env, "unwrapped", env)
    for key in _classes(inner):
        if key in ORACLES:
            return _load(ORACLES[key])(inner)
    names = sorted(k.split(":")[1] for k in ORACLES)
    raise NoOracleError(f"{type(inner).__name__} has no oracle; envs with one: {', '.join(names)} "
                        "(register_oracle adds one)")


def oracle_demonstrations(env: Any, task_ids: Sequence[str], *, progress: bool = False) -> list[Trajectory]:
    """Play the oracle on `task_ids` (one at a time: the oracle reads the env's current episode) and return every
    trajectory; `Trajectory.success` tells which to clone."""
    from agentgym.agents.scripted import FunctionAgent
    from agentgym.rollout import collect

    agent = FunctionAgent(oracle_policy(env), name=f"{type(env.unwrapped).__name__}-oracle")
    return collect(env, agent, list(task_ids), concurrency=1, progress=progress)


def sft_rows(trajectories: Sequence[Trajectory], env_id: str = "") -> list[dict[str, Any]]:
    """The successful trajectories as chat SFT records (`{"messages": [...]}`, what `trainer: sft` reads): one per
    token context, so an env that rebuilds the prompt each round gives one record per round."""
    rows = []
    for t in trajectories:
        if not t.success:
            continue
        task_id = t.task.id if t.task is not None else None
        for conversation in t.context_conversations():
            rows.append({"messages": conversation, "env": env_id, "task_id": task_id})
    return rows
