"""Question datasets from user files: HotpotQA, FlashRAG / Search-R1 and plain JSONL rows become tasks.

Accepted question fields:
  id: `id`, `_id`, `qid`, `question_id` (else the row number);
  question: `question`, `query`, `input`;
  answers: `golden_answers`, `gold_answers`, `answers`, `answer` (a string, a list, or SQuAD's
  `{"text": [...]}`);
  gold documents: `gold_doc_ids`, `supporting_doc_ids`, `positive_doc_ids` (ids), or titles from
  `gold_titles` or HotpotQA's `supporting_facts` (`[[title, sent_id], ...]` or `{"title": [...]}`), also
  inside FlashRAG's `metadata`;
  split: `split` (else the loader's default).
HotpotQA's `context` (`[[title, [sentences]], ...]`) can serve as the corpus when no corpus file is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentgym.tools.search.base import Document

from agentgym.tasks import Task


def _first(row: dict[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        if row.get(k) not in (None, "", []):
            return row[k]
    return None


def _answers(value: Any) -> list[str]:
    if isinstance(value, dict):
        value = value.get("text", value.get("answers", []))
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return []


def _titles(value: Any) -> list[str]:
    if isinstance(value, dict):
        value = value.get("title", [])
    titles: list[str] = []
    for item in value or []:
        title = item[0] if isinstance(item, (list, tuple)) and item else item
        if isinstance(title, str) and title not in titles:
            titles.append(title)
    return titles


def question_from_row(row: dict[str, Any], index: int, split: str = "test") -> Task:
    """One question row (see the module docstring for accepted fields) as a `Task`."""
    if not isinstance(row, dict):
        raise ValueError(f"question row {index + 1}: expected a JSON object")
    question = _first(row, ("question", "query", "input"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question row {index + 1}: no question text (question, query or input)")
    answers = _answers(_first(row, ("golden_answers", "gold_answers", "answers", "answer")))
    if not answers:
        raise ValueError(f"question row {index + 1}: no gold answer (golden_answers, answers or answer)")
    meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    gold_ids = _first(row, ("gold_doc_ids", "supporting_doc_ids", "positive_doc_ids")) or []
    titles = _titles(_first(row, ("gold_titles", "supporting_facts")) or meta.get("supporting_facts"))
    task_id = _first(row, ("id", "_id", "qid", "question_id"))
    return Task(
        id=str(task_id) if task_id is not None else f"q{index}",
        prompt=question.strip(),
        answer=answers,
        split=str(row.get("split") or split),
        metadata={"gold_doc_ids": [str(i) for i in gold_ids], "gold_titles": titles,
                  **({"hops": row["hops"]} if "hops" in row else {})},
    )


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, or of a JSON file holding a list (HotpotQA's own files)."""
    p = Path(path)
    with open(p, encoding="utf-8") as f:
        head = f.read(1)
        while head and head.isspace():
            head = f.read(1)
        f.seek(0)
        if head == "[":
            data = json.load(f)
            if not isinstance(data, list):
                raise ValueError(f"{p}: expected a JSON list of questions")
            return data
        rows = []
        for i, line in enumerate(f):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}: line {i + 1} is not valid JSON ({e.msg})") from None
        return rows


def questions_from_rows(rows: Iterable[dict[str, Any]], split: str = "test") -> list[Task]:
    """Tasks from question rows; duplicate ids are an error (the dataset needs unique ids)."""
    return [question_from_row(r, i, split) for i, r in enumerate(rows)]


def corpus_from_contexts(rows: Iterable[dict[str, Any]]) -> list[Document]:
    """A corpus made of the HotpotQA `context` paragraphs of the questions (one document per title)."""
    docs: dict[str, Document] = {}
    for row in rows:
        context = row.get("context") or []
        if isinstance(context, dict):  # the datasets-library layout: {"title": [...], "sentences": [...]}
            context = list(zip(context.get("title", []), context.get("sentences", []), strict=False))
        for item in context:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                continue
            title, sentences = item
            if isinstance(title, str) and title not in docs:
                text = " ".join(sentences) if isinstance(sentences, list) else str(sentences)
                docs[title] = Document(f"ctx-{len(docs)}", title, text.strip())
    return list(docs.values())
