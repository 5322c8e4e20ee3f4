"""Trajectories: what happened in an episode, turn by turn, token-exact where the agent reports tokens.

A `Turn` holds the assistant message with the exact token ids and log-probs the policy generated (never
re-tokenized), the observation messages the env answered with, the reward of that step, usage and timing.
A `Trajectory` holds the episode's opening messages, its turns, outcome and totals. `TrajectoryStore`
appends one JSON line per finished episode and flushes it at once, so a killed run loses at most the
episodes in flight and a rerun skips the ones already stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentgym.records import FormatVerdict, TaskRecord


@dataclass
class Turn:
    """One assistant action and the env's answer to it.

    Token-level policies (`hf:` agents, trainers' rollout engines) record the exact token context: the
    ids appended to it right before this turn was generated (`context_ids`: the whole prompt on the first
    turn of a context, the template delta of the previous observation after that) and the ids generated
    (`token_ids`, with their `logprobs`). A context's ids are therefore the concatenation of its turns'
    `context_ids + token_ids`. Envs that rebuild the agent's context (`info["context_reset"]`, e.g.
    `agentgym.wrappers.MarkovianWorkspace`) return the complete next prompt as the observation; `context_reset`
    is True on every turn whose observation replaces the context, and the next turn starts a new context.
    Message-level agents leave the token fields None.
    """

    assistant: dict[str, Any]
    observation: list[dict[str, Any]] = field(default_factory=list)
    reward: float = 0.0
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    context_ids: list[int] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    finish_reason: str | None = None
    tool_calls: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    agent_seconds: float = 0.0
    env_seconds: float = 0.0
    context_reset: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Trajectory:
    """A whole episode."""

    episode_id: str
    env_id: str
    task_id: str
    agent_id: str
    sample_index: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    success: bool = False
    answer: Any = None
    reward_components: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    #: the task and its gold answers, as the env stated them at reset
    task: TaskRecord | None = None
    #: the env's verdict on the response's format (envs that impose one, e.g. TAPO), else None
    format: FormatVerdict | None = None
    error: str | None = None
    #: why the episode loop (not the env) cut the episode short, e.g. the context window was full
    truncation_reason: str | None = None
    started_at: float = 0.0
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        return self.error is None and (self.terminated or self.truncated)

    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @property
    def num_tool_calls(self) -> int:
        return sum(len(t.tool_calls) for t in self.turns)

    @property
    def prompt_tokens(self) -> int:
        return sum(t.prompt_tokens for t in self.turns)

    @property
    def completion_tokens(self) -> int:
        return sum(t.completion_tokens for t in self.turns)

    @property
    def cost(self) -> float:
        return sum(t.cost for t in self.turns)

    @property
    def turn_rewards(self) -> list[float]:
        return [t.reward for t in self.turns]

    def transcript(self) -> list[dict[str, Any]]:
        """The full conversation: opening messages, then each assistant turn and its observation."""
        out = list(self.messages)
        for t in self.turns:
            out.append(t.assistant)
            out.extend(t.observation)
        return out

    def contexts(self) -> list[list[Turn]]:
        """The turns grouped by token context: a new context starts after every turn that reset it."""
        out: list[list[Turn]] = []
        for k, t in enumerate(self.turns):
            if k == 0 or self.turns[k - 1].context_reset:
                out.append([])
            out[-1].append(t)
        return out

    def turn_prompt(self, k: int) -> list[dict[str, Any]]:
        """The messages turn `k` was generated from: the opening messages with every earlier turn and
        observation, restarted from the observation of the last earlier turn that reset the context."""
        out = list(self.messages)
        for t in self.turns[:k]:
            if t.context_reset:
                out = list(t.observation)
            else:
                out += [t.assistant, *t.observation]
        return out

    def context_conversations(self) -> list[list[dict[str, Any]]]:
        """The episode as the conversations its policy saw, one per context: each starts with the prompt of its
        first turn and holds its turns' assistant messages (and, inside the context, their observations)."""
        out: list[list[dict[str, Any]]] = []
        k = 0
        for segment in self.contexts():
            conversation = self.turn_prompt(k)
            for t in segment:
                conversation.append(t.assistant)
                if not t.context_reset:
                    conversation.extend(t.observation)
            out.append(conversation)
            k += len(segment)
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["task"] = self.task.to_dict() if self.task is not None else None
        data["format"] = self.format.to_dict() if self.format is not None else None
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        data = dict(data)
        turns = [Turn.from_dict(t) for t in data.pop("turns", [])]
        task, verdict = data.pop("task", None), data.pop("format", None)
        known = {f for f in cls.__dataclass_fields__}
        return cls(turns=turns, task=TaskRecord.from_dict(task) if task else None,
                   format=FormatVerdict.from_dict(verdict) if verdict else None,
                   **{k: v for k, v in data.items() if k in known})


def episode_key(task_id: str, sample_index: int) -> str:
    """The id of the `sample_index`-th episode on a task (what resuming matches on)."""
    return f"{task_id}#{sample_index}"


class TrajectoryStore:
    """Append-only JSONL file of trajectories.

    Args:
        path: the JSONL file (created with its parent folders).
        fsync: also fsync after each episode (survives power loss, not only a killed process).
    """

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def _repair_tail(self) -> None:
        """Drop a partial last line left by a process killed mid-write."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            cut = data.rfind(b"\n") + 1
            f.truncate(cut)

    def append(self, trajectory: Trajectory) -> None:
        self._fh.write(trajectory.to_json() + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def extend(self, trajectories: Iterable[Trajectory]) -> None:
        for t in trajectories:
            self.append(t)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Trajectory]:
        return iter_trajectories(self.path)

    def finished_keys(self) -> set[str]:
        return {t.episode_id for t in iter_trajectories(self.path) if t.finished}


def iter_trajectories(path: str | Path) -> Iterator[Trajectory]:
    """Read a trajectory JSONL file, skipping lines that do not decode (a torn write)."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                yield Trajectory.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue


def load_trajectories(path: str | Path) -> list[Trajectory]:
    return list(iter_trajectories(path))
