"""`TAPOTrainer`: tool-augmented policy optimization (arXiv 2510.07038), DAPO on interleaved tool use.

The env side is `agentgym.wrappers.TAPOWrapper` (env ids `TAPO-MathPython-v0`, `TAPO-MultiHopQA-v0`,
`TAPO-MathSearch-v0`): `<think>`, `<search>` / `<code>` answered in `<response>`, a final `<answer>`,
generation cut at the first closing action tag, up to `max_tool_turns` tool turns and then one turn with
tools disabled. The trainer side, read top to bottom:

    rollout   groups of episodes; dynamic sampling drops groups whose *accuracy* is all equal and
              samples more, up to `max_sampling_rounds`
    reward    `tapo_reward` on the whole response: -1 unless it is a well-formed sequence of tag blocks
              ending in `<answer>`; else exact match (math), containment / edit-distance credit (facts) or
              relative error within `tolerance` (calculations); minus `tool_cost` per call (0: off, as in
              the released code)
    batch     tool-output tokens are env tokens (loss mask 0), so loss, entropy and token-mean skip them;
              DAPO's soft overlong penalty counts the policy's own tokens only
    loss      PPO clip-higher 0.2/0.28 with dual-clip c=10, token-mean, no KL

Start it in five lines::

    from agentgym.trainers import TAPOConfig, TAPOTrainer
    trainer = TAPOTrainer("smollm2", "TAPO-MathPython-v0", config=TAPOConfig(steps=40))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from agentgym.trainers.algorithms.tapo import TAPO_KINDS, TAPO_TOOLS, tapo_reward
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import DAPOConfig, RLConfig
from agentgym.trainers.shapers import Group, Shaper, set_outcome_reward

from agentgym.trajectory import Trajectory

REWARD_SOURCES = ("tapo", "env")


@dataclass
class TAPOConfig(DAPOConfig):
    """TAPO's defaults: DAPO (clip 0.2/0.28, dynamic sampling, token-mean, overlong shaping, no KL) with
    dual-clip c=10 and dynamic sampling on accuracy.

    `reward` "tapo" scores each episode with `tapo_reward` on the response of the env's format verdict
    (`Trajectory.format`); the answer kind is `answer_kind`, or with "auto" the task's own kind
    (`Trajectory.task.kind`: "fact" for search QA, "math" for math), "math" when it has none. "env" keeps
    the TAPO env's own reward. `tool_cost` > 0
    subtracts that much per tool call from well-formed responses (off by default).
    """

    dual_clip: float | None = 10.0
    reward: str = "tapo"
    answer_kind: str = "auto"
    tolerance: float = 0.05
    tool_cost: float = 0.0
    sample_on: str = "accuracy"

    def validate(self) -> None:
        super().validate()
        self._choice("reward", REWARD_SOURCES)
        self._choice("answer_kind", ("auto", *TAPO_KINDS))
        self._choice("sample_on", ("accuracy", "reward"))
        if not 0 <= self.tolerance < 1:
            self._fail("tolerance", "must be in [0, 1)")
        if self.tool_cost < 0:
            self._fail("tool_cost", "must be >= 0")


def tapo_episode_reward(traj: Trajectory, cfg: TAPOConfig) -> float:
    """TAPO's reward of one finished episode, from the TAPO env's format verdict and the task's gold.

    An episode with no verdict (cut at the context limit before it ended) is malformed: -1.
    """
    verdict, task = traj.format, traj.task
    if verdict is None:
        return -1.0
    if task is None or not task.gold_answers:
        raise ValueError(f"episode {traj.episode_id}: the env gave no gold answer (info['task']); TAPO needs it")
    kind = (task.kind or "math") if cfg.answer_kind == "auto" else cfg.answer_kind
    return tapo_reward(verdict.response, task.gold_answers, kind=kind, tolerance=cfg.tolerance,
                       tool_cost=cfg.tool_cost, tools=TAPO_TOOLS)


class TAPOReward(Shaper):
    """The reward stage of TAPO: `tapo_reward` on each episode's final turn (earlier turns carry 0)."""

    def __init__(self, config: TAPOConfig) -> None:
        self.config = config

    def shape_rewards(self, group: Group) -> None:
        for traj in group.trajectories:
            if traj.turns:
                set_outcome_reward(traj, tapo_episode_reward(traj, self.config))


class TAPOTrainer(RLTrainer):
    """TAPO on a `TAPO-*` env (or any env wrapped in `TAPOWrapper`); see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = TAPOConfig
    name: ClassVar[str] = "tapo"
    config: TAPOConfig

    def reward_stages(self) -> list[Shaper]:
        """TAPO's reward ("tapo"), or the TAPO env's own ("env": no stage of ours)."""
        return [TAPOReward(self.config)] if self.config.reward == "tapo" else []

    def dynamic_sampling_key(self, trajectory: Trajectory) -> float:
        if self.config.sample_on == "accuracy":
            return float(trajectory.success)
        return float(trajectory.reward)
