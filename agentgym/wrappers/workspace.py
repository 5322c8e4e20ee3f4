"""`MarkovianWorkspace`: IterResearch's workspace reconstruction over a tool env (arXiv 2511.07327).

Instead of a growing conversation, every round the agent gets a fresh context: the system prompt and
ONE user message (the workspace) holding the question, the agent's latest `<report>`, and only its last
action with that action's result. It answers with a report and exactly one action (a tool tag or
`<answer>`); in the last round the tools are removed. Because the context is rebuilt, the observation
`step` returns is the complete next prompt (not new messages to append) and `info["context_reset"]`
is True, at reset too; the episode loop then starts a new token context every round and records the
round's whole prompt on its turn (`Turn.context_ids`), so every round is its own training sample (EAPO).

    env = MarkovianWorkspace("MultiHopQA-v0", max_rounds=8)   # the inner env is built with the workspace protocol
    env = agentgym.make("EAPO-MultiHopQA-v0")          # the same, registered
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentgym.env import LanguageEnv
from agentgym.protocols.workspace import REPORT_TAG, WorkspaceProtocol
from agentgym.wrappers.base import LanguageEnvWrapper, Step, build_inner_env


@dataclass(frozen=True)
class LastAction:
    """What the workspace shows of the previous round.

    Attributes:
        action: the action block as the agent wrote it (None when the round was invalid).
        result: the tool's output, or why the round was invalid.
    """

    action: str | None
    result: str

    @property
    def valid(self) -> bool:
        return self.action is not None


class MarkovianWorkspace(LanguageEnvWrapper):
    """Markovian workspace rounds over a `LanguageEnv` with tools (see the module docstring).

    Args:
        env: the inner env: an env id or class (built here with the workspace protocol and `max_turns` =
            `max_rounds`, plus `env_kwargs`), or a `LanguageEnv` built with `protocol=WorkspaceProtocol(...)`
            and that turn limit. It needs an `answer` tool.
        max_rounds: rounds per episode; tools are disabled in the last one.
        tags: action tag -> tool name (default: every tool of the env under its own name).
        env_kwargs: more constructor arguments of the inner env.

    Attributes:
        question, report, last, round: the current workspace's parts (`round` is the round to be played).
        context: the messages of the current workspace (what `reset`/`step` last returned).
    """

    def __init__(self, env: Any, max_rounds: int = 8, tags: Mapping[str, str] | None = None,
                 **env_kwargs: Any) -> None:
        if isinstance(env, LanguageEnv) and isinstance(env.protocol, WorkspaceProtocol):
            max_rounds = env.protocol.max_rounds or max_rounds
        inner = build_inner_env(env, WorkspaceProtocol(max_rounds, tags), max_rounds, "MarkovianWorkspace",
                                env_kwargs)
        super().__init__(inner)
        self.max_rounds = max_rounds
        self.workspace: WorkspaceProtocol = inner.protocol  # type: ignore[assignment]
        if self.workspace.answer_tag not in self.workspace.tag_to_tool:
            raise ValueError("the Markovian workspace needs an `answer` tool in the env to end an episode")
        self.question = ""
        self.report: str | None = None
        self.last: LastAction | None = None
        self.round = 0
        self.context: list[dict[str, Any]] = []
        self._system: str | None = None
        self._invalid = 0

    def workspace_text(self) -> str:
        """The user message of the current round."""
        tag, answer = REPORT_TAG, self.workspace.answer_tag
        parts = [f"Question: {self.question}", f"Round {self.round} of {self.max_rounds}."]
        parts.append(f"Your report so far:\n{self.report}" if self.report else "Your report so far: (none yet)")
        if self.last is None:
            parts.append("Your last action: none yet (this is the first round).")
        elif self.last.valid:
            parts.append(f"Your last action:\n{self.last.action}\nIts result:\n{self.last.result}")
        else:
            parts.append(f"Your last output was invalid: {self.last.result}\nNothing of it was applied; your report "
                         "is unchanged.")
        if self.workspace.tools_enabled(self.round):
            parts.append(f"Write your updated <{tag}>...</{tag}>, then exactly one action.")
        else:
            parts.append(f"This is the last round: tools are disabled. Write your <{tag}>...</{tag}>, then your "
                         f"final answer as <{answer}>...</{answer}>.")
        return "\n\n".join(parts)

    def _rebuild(self) -> list[dict[str, Any]]:
        msgs = [{"role": "system", "content": self._system}] if self._system else []
        msgs.append({"role": "user", "content": self.workspace_text()})
        self.context = msgs
        return [dict(m) for m in msgs]

    def _info(self) -> dict[str, Any]:
        state = self.env.state
        assert state is not None
        answer_tool = self.workspace.tag_to_tool[self.workspace.answer_tag]
        calls = sum(n for name, n in state.tool_counts.items() if name != answer_tool)
        return {"context_reset": True, "max_rounds": self.max_rounds, "report": self.report,
                "num_tool_calls": calls, "invalid_rounds": self._invalid}

    async def areset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        obs, info = await super().areset(seed=seed, options=options)
        state = self.env.state
        assert state is not None
        self._system = next((m.get("content") for m in obs if m.get("role") == "system"), None)
        self.question = state.task.prompt
        self.report, self.last, self.round, self._invalid = None, None, 1, 0
        info.update(self._info(), round=1)
        return self._rebuild(), info

    async def astep(self, action: Any) -> Step:
        _text, check, executed, (obs, reward, terminated, truncated, info) = await self.step_checked(
            action, self.workspace)
        state = self.env.state
        assert state is not None
        errors = list(info.get("parse_errors") or [])
        if executed and check.action is not None:
            self.report = check.blocks[REPORT_TAG].body.strip()
            result = "\n".join(m.get("content") or "" for m in obs)
            self.last = LastAction(check.action.text, result)
        else:
            self._invalid += 1
            self.last = LastAction(None, " ".join(errors or check.errors))
        played = state.turn
        info.update(self._info(), round=played, round_valid=self.last.valid,
                    format_errors=[] if self.last.valid else [self.last.result])
        if terminated or truncated:  # no next round: nothing to show
            self.context = []
            return [], float(reward), terminated, truncated, info
        self.round = played + 1
        return self._rebuild(), float(reward), terminated, truncated, info

    def render(self) -> str | None:  # type: ignore[override]
        if self.render_mode != "ansi":
            return None
        return "\n".join(f"[{m['role']}] {m['content']}" for m in self.context)


def make_workspace_env(base_env: str, max_rounds: int = 8, tags: Mapping[str, str] | None = None,
                       **kwargs: Any) -> MarkovianWorkspace:
    """`MarkovianWorkspace(base_env, ...)`: the entry point of the `EAPO-*` env ids."""
    return MarkovianWorkspace(base_env, max_rounds=max_rounds, tags=tags, **kwargs)
