"""Trainers by name, and run files: the YAML that `agentgym train CONFIG.yaml` reads.

A run file names the trainer, the model and the env, and sets config fields::

    trainer: grpo                 # a key of TRAINERS: grpo | dapo | ppo | tppo | rloo | reinforce_pp | tapo | igpo | eapo |
                                  # expert_iteration | treepo | rexrag
    model: smollm2                # a model folder (config.json), a .gguf file, or "smollm2"
    env: Arithmetic-v0            # a registered env id, or "package.module:factory"
    env_kwargs: {difficulty: 1}
    steps: 40                     # any field of the trainer's config class (also accepted under `config:`)
    learning_rate: 2.0e-6

`--set key=value` overrides (values parsed as YAML; `env_kwargs.difficulty=2` reaches into a mapping).
Everything is validated before a model is loaded: an unknown trainer, key or bad value raises
`ConfigError` naming it. New algorithms join with `register_trainer("name", TrainerClass)`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import ConfigError, RLConfig, read_run_file
from agentgym.trainers.eapo import EAPOTrainer
from agentgym.trainers.expert_iteration import ExpertIterationTrainer
from agentgym.trainers.grpo import DAPOTrainer, GRPOTrainer
from agentgym.trainers.igpo import IGPOTrainer
from agentgym.trainers.ppo import PPOTrainer
from agentgym.trainers.rexrag import RexRagTrainer
from agentgym.trainers.rloo import ReinforcePPTrainer, RLOOTrainer
from agentgym.trainers.tapo import TAPOTrainer
from agentgym.trainers.tppo import TPPOTrainer
from agentgym.trainers.treepo import TreePOTrainer

TRAINERS: dict[str, type[RLTrainer]] = {
    "grpo": GRPOTrainer,
    "dapo": DAPOTrainer,
    "ppo": PPOTrainer,
    "tppo": TPPOTrainer,
    "rloo": RLOOTrainer,
    "reinforce_pp": ReinforcePPTrainer,
    "tapo": TAPOTrainer,
    "igpo": IGPOTrainer,
    "eapo": EAPOTrainer,
    "expert_iteration": ExpertIterationTrainer,
    "rexrag": RexRagTrainer,
    "treepo": TreePOTrainer,
}

RUN_KEYS = ("trainer", "model", "env", "env_kwargs", "train_tasks", "config")


def register_trainer(name: str, cls: type[RLTrainer]) -> type[RLTrainer]:
    """Make `cls` available as `trainer: name` in run files (returns `cls`, so it works as a helper)."""
    if not (isinstance(cls, type) and issubclass(cls, RLTrainer)):
        raise TypeError(f"{cls!r} is not an RLTrainer subclass")
    TRAINERS[name] = cls
    return cls


def get_trainer(name: str) -> type[RLTrainer]:
    """The trainer class registered as `name`."""
    try:
        return TRAINERS[name]
    except KeyError:
        raise ConfigError("trainer", f"unknown trainer {name!r}; choose from {sorted(TRAINERS)}") from None


@dataclass
class RunSpec:
    """A parsed, validated run file."""

    trainer: str
    model: str
    env: str
    config: RLConfig
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    train_tasks: list[str] | None = None

    @property
    def trainer_class(self) -> type[RLTrainer]:
        return get_trainer(self.trainer)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`"a.b=VALUE"` -> `(["a", "b"], yaml-parsed VALUE)`."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("--set", f"--set expects KEY=VALUE, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `data` with each `key=value` (dotted keys reach into nested mappings) applied."""
    out = dict(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[path[-1]] = value
    return out


def load_run_spec(source: str | Path | dict[str, Any], overrides: Sequence[str] = ()) -> RunSpec:
    """Parse and validate a run file (a YAML path or an already-loaded mapping) with `--set` overrides."""

    data = dict(source) if isinstance(source, dict) else read_run_file(source)
    data = apply_overrides(data, overrides)
    name = data.get("trainer", "grpo")
    if not isinstance(name, str):
        raise ConfigError("trainer", f"trainer must be a name such as 'grpo', got {name!r}")
    cls = get_trainer(name)
    for key in ("model", "env"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(key, f"the run file must set {key!r} (a string), got {data.get(key)!r}")
    env_kwargs = data.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict):
        raise ConfigError("env_kwargs", f"env_kwargs must be a mapping, got {env_kwargs!r}")
    train_tasks = data.get("train_tasks")
    if train_tasks is not None and not (isinstance(train_tasks, list) and train_tasks):
        raise ConfigError("train_tasks", f"train_tasks must be a non-empty list of task ids, got {train_tasks!r}")
    fields = {k: v for k, v in data.items() if k not in RUN_KEYS}
    nested = data.get("config") or {}
    if not isinstance(nested, dict):
        raise ConfigError("config", f"config must be a mapping of config fields, got {nested!r}")
    config = cls.config_class.from_dict({**nested, **fields})
    return RunSpec(name, data["model"], data["env"], config, dict(env_kwargs),
                   [str(t) for t in train_tasks] if train_tasks else None)


def resolve_env(env: str, env_kwargs: dict[str, Any] | None = None) -> Any:
    """A registered env instance (made now, so bad `env_kwargs` fail before any model is loaded), or the
    zero-argument factory named by `package.module:attr`; `remote:URL/ENV_ID` is an env served by
    `agentgym serve-env`."""
    if env.startswith("remote:"):
        import agentgym
        from agentgym.remote import RemoteEnvError

        try:
            return agentgym.make(env, **(env_kwargs or {}))
        except (TypeError, ValueError, RemoteEnvError) as e:
            raise ConfigError("env", f"{env!r}: {e}") from None
    if ":" in env and "/" not in env.split(":", 1)[0]:
        module, _, attr = env.partition(":")
        if os.getcwd() not in sys.path:  # a console script does not see the current folder's modules
            sys.path.insert(0, os.getcwd())
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ConfigError("env", f"cannot import env factory {env!r}: {e}") from None
        if env_kwargs:
            factory: Callable[..., Any] = obj
            return lambda: factory(**env_kwargs)
        return obj
    import agentgym
    from agentgym.registry import full_id

    fid = full_id(env)
    if fid not in agentgym.list_envs():
        raise ConfigError("env", f"unknown environment {env!r}; run `agentgym list` to see the registered ones")
    try:
        return agentgym.make(fid, **(env_kwargs or {}))
    except (TypeError, ValueError) as e:
        raise ConfigError("env_kwargs", f"cannot create {fid} with env_kwargs {env_kwargs}: {e}") from None


def check_model(model: str) -> None:
    """Fail fast (before an env or a model is built) when a model spec names nothing loadable."""
    from agentgym.models.loading import ModelNotFoundError, resolve_model

    try:
        resolve_model(model)
    except ModelNotFoundError as e:
        raise ConfigError("model", str(e)) from None


def build_trainer(spec: RunSpec, env: Any = None, **kwargs: Any) -> RLTrainer:
    """The trainer a run spec describes (the model is loaded here); `env` overrides `resolve_env(spec.env)`."""
    check_model(spec.model)
    if env is None:
        env = resolve_env(spec.env, spec.env_kwargs)
    return spec.trainer_class(spec.model, env, spec.config, train_tasks=spec.train_tasks, **kwargs)
