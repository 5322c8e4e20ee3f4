"""Shapers: the stages of the one reward pipeline, env rubric -> reward shapers -> advantage shapers.

A trainer runs its own stages (TAPO's reward, IGPO's information gain) and then the user's
(`RLTrainer(..., shapers=[...])`), in order. A shaper can touch three points of a training step, each
optional, and is always told the group it works on (no state is kept between hooks):

- `prompt(messages, task_id, sample_index, group_size)`: change an episode's first messages before the
  policy sees them (training rollouts only; evaluation is untouched): HBPO states a token budget there,
  APO forces an execution mode.
- `shape_rewards(group)`: rewrite the turn rewards of one group's trajectories after the rollout (TAPO's
  reward, IGPO's probed gains, HBPO's budget reward, APO's cost-regularized reward).
- `shape_advantages(batch, advantages, groups)`: adjust the advantages (ASPO's early-tool-call shift,
  HBPO's intra+inter advantage). Needs one batch row per trajectory (not EAPO's per-round rows).

The formulas are the pure functions of `agentgym.trainers.algorithms.shaping`; these classes only map
trajectories to their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from agentgym.trainers.algorithms.shaping import (
    APO_MODES,
    HBPO_BUDGETS,
    apo_rewards,
    aspo_advantages,
    assign_budgets,
    budget_prompt,
    hbpo_advantages,
    hbpo_rewards,
    plan_apo_rollouts,
)
from agentgym.trainers.data import TokenBatch

from agentgym.trajectory import Trajectory

Messages = list[dict[str, Any]]


@dataclass
class Group:
    """The episodes of one task in one step: what group-relative rewards and advantages compare.

    Attributes:
        task_id: the task.
        trajectories: its episodes, in sample order.
        size: the episodes sampled per task this step (`sample_index` runs over `range(size)`).
    """

    task_id: str
    trajectories: list[Trajectory]
    size: int


def flatten(groups: Sequence[Group]) -> list[Trajectory]:
    """The trajectories of `groups`, group after group (the order of the batch rows)."""
    return [t for g in groups for t in g.trajectories]


class Shaper:
    """Base class: every hook is the identity."""

    def prompt(self, messages: Messages, task_id: str, sample_index: int, group_size: int) -> Messages:
        return messages

    def shape_rewards(self, group: Group) -> None:
        return None

    def shape_advantages(self, batch: TokenBatch, advantages: torch.Tensor,
                         groups: Sequence[Group]) -> torch.Tensor:
        return advantages


def append_to_last_user(messages: Messages, text: str) -> Messages:
    """A copy of `messages` with `text` appended to the last user message (or a new one at the end)."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            m["content"] = f"{m.get('content') or ''}\n\n{text}"
            return out
    return [*out, {"role": "user", "content": text}]


def set_outcome_reward(traj: Trajectory, reward: float) -> None:
    """Make `reward` the episode's whole reward, placed on its final turn."""
    for turn in traj.turns:
        turn.reward = 0.0
    if traj.turns:
        traj.turns[-1].reward = reward
    traj.reward = reward


def sequence_advantages(advantages: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """`(B,)` mean advantage over each row's policy tokens (the sequence advantage of outcome estimators)."""
    m = loss_mask.to(advantages.dtype)
    return (advantages * m).sum(-1) / m.sum(-1).clamp(min=1)


def _one_row_per_trajectory(batch: TokenBatch, trajectories: Sequence[Trajectory], name: str) -> None:
    if len(batch) != len(trajectories):
        raise ValueError(f"{name} shapes one batch row per trajectory; this trainer made {len(batch)} rows from "
                         f"{len(trajectories)} trajectories")


# tools that submit the final answer: calling one is answering, not using a tool
ANSWER_TOOLS = ("answer", "submit", "final_answer")


def first_tool_call_position(traj: Trajectory, answer_tools: Sequence[str] = ANSWER_TOOLS) -> int:
    """Index, among the episode's generated tokens, of the last token of the first turn that called a
    tool other than an answer tool (where the call is complete); -1 when no turn called one."""
    seen = 0
    for turn in traj.turns:
        seen += len(turn.token_ids or [])
        if any(name not in answer_tools for name in turn.tool_calls):
            return seen - 1
    return -1


class ASPOShaper(Shaper):
    """ASPO (arXiv 2508.19201): correct responses that call a tool earlier than their group's average get
    a larger advantage: `A + clip(delta (p - mean p) / mean L, -k|A|, k|A|)`, delta=-2, k=0.7."""

    def __init__(self, delta: float = -2.0, k: float = 0.7, answer_tools: Sequence[str] = ANSWER_TOOLS) -> None:
        self.delta, self.k, self.answer_tools = delta, k, tuple(answer_tools)

    def shape_advantages(self, batch: TokenBatch, advantages: torch.Tensor,
                         groups: Sequence[Group]) -> torch.Tensor:
        trajectories = flatten(groups)
        _one_row_per_trajectory(batch, trajectories, "ASPO")
        seq = sequence_advantages(advantages, batch.loss_mask)
        correct = torch.tensor([bool(t.success) for t in trajectories])
        first = torch.tensor([first_tool_call_position(t, self.answer_tools) for t in trajectories])
        lengths = batch.loss_mask.sum(-1)
        shaped = aspo_advantages(seq, correct, first, lengths, batch.group_index, self.delta, self.k)
        return advantages + (shaped - seq).to(advantages.dtype)[:, None] * batch.loss_mask.to(advantages.dtype)


class HBPOShaper(Shaper):
    """HBPO (arXiv 2507.15844): the rollouts of a group are split into subgroups, each told a token budget
    in its prompt; correct answers earn the cosine budget reward, and the advantage adds an
    intra-subgroup and an inter-subgroup term. `max_length` is L_max of the cosine reward."""

    def __init__(self, budgets: Sequence[int] = HBPO_BUDGETS, max_length: int = 4096, beta: float = 1.0,
                 alpha: float = 1e-3, inter: str = "global", eps: float = 1e-6) -> None:
        self.budgets, self.max_length, self.beta, self.alpha = tuple(budgets), max_length, beta, alpha
        self.inter, self.eps = inter, eps

    def budget(self, sample_index: int, group_size: int) -> int:
        return assign_budgets(group_size, self.budgets)[sample_index]

    def prompt(self, messages: Messages, task_id: str, sample_index: int, group_size: int) -> Messages:
        return append_to_last_user(messages, budget_prompt(self.budget(sample_index, group_size)))

    def shape_rewards(self, group: Group) -> None:
        trajs = group.trajectories
        if not trajs:
            return
        budgets = torch.tensor([self.budget(t.sample_index, group.size) for t in trajs])
        lengths = torch.tensor([t.completion_tokens for t in trajs])
        correct = torch.tensor([bool(t.success) for t in trajs])
        rewards = hbpo_rewards(lengths, correct, budgets, self.max_length, self.beta, self.alpha)
        for t, b, r in zip(trajs, budgets.tolist(), rewards.tolist(), strict=True):
            t.info["budget"] = b
            set_outcome_reward(t, r)

    def shape_advantages(self, batch: TokenBatch, advantages: torch.Tensor,
                         groups: Sequence[Group]) -> torch.Tensor:
        trajectories = flatten(groups)
        _one_row_per_trajectory(batch, trajectories, "HBPO")
        rewards = torch.tensor([t.reward for t in trajectories], dtype=torch.float32)
        budgets = torch.tensor([self.budget(t.sample_index, g.size) for g in groups for t in g.trajectories])
        seq = hbpo_advantages(rewards, budgets, batch.group_index, self.eps, self.inter)
        return seq.to(advantages.dtype)[:, None] * batch.loss_mask.to(advantages.dtype)


MODE_INSTRUCTIONS = {
    "instant": "Answer immediately: give the final answer directly, with no reasoning and no tool calls.",
    "reasoning": "Think step by step inside <think>...</think>, then answer. Do not call any tools.",
    "agentic": "Use the tools to gather what you need before you answer.",
}


def infer_mode(traj: Trajectory, answer_tools: Sequence[str] = ANSWER_TOOLS) -> str:
    """The mode an unforced rollout chose: agentic if it called a tool (other than answering), reasoning
    if it wrote a `<think>` block, else instant."""
    if first_tool_call_position(traj, answer_tools) >= 0:
        return "agentic"
    if any("<think>" in str(t.assistant.get("content") or "") for t in traj.turns):
        return "reasoning"
    return "instant"


class APOShaper(Shaper):
    """A^2FM's adaptive policy optimization (arXiv 2510.12838): per prompt, `forced_per_mode` rollouts
    forced into each of instant / reasoning / agentic mode (by an instruction in the prompt) and the rest
    free; reward `r_acc * r_adaptive * r_format` with `r_adaptive = 1 - p^alpha` for non-instant rollouts
    of queries the instant mode can solve (p: its accuracy there), so easy queries teach the policy to
    answer instantly. `r_format` is the env's format verdict (`Trajectory.format`) when it gives one, else 1."""

    def __init__(self, forced_per_mode: int = 1, alpha: float = 1.0, easy_threshold: float = 0.0,
                 instructions: dict[str, str] | None = None) -> None:
        self.forced_per_mode, self.alpha, self.easy_threshold = forced_per_mode, alpha, easy_threshold
        self.instructions = {**MODE_INSTRUCTIONS, **(instructions or {})}

    def plan(self, group_size: int) -> list[str | None]:
        forced = self.forced_per_mode * len(APO_MODES)
        if group_size < forced:
            raise ValueError(f"APO forces {self.forced_per_mode} rollout(s) per mode: group_size must be >= "
                             f"{forced}, got {group_size}")
        return plan_apo_rollouts(self.forced_per_mode, group_size - forced)

    def prompt(self, messages: Messages, task_id: str, sample_index: int, group_size: int) -> Messages:
        mode = self.plan(group_size)[sample_index]
        return messages if mode is None else append_to_last_user(messages, self.instructions[mode])

    def shape_rewards(self, group: Group) -> None:
        trajs = group.trajectories
        if not trajs:
            return
        plan = self.plan(group.size)
        modes = []
        for t in trajs:
            mode = plan[t.sample_index] or infer_mode(t)
            t.info["apo_mode"] = mode
            modes.append(mode)
        accuracy = torch.tensor([float(t.success) for t in trajs])
        format_ok = torch.tensor([float(t.format.ok) if t.format is not None else 1.0 for t in trajs])
        rewards = apo_rewards(modes, accuracy, format_ok, [group.task_id] * len(trajs), self.alpha,
                              self.easy_threshold)
        for t, r in zip(trajs, rewards.tolist(), strict=True):
            set_outcome_reward(t, r)
