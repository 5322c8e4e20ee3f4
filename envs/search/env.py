"""Search environments: answer a question by querying a search tool, graded by EM / F1 against gold aliases.

`SearchEnv` is the shared base over any `SearchBackend` and task dataset. `MultiHopQAEnv`
(`agentgym/MultiHopQA-v0`) generates a fictional knowledge base and 1-4 hop questions about it;
`SearchQAEnv` (`agentgym/SearchQA-v0`) runs the same loop over a user's corpus and questions.

The gold answers reach trainers in `info["task"]` (a `TaskRecord`, at reset), the gold documents in
`info["gold_doc_ids"]` (at reset and on every step); the agent never sees `info`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.envs.search import data
from agentgym.envs.search.kb import KBConfig, build_kb
from agentgym.envs.search.metrics import exact_match, f1_score
from agentgym.envs.search.questions import make_question
from agentgym.tools.common import answer_tool
from agentgym.tools.search import SearchBackend, make_open_tool, make_search_tool
from agentgym.tools.search.build import build_backend, load_index
from agentgym.tools.search.corpus import DocStore, document_from_row, read_corpus

from agentgym.env import NO_TOOL_CALL_FINAL, NO_TOOL_CALL_REMIND, LanguageEnv
from agentgym.messages import Message, ToolCall
from agentgym.protocols import ToolProtocol, get_protocol
from agentgym.records import TaskRecord
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task, TaskDataset

SYSTEM_PROMPT = (
    "Answer the question. The facts you need are in a document collection that you can reach only "
    "through the search tool; do not answer from memory. Search one step at a time, reading each result "
    "before the next search, and search again when a result names something you need to look up. When "
    "you know the answer, give it with the answer tool as a short phrase (a name, a number), no sentence."
)


def gold_answers(state: EpisodeState) -> list[str]:
    answer = state.task.answer
    return [str(a) for a in answer] if isinstance(answer, (list, tuple)) else [str(answer)]


def em(state: EpisodeState) -> float:
    """Exact match of the submitted answer with any gold alias (SQuAD normalization)."""
    return exact_match(state.answer if state.submitted else None, gold_answers(state))


def f1(state: EpisodeState) -> float:
    """Best token-level F1 of the submitted answer against the gold aliases."""
    return f1_score(state.answer if state.submitted else None, gold_answers(state))


def _gold_hits(state: EpisodeState) -> tuple[int, int]:
    meta = state.task.metadata
    gold_ids = meta.get("gold_doc_ids") or []
    if gold_ids:
        seen = set(state.data.get("retrieved", ()))
        return sum(1 for g in gold_ids if g in seen), len(gold_ids)
    titles = meta.get("gold_titles") or []
    seen_titles = set(state.data.get("retrieved_titles", ()))
    return sum(1 for t in titles if t in seen_titles), len(titles)


def gold_doc_retrieved(state: EpisodeState) -> float:
    """1.0 when any gold document appeared in a search result or was opened."""
    return float(_gold_hits(state)[0] > 0)


def gold_doc_recall(state: EpisodeState) -> float:
    """Fraction of the gold documents that were retrieved."""
    hit, total = _gold_hits(state)
    return hit / total if total else 0.0


def num_searches(state: EpisodeState) -> float:
    """Number of search calls (well-formed or not)."""
    return float(state.data.get("searches", 0))


def answered(state: EpisodeState) -> float:
    return float(state.submitted)


REWARDS = ("em", "f1")


class SearchEnv(LanguageEnv):
    """Question answering with `search(query)`, optionally `open(doc_id)`, and `answer(answer)`.

    Args:
        tasks: questions; `task.answer` holds the gold aliases, `task.metadata` the gold doc ids/titles.
        backend: where searches go.
        top_k: results per search.
        snippet_chars: characters of each result's text shown.
        open_tool: offer `open(doc_id)` for a document's full text.
        reward: "em" (default) or "f1"; the other is logged with weight 0.
        protocol: "tags" (default: `<search>..</search>`, results in `<information>..</information>`,
            `<answer>..</answer>`), "hermes", "native" or a protocol instance.
        max_turns: turns before truncation.
        on_no_tool_call: "final" or "remind"; default "final" for native tool calling, "remind" for text.
    """

    def __init__(
        self,
        tasks: TaskDataset,
        backend: SearchBackend,
        *,
        top_k: int = 3,
        snippet_chars: int = 400,
        open_tool: bool = True,
        reward: str = "em",
        protocol: str | ToolProtocol = "tags",
        max_turns: int = 10,
        on_no_tool_call: str | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        **kwargs: Any,
    ) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        self.backend = backend
        self.top_k = top_k
        tools = [make_search_tool(backend, k=top_k, snippet_chars=snippet_chars)]
        if open_tool:
            tools.append(make_open_tool(backend))
        tools.append(answer_tool())
        if protocol == "tags":
            protocol = get_protocol("tags", result_tag="information")
        proto = get_protocol(protocol)
        if on_no_tool_call is None:
            on_no_tool_call = NO_TOOL_CALL_FINAL if proto.native else NO_TOOL_CALL_REMIND
        rubric = Rubric([
            RewardFunc(em, 1.0 if reward == "em" else 0.0), RewardFunc(f1, 1.0 if reward == "f1" else 0.0),
            RewardFunc(gold_doc_retrieved, 0.0), RewardFunc(gold_doc_recall, 0.0),
            RewardFunc(num_searches, 0.0), RewardFunc(answered, 0.0),
        ])
        super().__init__(tasks, tools, rubric, protocol=proto, system_prompt=system_prompt, max_turns=max_turns,
                         on_no_tool_call=on_no_tool_call, **kwargs)

    def build_system_prompt(self, task: Task) -> str:
        """Instructions, tool descriptions and, for text protocols, the call format by example."""
        base = super().build_system_prompt(task)
        if self.protocol.native:
            return base
        search = Message("assistant", None, [ToolCall("c0", "search", '{"query": "Ada Lovelace birthplace"}')])
        ans = Message("assistant", None, [ToolCall("c1", "answer", '{"answer": "London"}')])
        return (f"{base}\n\nExample: to search, write {self.protocol.encode_calls(search)}; "
                f"to answer, write {self.protocol.encode_calls(ans)}")

    def task_record(self, task: Task) -> TaskRecord:
        """The gold answer aliases; answers are facts."""
        return replace(super().task_record(task), kind="fact")

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        """What a reader of the run may know and the agent may not: the gold documents; searches so far."""
        meta = state.task.metadata
        return {"gold_doc_ids": list(meta.get("gold_doc_ids") or []),
                "gold_titles": list(meta.get("gold_titles") or []), "searches": int(state.data.get("searches", 0))}


# ---------------------------------------------------------------------------- MultiHopQA-v0


@lru_cache(maxsize=8)
def kb_backend(config: KBConfig, retriever: str = "bm25") -> SearchBackend:
    """The search backend over a generated knowledge base (built once per config and retriever)."""
    return build_backend(build_kb(config).documents(), retriever)


class MultiHopQAEnv(SearchEnv):
    """`agentgym/MultiHopQA-v0`: 1-4 hop questions about a generated knowledge base of fictional entities.

    Args:
        hops: hops per question, or a sequence to draw from uniformly (1 to 4).
        n_docs: corpus size (one document per entity).
        distractors: how many other entities share each person/organization name word.
        kb_seed: the knowledge base's seed (questions are seeded by task id).
        retriever: "bm25" (default), "dense" or "hybrid".
        attribute_rate: how often the last hop asks for an attribute (a year, a number) instead of an entity.
        sizes: nominal number of questions per split.
        **kwargs: `SearchEnv` options (top_k, protocol, reward, max_turns ...).
    """

    def __init__(
        self,
        hops: int | Sequence[int] = 2,
        n_docs: int = 5_000,
        distractors: int = 2,
        kb_seed: int = 0,
        retriever: str = "bm25",
        attribute_rate: float = 0.3,
        sizes: dict[str, int] | None = None,
        split: str = "test",
        **kwargs: Any,
    ) -> None:
        self.config = KBConfig(n_docs=n_docs, distractors=distractors, seed=kb_seed)
        self.kb = build_kb(self.config)
        tasks = multihop_tasks(self.config, hops, attribute_rate, sizes)
        self.hop_choices = tasks.hop_choices
        super().__init__(tasks, kb_backend(self.config, retriever), split=split, **kwargs)


class MultiHopTasks(GeneratedTaskDataset):
    """The generated questions of `MultiHopQAEnv` (see `multihop_tasks`)."""

    hop_choices: tuple[int, ...] = ()


def multihop_tasks(config: KBConfig, hops: int | Sequence[int] = 2, attribute_rate: float = 0.3,
                   sizes: dict[str, int] | None = None) -> MultiHopTasks:
    """1-4 hop questions about the knowledge base of `config`; `task.answer` holds the gold aliases and
    `task.metadata` the gold documents, relation chain and hop count."""
    hop_choices = (hops,) if isinstance(hops, int) else tuple(int(h) for h in hops)
    if not hop_choices or any(not 1 <= h <= 4 for h in hop_choices):
        raise ValueError("hops must be between 1 and 4")
    kb = build_kb(config)

    def make_task(rng: np.random.Generator, task_id: str, task_split: str) -> Task:
        h = hop_choices[int(rng.integers(len(hop_choices)))]
        q = make_question(kb, rng, h, attribute_rate)
        return Task(task_id, q.question, list(q.answers), task_split, metadata={
            "gold_doc_ids": list(q.gold_doc_ids), "gold_titles": list(q.gold_titles),
            "relations": list(q.relations), "hops": q.hops})

    salt = f"mhqa:{config.n_docs}:{config.distractors}:{config.seed}:{hop_choices}:{attribute_rate}"
    tasks = MultiHopTasks(make_task, sizes or {"train": 100_000, "test": 1_000}, salt=salt)
    tasks.hop_choices = hop_choices
    return tasks


# ---------------------------------------------------------------------------- SearchQA-v0


def _file_key(path: str | Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _corpus_backend(key: tuple[str, int, int], retriever: str) -> SearchBackend:
    return build_backend(DocStore(read_corpus(key[0])), retriever)


@lru_cache(maxsize=8)
def _index_backend(key: tuple[str, int, int], retriever: str) -> SearchBackend:
    return load_index(Path(key[0]).parent, retriever)


DEMO_CONFIG = KBConfig(n_docs=300, distractors=1, seed=7)


@lru_cache(maxsize=1)
def demo_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A small corpus and question set, in the file formats SearchQA reads, for trying the env out."""
    kb = build_kb(DEMO_CONFIG)
    corpus = [d.to_dict() for d in kb.documents()]
    rng = np.random.default_rng(0)
    questions = []
    for i in range(100):
        q = make_question(kb, rng, 1 + i % 3)
        questions.append({"id": f"demo-{i}", "question": q.question, "golden_answers": list(q.answers),
                          "gold_doc_ids": list(q.gold_doc_ids), "hops": q.hops})
    return corpus, questions


@lru_cache(maxsize=4)
def _demo_backend(retriever: str) -> SearchBackend:
    rows = demo_rows()[0]
    return build_backend([document_from_row(r, i) for i, r in enumerate(rows)], retriever)


class SearchQAEnv(SearchEnv):
    """`agentgym/SearchQA-v0`: question answering over your own corpus and questions.

    Args:
        questions: a JSONL (or JSON list) file of questions; HotpotQA, FlashRAG / Search-R1 and plain
            fields are accepted (see `agentgym.envs.search.data`). Without it, a small generated demo set.
        corpus: a JSONL corpus (`id`, `title`, `text`; FlashRAG `contents` too), indexed in memory.
        index_dir: a saved index (`agentgym index build`) to use instead of indexing `corpus`.
        backend: any `SearchBackend` (e.g. `HttpSearchBackend`) instead of a local index.
        retriever: "bm25", "dense" or "hybrid" for a local corpus or index.
        split: the split `reset(seed=...)` samples from (rows without a `split` field are "test").
        **kwargs: `SearchEnv` options.

    With none of `corpus`, `index_dir` and `backend`, HotpotQA-style `context` paragraphs of the questions
    become the corpus.
    """

    def __init__(
        self,
        questions: str | Path | None = None,
        corpus: str | Path | None = None,
        index_dir: str | Path | None = None,
        backend: SearchBackend | None = None,
        retriever: str = "bm25",
        split: str = "test",
        **kwargs: Any,
    ) -> None:
        if questions is None:
            rows = demo_rows()[1]
            if backend is None and corpus is None and index_dir is None:
                backend = _demo_backend(retriever)
        else:
            rows = data.read_rows(questions)
        tasks = data.questions_from_rows(rows)
        if backend is None:
            if index_dir is not None:
                from agentgym.tools.search.bm25 import META_FILE

                backend = _index_backend(_file_key(Path(index_dir) / META_FILE), retriever)
            elif corpus is not None:
                backend = _corpus_backend(_file_key(corpus), retriever)
            else:
                docs = data.corpus_from_contexts(rows)
                if not docs:
                    raise ValueError("SearchQA needs a corpus, an index_dir, a backend, or questions with "
                                     "HotpotQA `context` paragraphs")
                backend = build_backend(docs, retriever)
        self._map_titles(tasks, backend)
        super().__init__(TaskDataset(tasks), backend, split=split, **kwargs)

    @staticmethod
    def _map_titles(tasks: list[Task], backend: SearchBackend) -> None:
        """Fill gold doc ids from gold titles when the backend's documents are local."""
        store = getattr(backend, "store", None)
        if store is None or not any(t.metadata.get("gold_titles") and not t.metadata.get("gold_doc_ids")
                                    for t in tasks):
            return
        by_title: dict[str, str] = {}
        for doc in store:
            by_title.setdefault(doc.title, doc.id)
        for t in tasks:
            meta = t.metadata
            if not meta.get("gold_doc_ids") and meta.get("gold_titles"):
                meta["gold_doc_ids"] = [by_title[x] for x in meta["gold_titles"] if x in by_title]
