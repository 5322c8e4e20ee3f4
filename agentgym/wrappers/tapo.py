"""`TAPOWrapper`: TAPO's tag protocol and turn budget on any tool env (arXiv 2510.07038).

The inner env is built with `TAPOProtocol` (`<think>`, `<search>`, `<code>`, tool output in
`<response>`, `<answer>`); the agent uses tools in up to `max_tool_turns` turns, then is told that tools
are disabled and gets one final turn in which only `<answer>` is accepted. Every turn's text and format
verdict go into `info`; at the end `info["format"]` is a `FormatVerdict` (TAPO's format condition and the
whole response, tool output included), which is all a reward stage needs. By default the episode's reward
is TAPO's: `format_penalty` (-1) unless the response is well-formed and ends in `<answer>`, else the inner
env's own reward.

    env = TAPOWrapper("MathPython-v0", max_tool_turns=4)     # the inner env is built with TAPO's protocol
    env = agentgym.make("TAPO-MathPython-v0")                # the same, registered
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentgym.env import LanguageEnv
from agentgym.protocols.tapo import TAPOProtocol, well_formed_response
from agentgym.records import FORMAT_INFO, FormatVerdict
from agentgym.state import EpisodeState
from agentgym.wrappers.base import LanguageEnvWrapper, Step, build_inner_env


@dataclass
class TAPOTurn:
    """One turn as TAPO judges it.

    Attributes:
        text: the assistant's text (a closing action tag an engine stripped is restored).
        action: the executed action tag ("search", "code", "answer"), or None for an invalid turn.
        well_formed: only think blocks before exactly one allowed action, nothing else.
        problems: why the turn is ill-formed or invalid.
        result: the `<response>..</response>` block the tool answered with ("" for none).
    """

    text: str
    action: str | None
    well_formed: bool
    problems: list[str] = field(default_factory=list)
    result: str = ""


def _append_note(state: EpisodeState, obs: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """Add `note` to the observation's last user message (or as a new one), in the episode's record too."""
    obs = list(obs)
    if obs and obs[-1].get("role") == "user":
        old = obs[-1]
        new = {**old, "content": f"{old.get('content') or ''}\n\n{note}"}
        obs[-1] = new
        for i in range(len(state.messages) - 1, -1, -1):
            if state.messages[i] is old:
                state.messages[i] = new
                break
    else:
        new = {"role": "user", "content": note}
        obs.append(new)
        state.messages.append(new)
    return obs


class TAPOWrapper(LanguageEnvWrapper):
    """TAPO's protocol over a `LanguageEnv` with tools (see the module docstring).

    Args:
        env: the inner env: an env id or class (built here with TAPO's protocol and turn limit, plus
            `env_kwargs`), or a `LanguageEnv` built with `protocol=TAPOProtocol(...)` and
            `max_turns=max_tool_turns + 1`. It needs an `answer` tool (every built-in QA/math env has one).
        max_tool_turns: turns in which tools run (default 4, as in the paper); one final turn follows.
        format_penalty: the episode reward when the response is not well-formed (None: keep the inner reward).
        tags: action tag -> tool name (default: search -> search, code -> python, answer -> answer; an env's
            other tools are not reachable).
        instructions: the inner env's `system_prompt` (its task instructions), when built here.
        env_kwargs: more constructor arguments of the inner env.
    """

    def __init__(
        self,
        env: Any,
        max_tool_turns: int = 4,
        format_penalty: float | None = -1.0,
        tags: Mapping[str, str] | None = None,
        instructions: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        if isinstance(env, LanguageEnv) and isinstance(env.protocol, TAPOProtocol):
            max_tool_turns = env.protocol.max_tool_turns if env.protocol.max_tool_turns is not None else max_tool_turns
        inner = build_inner_env(env, TAPOProtocol(max_tool_turns, tags), max_tool_turns + 1, "TAPOWrapper",
                                env_kwargs, system_prompt=instructions)
        super().__init__(inner)
        self.max_tool_turns = max_tool_turns
        self.format_penalty = format_penalty
        self.tapo: TAPOProtocol = inner.protocol  # type: ignore[assignment]
        if self.tapo.answer_tag not in self.tapo.tag_to_tool:
            raise ValueError("TAPO needs an `answer` tool in the env to end an episode")
        if not self.tapo.tool_tags:
            raise ValueError("the env has none of the tools TAPO's tags call (e.g. `search`, `python`)")
        self.turns: list[TAPOTurn] = []

    @property
    def final_notice(self) -> str:
        """What the agent reads before its last turn."""
        used = f"You have used your {self.max_tool_turns} tool turn{'s' if self.max_tool_turns != 1 else ''}"
        return (f"{used}; tools are now disabled. Give your final answer now as "
                f"<{self.tapo.answer_tag}>...</{self.tapo.answer_tag}>.")

    async def areset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        obs, info = await super().areset(seed=seed, options=options)
        self.turns = []
        state = self.env.state
        assert state is not None
        if self.max_tool_turns == 0:  # no tool turn at all: the first turn is the final one
            obs = _append_note(state, obs, self.final_notice)
        info.update(max_tool_turns=self.max_tool_turns, tool_turns=0, num_tool_calls=0,
                    tools_enabled=self.max_tool_turns > 0)
        return obs, info

    async def astep(self, action: Any) -> Step:
        text, check, executed, (obs, reward, terminated, truncated, info) = await self.step_checked(action, self.tapo)
        state = self.env.state
        assert state is not None
        tag = check.action.tag if executed and check.action is not None else None
        record = TAPOTurn(
            text=self.tapo.complete(text), action=tag, well_formed=executed and check.well_formed,
            problems=[*check.problems, *info.get("parse_errors", [])],
            result=(obs[0].get("content") or "") if tag is not None and tag != self.tapo.answer_tag and obs else "",
        )
        self.turns.append(record)
        done = terminated or truncated
        if not done and state.turn == self.max_tool_turns:
            obs = _append_note(state, obs, self.final_notice)
        tool_turns = sum(1 for t in self.turns if t.action is not None and t.action != self.tapo.answer_tag)
        info.update(
            turn_text=record.text, turn_well_formed=record.well_formed, format_problems=list(record.problems),
            tool_turns=tool_turns, num_tool_calls=tool_turns, tools_enabled=self.tapo.tools_enabled(state.turn + 1),
        )
        if done:
            response = self.response
            # per-turn checks, and the whole response as a reward function reads it (tool output included)
            format_ok = (bool(self.turns) and all(t.well_formed for t in self.turns)
                         and self.turns[-1].action == self.tapo.answer_tag and state.submitted
                         and well_formed_response(response, self.tapo.tool_tags, self.tapo.answer_tag,
                                                  markers=self.tapo.markers))
            problems = tuple(p for t in self.turns for p in t.problems)
            info.update(turn_texts=[t.text for t in self.turns], env_reward=float(reward))
            info[FORMAT_INFO] = FormatVerdict(format_ok, response, problems)
            if self.format_penalty is not None and not format_ok:
                reward = float(self.format_penalty)
        return obs, float(reward), terminated, truncated, info

    @property
    def response(self) -> str:
        """The episode so far as one response: each turn's text followed by its tool's `<response>` block."""
        parts: list[str] = []
        for t in self.turns:
            parts.append(t.text)
            if t.result:
                parts.append(t.result)
        return "\n".join(parts)


def make_tapo_env(
    base_env: str,
    max_tool_turns: int = 4,
    format_penalty: float | None = -1.0,
    tags: Mapping[str, str] | None = None,
    instructions: str | None = None,
    **kwargs: Any,
) -> TAPOWrapper:
    """`TAPOWrapper(base_env, ...)`: the entry point of the `TAPO-*` env ids."""
    return TAPOWrapper(base_env, max_tool_turns=max_tool_turns, format_penalty=format_penalty, tags=tags,
                       instructions=instructions, **kwargs)
