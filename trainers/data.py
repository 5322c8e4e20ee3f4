"""The token view of multi-turn trajectories: what the policy saw and what it generated, as padded tensors.

Nothing is rendered or tokenized here. The episode loop records, on every turn of a token-level policy,
the ids appended to the context before the turn (`Turn.context_ids`) and the ids generated
(`Turn.token_ids`); a token context is their concatenation::

    [context_ids of turn 1: the whole prompt]
    [token_ids of turn 1: exactly as sampled]                              <- loss_mask 1
    [context_ids of turn 2: end of the assistant turn, the observation, next generation prompt]
    [token_ids of turn 2] ...

so every training row is a sequence the policy was actually prompted with. An env that rebuilds the
context (`Turn.context_reset`) gives one row per context.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from agentgym.trajectory import Trajectory, Turn


@dataclass
class SequenceView:
    """One token context of a trajectory as flat token lists (before padding)."""

    input_ids: list[int]
    loss_mask: list[int]
    logprobs: list[float]
    turn_index: list[int]  # k on the tokens the policy generated in this context's turn k, -1 elsewhere
    turn_rewards: list[float]
    reward_positions: list[int]  # where each turn's reward sits (its last kept policy token)
    prompt_length: int
    truncated: bool = False


def context_view(turns: Sequence[Turn], max_length: int | None = None, where: str = "") -> SequenceView:
    """The recorded ids of one token context (`turns` in order); with `max_length`, tokens past it are
    cut and `truncated` is set. Missing `logprobs` are filled with 0."""
    ids: list[int] = []
    mask: list[int] = []
    lps: list[float] = []
    tix: list[int] = []
    ends: list[int] = []
    for k, turn in enumerate(turns):
        if turn.token_ids is None or turn.context_ids is None:
            raise ValueError(f"turn {k} of {where or 'a trajectory'} has no recorded token ids: the token view "
                             "needs episodes played by a token-level policy (an hf: agent or a rollout engine)")
        gen = list(turn.token_ids)
        lp = list(turn.logprobs) if turn.logprobs is not None else [0.0] * len(gen)
        if len(lp) != len(gen):
            raise ValueError(f"turn {k} of {where}: {len(gen)} token ids but {len(lp)} logprobs")
        ctx = list(turn.context_ids)
        ids += ctx + gen
        mask += [0] * len(ctx) + [1] * len(gen)
        lps += [0.0] * len(ctx) + lp
        tix += [-1] * len(ctx) + [k] * len(gen)
        ends.append(len(ids) - 1 if gen else -1)
    prompt_len = len(turns[0].context_ids or ()) if turns else 0
    truncated = max_length is not None and len(ids) > max_length
    if truncated:
        assert max_length is not None
        ids, mask, lps, tix = ids[:max_length], mask[:max_length], lps[:max_length], tix[:max_length]
    return SequenceView(ids, mask, lps, tix, [t.reward for t in turns], _reward_positions(ends, mask), prompt_len,
                        truncated)


def trajectory_views(traj: Trajectory, max_length: int | None = None) -> list[SequenceView]:
    """One `SequenceView` per token context of `traj` (one for an env that never resets the context)."""
    return [context_view(turns, max_length, f"episode {traj.episode_id}") for turns in traj.contexts()]


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
    which rows share a task; `truncated` (B,) marks rows cut at the maximum length; `episode_index` (B,)
    says which episode each row comes from (several rows when the env resets the context). `values` are a
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
    episode_index: torch.Tensor | None = None
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


def collate(views: Sequence[SequenceView], groups: Sequence[Hashable], pad_id: int,
            episodes: Sequence[int] | None = None) -> TokenBatch:
    """Pad `SequenceView`s into a `TokenBatch` (right padding; padded tokens have every mask 0). `episodes`
    says which episode each view comes from (default: one episode per view)."""
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
        episode_index=torch.tensor(list(episodes) if episodes is not None else range(b), dtype=torch.long),
    )


def build_batch(
    trajectories: Sequence[Trajectory],
    tokenizer: Any,
    max_length: int | None = None,
    group_key: Callable[[Trajectory], Hashable] = lambda t: t.task_id,
) -> TokenBatch:
    """Token view of a batch of trajectories: one row per token context (one per trajectory unless its env
    resets the context), grouped by `group_key` (the task id by default); `tokenizer` gives the pad id."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    views: list[SequenceView] = []
    groups: list[Hashable] = []
    episodes: list[int] = []
    for e, t in enumerate(trajectories):
        for view in trajectory_views(t, max_length):
            views.append(view)
            groups.append(group_key(t))
            episodes.append(e)
    return collate(views, groups, int(pad or 0), episodes)
