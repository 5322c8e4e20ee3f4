"""`agentgym/MathSearch-v0`: math word problems and multi-hop questions mixed, with `python`, `search` and
`answer` tools, so that the agent has to pick the right tool (the task mix TAPO trains on).

Math tasks come from GSM8K when its file is found (as in `MathPython-v0`), else from generated word
problems; questions come from `MultiHopQA-v0`'s generated knowledge base. Task ids are `math/<id>` and
`qa/<id>`. The reward is 1 for a right answer: compared as numbers for math, by exact match (SQuAD
normalization) against the gold aliases for questions. `info["task"]` (a `TaskRecord`) carries the gold
answers and the task's kind ("math" or "fact", the TAPO reward's kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentgym.envs.code.answers import answers_match
from agentgym.envs.code.math_python import (
    default_data_path,
    generated_word_problems,
    gsm8k_tasks,
    used_python,
)
from agentgym.envs.code.sandbox_env import SandboxEnv
from agentgym.envs.search.env import gold_answers, kb_backend, multihop_tasks, num_searches
from agentgym.envs.search.kb import KBConfig
from agentgym.envs.search.metrics import exact_match
from agentgym.tools.common import answer_tool
from agentgym.tools.search import make_search_tool

from agentgym.protocols import ToolProtocol, get_protocol
from agentgym.records import TaskRecord
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import MixedTaskDataset, Task, TaskDataset

SYSTEM_PROMPT = (
    "Answer the question. For a calculation, write Python with the python tool and compute every number "
    "with it. For facts, search the document collection with the search tool, one step at a time; do not "
    "answer facts from memory. Give the final answer with the answer tool as a number or a short phrase "
    "(a name), no sentence."
)
KINDS = {"math": "math", "qa": "fact"}


def task_kind(state: EpisodeState) -> str:
    """"math" or "fact"."""
    return KINDS.get(str(state.task.metadata.get("source")), "fact")


def correct(state: EpisodeState) -> float:
    """1.0 for a right answer: numerically equal for math, an exact match of a gold alias for facts."""
    if not state.submitted:
        return 0.0
    if task_kind(state) == "math":
        return float(answers_match(state.answer, state.task.answer))
    return exact_match(state.answer, gold_answers(state))


def used_search(state: EpisodeState) -> float:
    return float(state.data.get("searches", 0) > 0)


class MathSearchEnv(SandboxEnv):
    """Math word problems and multi-hop questions with `python(code)`, `search(query)` and `answer(answer)`.

    Args:
        data_path: a GSM8K-format JSONL file for the math half (default: `MathPython-v0`'s lookup; generated
            word problems when none is found).
        hops, n_docs, distractors, kb_seed, retriever, attribute_rate: the questions and their knowledge
            base, as in `MultiHopQA-v0`.
        top_k, snippet_chars: search results per call and characters of each.
        weights: how often `reset(seed=...)` draws each source, e.g. {"math": 1, "qa": 1} (the default).
        split: the split episodes draw from ("train": GSM8K has only that one).
        protocol: "tags" (default), "hermes", "native" or a protocol instance (`TAPO-MathSearch-v0` uses TAPO's).
        max_turns: turns before truncation.
        **kwargs: `SandboxEnv` options (backend, pool, exec_timeout ...).
    """

    def __init__(
        self,
        data_path: str | Path | None = None,
        hops: int | Sequence[int] = (1, 2),
        n_docs: int = 5_000,
        distractors: int = 2,
        kb_seed: int = 0,
        retriever: str = "bm25",
        attribute_rate: float = 0.3,
        top_k: int = 3,
        snippet_chars: int = 400,
        weights: dict[str, float] | None = None,
        split: str = "train",
        protocol: str | ToolProtocol = "tags",
        max_turns: int = 10,
        **kwargs: Any,
    ) -> None:
        path = Path(data_path) if data_path is not None else default_data_path()
        # a GSM8K file is one split named after it ("train"); generated problems have train and test
        math: TaskDataset = gsm8k_tasks(path) if path is not None else generated_word_problems()
        self.config = KBConfig(n_docs=n_docs, distractors=distractors, seed=kb_seed)
        qa = multihop_tasks(self.config, hops, attribute_rate)
        tasks = MixedTaskDataset({"math": math, "qa": qa}, weights)
        backend = kb_backend(self.config, retriever)
        tools = [make_search_tool(backend, k=top_k, snippet_chars=snippet_chars), answer_tool()]
        rubric = Rubric([RewardFunc(correct, 1.0), RewardFunc(used_python, 0.0), RewardFunc(used_search, 0.0),
                         RewardFunc(num_searches, 0.0)])
        if protocol == "tags":
            protocol = get_protocol("tags", result_tag="output")
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, tools, rubric, protocol=protocol, max_turns=max_turns, split=split, **kwargs)

    def task_record(self, task: Task) -> TaskRecord:
        """The gold answer (aliases for facts) and the task's kind: "math" or "fact"."""
        return replace(super().task_record(task), kind=KINDS.get(str(task.metadata.get("source")), "fact"))
