"""The token view of multi-turn trajectories: what the policy saw and what it generated, as padded tensors.

A trajectory becomes one token sequence::

    [prompt: chat template of the opening messages + generation prompt]
    [turn 1: the exact token ids the engine sampled]                      <- loss_mask 1
    [delta 1: end of the assistant turn, the observation messages, next generation prompt]
    [turn 2: exact token ids] ...

Generated tokens are never re-tokenized. The tokens between turns come from the chat template itself:
the conversation is rendered with a sentinel as the assistant's content, and everything the template
writes after the sentinel (the end-of-turn marker, the separator newline, the tool/user messages and the
next `<|im_start|>assistant\n`) is the delta. When the policy already produced the end-of-turn special
token (EOS), it is not repeated. The rollout loop in `agentgym.trainers.episodes` extends its context with
the very same function, so the trained sequence is the sequence the policy was sampled on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from agentgym.trajectory import Trajectory

SENTINEL = "\u27e6agentgym-assistant-turn\u27e7"


def chat_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Messages reduced to role and text content, the form `render_prompt` gives the chat template."""
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def prompt_ids(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> list[int]:
    """Token ids of the opening messages under the chat template, ending with the generation prompt."""
    text = tokenizer.apply_chat_template(chat_messages(messages), tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def turn_delta_ids(
    tokenizer: Any,
    history: Sequence[dict[str, Any]],
    observation: Sequence[dict[str, Any]],
    generated_ids: Sequence[int],
) -> list[int]:
    """Tokens between the end of a generated turn and the start of the next generation.

    Args:
        tokenizer: the policy's tokenizer (with a chat template).
        history: all messages before the assistant turn (opening messages and earlier turns).
        observation: the messages the env answered the turn with (tool results, user replies).
        generated_ids: the turn's exact generated tokens (only its last token is looked at: when it is a
            special token the template also writes right after the content, such as `<|im_end|>`, the
            policy produced it and it is not added again).
    """
    msgs = [*chat_messages(history), {"role": "assistant", "content": SENTINEL}, *chat_messages(observation)]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    cut = text.rfind(SENTINEL)
    if cut < 0:
        raise ValueError("the chat template dropped the assistant message; cannot compute the turn delta")
    tail = text[cut + len(SENTINEL):]
    if generated_ids:
        last = int(generated_ids[-1])
        if last in set(getattr(tokenizer, "all_special_ids", [])):
            last_text = tokenizer.decode([last], skip_special_tokens=False)
            if last_text and tail.startswith(last_text):
                tail = tail[len(last_text):]
    return list(tokenizer(tail, add_special_tokens=False)["input_ids"])


@dataclass
class SequenceView:
    """One trajectory as flat token lists (before padding)."""

    input_ids: list[int]
    loss_mask: list[int]
    logprobs: list[float]
    turn_index: list[int]  # k on the tokens the policy generated in turn k, -1 elsewhere
    turn_rewards: list[float]
    reward_positions: list[int]  # where each turn's reward sits (its last kept policy token)
    prompt_length: int
    truncated: bool = False


def trajectory_tokens(traj: Trajectory, tokenizer: Any, max_length: int | None = None) -> SequenceView:
    """Token view of one trajectory; with `max_length`, tokens past it are cut and `truncated` is set.

    Turns need exact `token_ids` (from `HFEngine`, `VLLMEngine` or a token-reporting agent); missing
    `logprobs` are filled with 0.
    """
    ids = prompt_ids(tokenizer, traj.messages)
    prompt_len = len(ids)
    mask = [0] * len(ids)
    lps = [0.0] * len(ids)
    tix = [-1] * len(ids)
    ends: list[int] = []
    history = list(traj.messages)
    for k, turn in enumerate(traj.turns):
        if turn.token_ids is None:
            raise ValueError(f"turn {k} of episode {traj.episode_id} has no token ids; the token view needs them")
        gen = list(turn.token_ids)
        lp = list(turn.logprobs) if turn.logprobs is not None else [0.0] * len(gen)
        if len(lp) != len(gen):
            raise ValueError(f"turn {k}: {len(gen)} token ids but {len(lp)} logprobs")
        ids += gen
        mask += [1] * len(gen)
        lps += lp
        tix += [k] * len(gen)
        ends.append(len(ids) - 1 if gen else -1)
        last_turn = k == len(traj.turns) - 1
        if not last_turn or turn.observation:
            delta = turn_delta_ids(tokenizer, history, turn.observation, gen)
            ids += delta
            mask += [0] * len(delta)
            lps += [0.0] * len(delta)
            tix += [-1] * len(delta)
        history += [turn.assistant, *turn.observation]
    truncated = max_length is not None and len(ids) > max_length
    if truncated:
        assert max_length is not None
        ids, mask, lps, tix = ids[:max_length], mask[:max_length], lps[:max_length], tix[:max_length]
    positions = _reward_positions(ends, mask)
    return SequenceView(ids, mask, lps, tix, [t.reward for t in traj.turns], positions, prompt_len, truncated)


def _reward_positions(ends: list[int], mask: list[int]) -> list[int]:
    """Each turn's reward goes on its last policy token; a turn cut away (or empty) moves it to the
    last policy token still in the sequence, so no reward is lost to truncation."""
    kept = [i for i, m in enumerate(mask) if m]
    last_kept = kept[-1] if kept else 0  # no policy token left: position 0 keeps the row's score
    out = []
    for e in ends:
        out.append(e if 0 <= e < len(mask) and mask[e] else last_kept)
    return out


_SEQ_FIELDS = {"input_ids", "attention_mask", "loss_mask", "old_logprobs", "turn_index", "token_rewards",
               "advantages", "returns", "ref_logprobs", "values"}


@dataclass
class TokenBatch:
    """Right-padded `(B, T)` tensors for a batch of trajectories (mask 1 = the token counts).

    `old_logprobs` are the engine's log-probs of the generated tokens at the position of each token;
    `token_rewards` hold each turn's reward on its last policy token; `advantages` and `returns` are filled
    by an estimator. `turn_rewards`/`turn_mask` are `(B, K)` per-turn rewards; `group_index` (B,) says
    which rows share a task; `truncated` (B,) marks rows cut at the maximum length. `values` are a
    critic's values at rollout time (PPO). Tensors in `extras` whose first dimension is the batch are
    selected and split along with the rows (and trimmed when their second dimension is the sequence).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    old_logprobs: torch.Tensor
    turn_index: torch.Tensor
    token_rewards: torch.Tensor
    turn_rewards: torch.Tensor
    turn_mask: torch.Tensor
    group_index: torch.Tensor
    truncated: torch.Tensor
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None
    ref_logprobs: torch.Tensor | None = None
    values: torch.Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def scores(self) -> torch.Tensor:
        """Each row's total reward (B,)."""
        return self.token_rewards.sum(dim=-1)

    @property
    def num_policy_tokens(self) -> int:
        return int(self.loss_mask.sum())

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> TokenBatch:
        kw = {}
        rows = len(self)
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = fn(v) if isinstance(v, torch.Tensor) else v
        kw["extras"] = {k: fn(v) if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] == rows else v
                        for k, v in self.extras.items()}
        return TokenBatch(**kw)

    def to(self, device: torch.device | str) -> TokenBatch:
        return self._map(lambda t: t.to(device))

    def select(self, rows: torch.Tensor | Sequence[int]) -> TokenBatch:
        """The rows `rows`, trimmed to the longest remaining sequence."""
        idx = torch.as_tensor(rows, dtype=torch.long)
        sub = self._map(lambda t: t[idx])
        width = int(sub.attention_mask.sum(dim=-1).max()) if len(idx) else 0
        full = self.input_ids.shape[1]
        out = TokenBatch(**{
            f.name: (getattr(sub, f.name)[:, :width] if f.name in _SEQ_FIELDS and getattr(sub, f.name) is not None
                     else getattr(sub, f.name))
            for f in fields(sub)
        })
        out.extras = {k: v[:, :width] if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == full else v
                      for k, v in sub.extras.items()}
        return out

    def split(self, size: int) -> list[TokenBatch]:
        """Consecutive chunks of at most `size` rows (micro-batches)."""
        return [self.select(range(i, min(i + size, len(self)))) for i in range(0, len(self), size)]


def collate(views: Sequence[SequenceView], groups: Sequence[Hashable], pad_id: int) -> TokenBatch:
    """Pad `SequenceView`s into a `TokenBatch` (right padding; padded tokens have every mask 0)."""
    from agentgym.trainers.algorithms.advantages import as_group_index

    b = len(views)
    width = max((len(v.input_ids) for v in views), default=0)
    k = max((len(v.turn_rewards) for v in views), default=0)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    attn = torch.zeros((b, width), dtype=torch.long)
    lmask = torch.zeros((b, width), dtype=torch.long)
    lps = torch.zeros((b, width), dtype=torch.float32)
    tix = torch.full((b, width), -1, dtype=torch.long)
    trew = torch.zeros((b, width), dtype=torch.float32)
    turn_rewards = torch.zeros((b, max(k, 1)), dtype=torch.float32)
    turn_mask = torch.zeros((b, max(k, 1)), dtype=torch.long)
    for i, v in enumerate(views):
        n = len(v.input_ids)
        ids[i, :n] = torch.tensor(v.input_ids, dtype=torch.long)
        attn[i, :n] = 1
        lmask[i, :n] = torch.tensor(v.loss_mask, dtype=torch.long)
        lps[i, :n] = torch.tensor(v.logprobs, dtype=torch.float32)
        tix[i, :n] = torch.tensor(v.turn_index, dtype=torch.long)
        for j, (r, pos) in enumerate(zip(v.turn_rewards, v.reward_positions, strict=True)):
            turn_rewards[i, j] = r
            turn_mask[i, j] = 1
            trew[i, pos] += r
    return TokenBatch(
        input_ids=ids, attention_mask=attn, loss_mask=lmask, old_logprobs=lps, turn_index=tix,
        token_rewards=trew, turn_rewards=turn_rewards, turn_mask=turn_mask,
        group_index=as_group_index(list(groups)), truncated=torch.tensor([v.truncated for v in views]),
    )


def build_batch(
    trajectories: Sequence[Trajectory],
    tokenizer: Any,
    max_length: int | None = None,
    group_key: Callable[[Trajectory], Hashable] = lambda t: t.task_id,
) -> TokenBatch:
    """Token view of a batch of trajectories, grouped by `group_key` (the task id by default)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    views = [trajectory_tokens(t, tokenizer, max_length) for t in trajectories]
    return collate(views, [group_key(t) for t in trajectories], int(pad or 0))
