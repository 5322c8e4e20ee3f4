"""Evaluation metrics: unbiased pass@k (Chen et al. 2021), pass^k (tau-bench), majority voting (maj@k), and
episode summaries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from statistics import fmean
from typing import Any

from agentgym.trajectory import Trajectory


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of `k` samples drawn from `n` (with `c` correct) is correct."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Probability that all of `k` samples drawn from `n` (with `c` correct) are correct."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    return math.comb(c, k) / math.comb(n, k)


def normalize_answer(answer: Any) -> str | None:
    """The form answers are compared in for voting: a number as its exact value ("1,080.0" and "1080" agree),
    other text lowercased with runs of whitespace collapsed; None for no answer."""
    if answer is None:
        return None
    text = " ".join(str(answer).strip().lower().split())
    if not text:
        return None
    number = text.replace(",", "").replace("$", "")
    try:
        return str(Fraction(number))
    except (ValueError, ZeroDivisionError):
        return text


def majority_vote(trajectories: Sequence[Trajectory]) -> bool:
    """Whether the most common answer among `trajectories` (one task's samples) is right: the vote takes the
    answer given most often (ties: the one given first, by sample index) and is right when an episode that gave
    it succeeded. Episodes without an answer do not vote; with no answer at all the vote fails."""
    ordered = sorted(trajectories, key=lambda t: t.sample_index)
    counts: dict[str, int] = {}
    right: dict[str, bool] = {}
    for t in ordered:
        key = normalize_answer(t.answer)
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        right[key] = right.get(key, False) or t.success
    if not counts:
        return False
    best = max(counts, key=lambda a: counts[a])  # max keeps the first of equal counts: insertion order
    return right[best]


@dataclass
class EvalSummary:
    """What an evaluation measured."""

    env_id: str
    agent: str
    tasks: int
    episodes: int
    errors: int
    success_rate: float
    mean_reward: float
    pass_at_k: dict[str, float] = field(default_factory=dict)
    pass_hat_k: dict[str, float] = field(default_factory=dict)
    majority_at_k: dict[str, float] = field(default_factory=dict)
    mean_turns: float = 0.0
    mean_tool_calls: float = 0.0
    truncated_rate: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mean_completion_tokens: float = 0.0
    cost: float = 0.0
    mean_episode_seconds: float = 0.0
    mean_agent_seconds_per_turn: float = 0.0
    reward_components: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(trajectories: Sequence[Trajectory], k: int = 1, env_id: str = "", agent: str = "") -> EvalSummary:
    """Aggregate finished trajectories; errored ones are counted apart and excluded from the rates."""
    ok = [t for t in trajectories if t.finished]
    errors = len(trajectories) - len(ok)
    by_task: dict[str, list[bool]] = defaultdict(list)
    samples: dict[str, list[Trajectory]] = defaultdict(list)
    for t in ok:
        by_task[t.task_id].append(t.success)
        samples[t.task_id].append(t)
    pak: dict[str, float] = {}
    phk: dict[str, float] = {}
    maj: dict[str, float] = {}
    for kk in range(1, k + 1):
        eligible = [v for v in by_task.values() if len(v) >= kk]
        if eligible:
            pak[str(kk)] = fmean(pass_at_k(len(v), sum(v), kk) for v in eligible)
            phk[str(kk)] = fmean(pass_hat_k(len(v), sum(v), kk) for v in eligible)
        voters = [sorted(v, key=lambda t: t.sample_index)[:kk] for v in samples.values() if len(v) >= kk]
        if kk > 1 and voters:  # the vote of the first kk samples of each task
            maj[str(kk)] = fmean(majority_vote(v) for v in voters)
    turns = [tr for t in ok for tr in t.turns]
    comps: dict[str, list[float]] = defaultdict(list)
    for t in ok:
        for name, value in t.reward_components.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                comps[name].append(float(value))
    return EvalSummary(
        env_id=env_id or (ok[0].env_id if ok else ""),
        agent=agent or (ok[0].agent_id if ok else ""),
        tasks=len({t.task_id for t in trajectories}),
        episodes=len(trajectories),
        errors=errors,
        success_rate=fmean(t.success for t in ok) if ok else 0.0,
        mean_reward=fmean(t.reward for t in ok) if ok else 0.0,
        pass_at_k=pak,
        pass_hat_k=phk,
        majority_at_k=maj,
        mean_turns=fmean(t.num_turns for t in ok) if ok else 0.0,
        mean_tool_calls=fmean(t.num_tool_calls for t in ok) if ok else 0.0,
        truncated_rate=fmean(t.truncated for t in ok) if ok else 0.0,
        prompt_tokens=sum(t.prompt_tokens for t in ok),
        completion_tokens=sum(t.completion_tokens for t in ok),
        mean_completion_tokens=fmean(t.completion_tokens for t in ok) if ok else 0.0,
        cost=sum(t.cost for t in ok),
        mean_episode_seconds=fmean(t.seconds for t in ok) if ok else 0.0,
        mean_agent_seconds_per_turn=fmean(tr.agent_seconds for tr in turns) if turns else 0.0,
        reward_components={name: fmean(v) for name, v in comps.items()},
    )


def format_summary(s: EvalSummary) -> str:
    """A two-column text table."""
    rows: list[tuple[str, str]] = [
        ("env", s.env_id), ("agent", s.agent), ("tasks", str(s.tasks)), ("episodes", str(s.episodes)),
        ("errors", str(s.errors)), ("success rate", f"{s.success_rate:.3f}"), ("mean reward", f"{s.mean_reward:.3f}"),
    ]
    rows += [(f"pass@{k}", f"{v:.3f}") for k, v in s.pass_at_k.items()]
    rows += [(f"pass^{k}", f"{v:.3f}") for k, v in s.pass_hat_k.items()]
    rows += [(f"maj@{k}", f"{v:.3f}") for k, v in s.majority_at_k.items()]
    rows += [
        ("mean turns", f"{s.mean_turns:.2f}"), ("mean tool calls", f"{s.mean_tool_calls:.2f}"),
        ("truncated", f"{s.truncated_rate:.3f}"),
        ("tokens (prompt/completion)", f"{s.prompt_tokens}/{s.completion_tokens}"),
        ("cost ($)", f"{s.cost:.4f}"), ("mean episode s", f"{s.mean_episode_seconds:.2f}"),
        ("mean agent s/turn", f"{s.mean_agent_seconds_per_turn:.3f}"),
    ]
    rows += [(f"reward: {k}", f"{v:.3f}") for k, v in s.reward_components.items() if not k.endswith("_error")]
    width = max(len(r[0]) for r in rows)
    line = "-" * (width + 3 + max(len(r[1]) for r in rows))
    return "\n".join([line, *(f"{a:<{width}} | {b}" for a, b in rows), line])
