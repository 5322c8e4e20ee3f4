"""Token rows for supervised language-model passes: plain text (continued pretraining) and chat messages
(SFT with the loss on the assistant's tokens only), and the JSONL files they come from.

A chat conversation is tokenized the way a token-level policy would have seen and produced it, with the
project's chat-template helpers: the opening prompt (`prompt_ids`, ending with the generation prompt),
then per assistant message its content and the template's end-of-turn token (the trained tokens), then
the template's delta up to the next generation prompt (`turn_delta_ids`). So SFT rows match the token view
RL trains on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agentgym.models.chat_template import SENTINEL, chat_messages, prompt_ids, turn_delta_ids

__all__ = ["DataFileError", "LMExample", "chat_examples", "collate_examples", "read_chat_file", "read_text_file",
           "text_examples"]


class DataFileError(ValueError):
    """A training data file is missing a field or is not JSONL; the message names the file and line."""


@dataclass
class LMExample:
    """One training row: token ids and which of them carry the loss (1) or are context only (0)."""

    input_ids: list[int]
    loss_mask: list[int]
    truncated: bool = False

    @property
    def num_loss_tokens(self) -> int:
        """Tokens that are predicted (the first token of a row never is: nothing comes before it)."""
        return sum(self.loss_mask[1:])


# ------------------------------------------------------------------ files


def _rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFileError(f"{path}:{number}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(row, dict):
                raise DataFileError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            rows.append((number, row))
    if not rows:
        raise DataFileError(f"{path}: no records")
    return rows


def read_text_file(path: str | Path, field: str = "text") -> list[str]:
    """The `field` of every record of a JSONL file (continued-pretraining text, as `cpt.jsonl` has it)."""
    out = []
    for number, row in _rows(path):
        text = row.get(field)
        if not isinstance(text, str) or not text:
            raise DataFileError(f"{path}:{number}: expected a non-empty string {field!r}, got {text!r:.60}")
        out.append(text)
    return out


def read_chat_file(path: str | Path, field: str = "messages") -> list[list[dict[str, str]]]:
    """The chat conversations (`field`: a list of {role, content}) of a JSONL file, as `sft.jsonl` has them;
    each needs at least one assistant message."""
    out = []
    for number, row in _rows(path):
        messages = row.get(field)
        where = f"{path}:{number}"
        if not isinstance(messages, list) or not messages:
            raise DataFileError(f"{where}: expected a non-empty list {field!r} of chat messages")
        for i, m in enumerate(messages):
            if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content", ""), (str, type(None)))):
                raise DataFileError(f"{where}: message {i} must be an object with a string 'role' and 'content'")
        if not any(m["role"] == "assistant" for m in messages):
            raise DataFileError(f"{where}: the conversation has no assistant message to train on")
        if messages[0]["role"] == "assistant":
            raise DataFileError(f"{where}: the conversation starts with an assistant message (no prompt)")
        out.append(chat_messages(messages))
    return out


# ------------------------------------------------------------------ tokenizing


def _eos(tokenizer: Any) -> list[int]:
    return [int(tokenizer.eos_token_id)] if tokenizer.eos_token_id is not None else []


def text_examples(tokenizer: Any, texts: Sequence[str], max_length: int, pack: bool = True) -> list[LMExample]:
    """Rows of plain text, every token trained: each text ends with EOS; `pack` concatenates them all and
    cuts the stream into rows of `max_length` (no padding wasted), else one row per text (cut at
    `max_length`)."""
    if max_length < 2:
        raise ValueError("max_length must be at least 2")
    docs = [list(tokenizer(t, add_special_tokens=False)["input_ids"]) + _eos(tokenizer) for t in texts]
    if not pack:
        return [LMExample(d[:max_length], [1] * min(len(d), max_length), len(d) > max_length) for d in docs if len(d) > 1]
    stream = [i for d in docs for i in d]
    rows = [stream[i:i + max_length] for i in range(0, len(stream), max_length)]
    return [LMExample(r, [1] * len(r)) for r in rows if len(r) > 1]


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """The token(s) a model generates to end its turn: the special token the chat template writes right
    after an assistant message (ChatML's `<|im_end|>`), else EOS."""
    msgs = [{"role": "user", "content": "x"}, {"role": "assistant", "content": SENTINEL}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False)
    tail = text[text.rfind(SENTINEL) + len(SENTINEL):] if SENTINEL in text else ""
    specials = sorted(getattr(tokenizer, "all_special_tokens", []), key=len, reverse=True)
    for token in specials:
        if token and tail.startswith(token):
            return [int(tokenizer.convert_tokens_to_ids(token))]
    return _eos(tokenizer)


def _chat_row(tokenizer: Any, messages: list[dict[str, str]], end: list[int]) -> tuple[list[int], list[int]]:
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    msgs = messages[: last + 1]  # what follows the last assistant message is never trained on
    first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    ids = prompt_ids(tokenizer, msgs[:first])
    mask = [0] * len(ids)
    i = first
    while True:
        gen = list(tokenizer(msgs[i]["content"], add_special_tokens=False)["input_ids"]) + end
        ids += gen
        mask += [1] * len(gen)
        nxt = next((j for j in range(i + 1, len(msgs)) if msgs[j]["role"] == "assistant"), None)
        if nxt is None:
            return ids, mask
        delta = turn_delta_ids(tokenizer, msgs[:i], msgs[i + 1:nxt], gen)
        ids += delta
        mask += [0] * len(delta)
        i = nxt


def chat_examples(tokenizer: Any, conversations: Sequence[Sequence[dict[str, Any]]], max_length: int
                  ) -> list[LMExample]:
    """One row per conversation, the loss on the assistant messages' tokens (and their end-of-turn token);
    rows are cut at `max_length`, and a row left without any assistant token is dropped."""
    if max_length < 2:
        raise ValueError("max_length must be at least 2")
    end = end_of_turn_ids(tokenizer)
    out = []
    for conv in conversations:
        ids, mask = _chat_row(tokenizer, chat_messages(conv), end)
        row = LMExample(ids[:max_length], mask[:max_length], len(ids) > max_length)
        if row.num_loss_tokens:
            out.append(row)
    return out


def collate_examples(examples: Sequence[LMExample], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(input_ids, attention_mask, loss_mask)`, right-padded to the longest row."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(examples), width), dtype=torch.long)
    loss = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids, dtype=torch.long)
        attn[i, :n] = 1
        loss[i, :n] = torch.tensor(e.loss_mask, dtype=torch.long)
    loss[:, 0] = 0  # nothing predicts a row's first token
    return ids, attn, loss
