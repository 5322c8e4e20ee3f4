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
from typing import Any, ClassVar

from agentgym.trainers.algorithms.tapo import TAPO_KINDS, TAPO_TOOLS, tapo_reward
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import DAPOConfig, RLConfig

from agentgym.trajectory import Trajectory

REWARD_SOURCES = ("tapo", "env")


@dataclass
class TAPOConfig(DAPOConfig):
    """TAPO's defaults: DAPO (clip 0.2/0.28, dynamic sampling, token-mean, overlong shaping, no KL) with
    dual-clip c=10 and dynamic sampling on accuracy.

    `reward` "tapo" rescores each episode with `tapo_reward` on the env's `info["response"]`; the answer
    kind is `answer_kind`, or with "auto" the env's `info["task_kind"]`, else "fact" for envs with gold
    answer aliases (search QA) and "math" otherwise. "env" keeps the TAPO env's own reward. `tool_cost` > 0
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
    """TAPO's reward of one finished episode from what the TAPO env left in `traj.info`.

    An episode with no full response (cut at the context limit before it ended) is malformed: -1.
    """
    info = traj.info
    response = info.get("response")
    if response is None:
        return -1.0
    gold: Any = info.get("gold_answers") or info.get("gold")
    if gold is None:
        raise ValueError(f"episode {traj.episode_id}: the env gave no gold answer (info['gold']); TAPO needs it")
    kind = cfg.answer_kind
    if kind == "auto":
        kind = info.get("task_kind") or ("fact" if info.get("gold_answers") else "math")
    return tapo_reward(str(response), gold if isinstance(gold, (list, tuple)) else str(gold), kind=kind,
                       tolerance=cfg.tolerance, tool_cost=cfg.tool_cost, tools=TAPO_TOOLS)


class TAPOTrainer(RLTrainer):
    """TAPO on a `TAPO-*` env (or any env wrapped in `TAPOWrapper`); see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = TAPOConfig
    name: ClassVar[str] = "tapo"
    config: TAPOConfig

    def dynamic_sampling_key(self, trajectory: Trajectory) -> float:
        if self.config.sample_on == "accuracy":
            return float(trajectory.success)
        return float(trajectory.reward)

    def shape_rewards(self, groups: list[list[Trajectory]]) -> list[list[Trajectory]]:
        """Put TAPO's outcome reward on each episode's final turn (earlier turns carry 0)."""
        if self.config.reward == "env":
            return groups
        for group in groups:
            for traj in group:
                if not traj.turns:
                    continue
                reward = tapo_episode_reward(traj, self.config)
                for turn in traj.turns:
                    turn.reward = 0.0
                traj.turns[-1].reward = reward
                traj.reward = reward
        return groups
