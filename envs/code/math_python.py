"""`agentgym/MathPython-v0`: math word problems solved with a Python sandbox and an `answer` tool."""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.envs.code.answers import answers_match, gsm8k_gold
from agentgym.envs.code.sandbox_env import SandboxEnv
from agentgym.tools.common import answer_tool

from agentgym.protocols import ToolProtocol
from agentgym.records import TaskRecord
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task, TaskDataset

SYSTEM_PROMPT = (
    "You solve math word problems. Write Python with the python tool to do every computation (the session "
    "keeps its variables between calls), then give the final number with the answer tool."
)
DATA_ENV_VAR = "AGENTGYM_GSM8K"
_REPO = Path(__file__).resolve().parents[2]
_log = logging.getLogger(__name__)


def default_data_path() -> Path | None:
    """GSM8K-format data: $AGENTGYM_GSM8K, else `../shared/data/gsm8k/train.jsonl` near the cwd or the repo."""
    env = os.environ.get(DATA_ENV_VAR)
    candidates = [Path(env)] if env else []
    rel = Path("..") / "shared" / "data" / "gsm8k" / "train.jsonl"
    candidates += [Path.cwd() / rel, _REPO / rel]
    return next((p.resolve() for p in candidates if p.is_file()), None)


@functools.cache
def _read_jsonl(path: str, split: str) -> tuple[Task, ...]:
    tasks = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            row = json.loads(line)
            tasks.append(Task(id=f"{split}-{i}", prompt=row["question"], answer=gsm8k_gold(row["answer"]),
                              split=split, metadata={"solution": row["answer"]}))
    return tuple(tasks)


def gsm8k_tasks(path: str | Path, split: str | None = None) -> TaskDataset:
    """Tasks from a GSM8K-format JSONL file (`question`, `answer` ending in `#### N`); split: the file stem."""
    path = Path(path)
    return TaskDataset(_read_jsonl(str(path.resolve()), split or path.stem))


def generated_word_problems(difficulty: int = 3) -> GeneratedTaskDataset:
    """Arithmetic word problems with exact answers (used when no GSM8K file is available)."""
    from agentgym.envs.arithmetic import generate_problem

    def make(rng: np.random.Generator, task_id: str, split: str) -> Task:
        text, value = generate_problem(rng, difficulty)
        return Task(id=task_id, prompt=text, answer=str(value), split=split)

    return GeneratedTaskDataset(make, {"train": 100_000, "test": 1_000}, salt=f"mathpython{difficulty}")


def correct(state: EpisodeState) -> float:
    """1.0 when the submitted answer equals the gold number (compared numerically)."""
    return float(state.submitted and answers_match(state.answer, state.task.answer))


def used_python(state: EpisodeState) -> float:
    return float(state.tool_counts.get("python", 0) > 0)


class MathPythonEnv(SandboxEnv):
    """Word problems with `python(code)` and `answer(answer)` tools; reward 1 for the right number.

    Args:
        data_path: a GSM8K-format JSONL file (default: `default_data_path()`; when none is found,
            generated arithmetic word problems are used and a message is logged).
        split: the split name for the file's tasks (default: the file stem, e.g. "train").
        protocol: "tags" (default), "hermes" or "native".
        max_turns: turns before truncation.
        backend, pool, exec_timeout, sandbox_options: see `SandboxEnv`.
    """

    def __init__(self, data_path: str | Path | None = None, split: str | None = None,
                 protocol: str | ToolProtocol = "tags", max_turns: int = 8, **kwargs: Any) -> None:
        path = Path(data_path) if data_path is not None else default_data_path()
        if path is not None:
            tasks: TaskDataset = gsm8k_tasks(path, split)
            split = split or path.stem
        else:
            _log.info("no GSM8K file found (set %s); MathPython uses generated word problems", DATA_ENV_VAR)
            tasks = generated_word_problems()
            split = split or "test"
        self.data_path = path
        rubric = Rubric([RewardFunc(correct, 1.0), RewardFunc(used_python, 0.0)])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, [answer_tool()], rubric, protocol=protocol, max_turns=max_turns, split=split,
                         **kwargs)

    def task_record(self, task: Task) -> TaskRecord:
        """The gold number; answers are compared as numbers ("math")."""
        return replace(super().task_record(task), kind="math")

    def build_system_prompt(self, task: Task) -> str:
        example = self.example_text('{"code": "apples = 23 * 4\\nprint(apples - 5)"}', "answer", '{"answer": "87"}')
        return "\n\n".join(p for p in (super().build_system_prompt(task), example) if p)
