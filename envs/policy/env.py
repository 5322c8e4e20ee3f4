"""`PolicyEnv`: an agent follows a policy document to serve a simulated user over a JSON database.

The τ-bench setting. The system prompt is the domain's policy (markdown) plus the tool descriptions; the
first user message is the simulated user's opening. The agent acts with the domain's tools (read, write,
terminate) and `respond(content)`, which sends text to the user and returns the user's reply; a reply with
no tool call is sent to the user the same way. The episode ends when a terminate tool runs (e.g.
`transfer_to_human_agents`) or the user says `###STOP###` (terminated), or at `max_turns` (truncated).

Every tool call is all or nothing: arguments are checked against the tool's schema first, and a call that
raises or returns "Error..." leaves the database as it was; the agent sees what was wrong.

Reward, as τ-bench computes it: `r_actions` is 1 when the final database's hash equals the hash after
replaying the task's gold actions on a fresh copy, `r_outputs` is 1 when every required output appears in
the agent's messages to the user (case-insensitive, commas removed from the messages); the reward is their
product. All three are logged as rubric components.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentgym.envs.policy.arguments import argument_errors
from agentgym.envs.policy.database import database_hash
from agentgym.envs.policy.execution import is_error_output, replay_actions, run_tool
from agentgym.envs.policy.types import PolicyDomain, PolicyTask, PolicyTool, ToolKind
from agentgym.envs.policy.users import STOP_TOKEN, LLMUser, SimulatedUser

from agentgym.agents.base import Agent, AgentError
from agentgym.env import LanguageEnv
from agentgym.protocols import ParsedAction, ToolOutput, ToolProtocol
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import Task, TaskDataset
from agentgym.tool import Tool, ToolArgumentError

__all__ = ["RESPOND", "PolicyEnv", "make_user"]

RESPOND = "respond"
_STATE = "_policy_state"  # the injected parameter name (domain tools may have an argument called "state")


def _default_user() -> SimulatedUser:
    try:
        from agentgym.envs.policy.scripted_user import ScriptedUser
    except ImportError as e:
        raise ImportError(f"the default ScriptedUser is not available ({e}); pass user= a SimulatedUser, an Agent "
                          "or an agent spec such as 'openai:gpt-4o'") from e
    return ScriptedUser()


def make_user(user: SimulatedUser | Agent | str | None, **options: Any) -> SimulatedUser:
    """A `SimulatedUser` from what `PolicyEnv(user=...)` accepts: a user, an agent or spec (-> `LLMUser`),
    or None (-> the scripted user)."""
    if user is None:
        return _default_user()
    if isinstance(user, SimulatedUser):
        return user
    if isinstance(user, (str, Agent)):
        return LLMUser(user, **options)
    raise TypeError(f"user must be a SimulatedUser, an Agent or an agent spec string, got {type(user).__name__}")


class PolicyEnv(LanguageEnv):
    """A policy-document domain as a Gymnasium env (τ-bench semantics).

    Args:
        domain: the database, tools, policy and tasks.
        user: the simulated user: a `SimulatedUser`, an `Agent` or agent spec (played by `LLMUser`), or None
            for the scripted user.
        user_options: options for the user's agent when `user` is a spec (temperature, max_tokens, ...).
        protocol: "hermes" (default), "tags" or "native".
        max_turns: assistant turns before truncation (τ-bench's default step limit is 30).
        split: the split `reset(seed=...)` samples from (None: all tasks).
        **kwargs: more `LanguageEnv` options (`max_output_chars` defaults to None here: τ-bench shows whole
            tool outputs).
    """

    def __init__(
        self,
        domain: PolicyDomain,
        user: SimulatedUser | Agent | str | None = None,
        *,
        user_options: dict[str, Any] | None = None,
        protocol: str | ToolProtocol = "hermes",
        max_turns: int = 30,
        split: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.domain = domain
        self.user = make_user(user, **(user_options or {}))
        self._policy_tasks: dict[str, PolicyTask] = {t.id: t for t in domain.tasks}
        self._policy_tools: dict[str, PolicyTool] = {t.name: t for t in domain.tools}
        if RESPOND in self._policy_tools:
            raise ValueError(f"domain {domain.name!r} defines a tool named {RESPOND!r}, which the env reserves")
        self._gold_hashes: dict[str, str] = {}
        self._user_closed = False
        # the instruction is the user's secret: a task's prompt becomes the user's opening at each reset
        tasks = TaskDataset(Task(id=t.id, prompt="", split=t.split, metadata={"user_id": t.user_id,
                                 "domain": domain.name}) for t in domain.tasks)
        tools = [self._agent_tool(t) for t in domain.tools] + [self._respond_tool()]
        rubric = Rubric([RewardFunc(self.task_reward, 1.0, "task_reward"), RewardFunc(self.r_actions, 0.0, "r_actions"),
                         RewardFunc(self.r_outputs, 0.0, "r_outputs")])
        kwargs.setdefault("system_prompt", domain.policy)
        kwargs.setdefault("max_output_chars", None)
        super().__init__(tasks, tools, rubric, protocol=protocol, max_turns=max_turns, split=split, **kwargs)

    @classmethod
    def from_directory(cls, path: str | Path, **kwargs: Any) -> PolicyEnv:
        """Load a τ-bench domain folder or a plain-layout folder (see `agentgym.envs.policy.taubench`)."""
        from agentgym.envs.policy.taubench import load_domain

        return cls(load_domain(path), **kwargs)

    # ------------------------------------------------------------------ tools

    def _agent_tool(self, ptool: PolicyTool) -> Tool:
        function = ptool.schema.get("function", ptool.schema)
        parameters = function.get("parameters") or {"type": "object", "properties": {}}

        def run(**kwargs: Any) -> Any:
            state: EpisodeState = kwargs.pop(_STATE)
            return self._call(state, ptool, parameters, kwargs)

        return Tool(name=ptool.name, description=function.get("description") or ptool.name, parameters=parameters,
                    fn=run, timeout=None, concurrent=False, offload=False, injected=(_STATE,))

    def _call(self, state: EpisodeState, ptool: PolicyTool, parameters: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        errors = argument_errors(parameters, kwargs)
        if errors:
            raise ToolArgumentError("; ".join(errors))
        result = run_tool(ptool, state.data["db"], kwargs)
        state.data["db"] = result.data
        if ptool.kind is ToolKind.TERMINATE:
            state.done = True
        if result.exception is not None:
            raise result.exception
        return result.output

    def _respond_tool(self) -> Tool:
        async def respond(content: str, _policy_state: Any) -> str:
            """Send a message to the user and return the user's reply. A reply of yours without any tool call
            is sent to the user the same way.

            Args:
                content: the message to the user.
            """
            return await self._say(_policy_state, content)

        return Tool.from_function(respond, timeout=None, concurrent=False, injected=(_STATE,))

    async def _say(self, state: EpisodeState, text: str) -> str:
        state.data["to_user"].append(text)
        user: SimulatedUser = state.data["user"]
        try:
            reply = await user.reply(text)
        except AgentError as e:  # the user's model cannot work: stop the run, not just this call
            state.data["user_error"] = e
            raise
        state.data["from_user"].append(reply)
        if STOP_TOKEN in reply:
            state.done = True
        return reply

    def tool_injections(self, state: EpisodeState) -> dict[str, Any]:
        return {**super().tool_injections(state), _STATE: state}

    async def dispatch(self, state: EpisodeState, calls: Sequence[Any]) -> list[ToolOutput]:
        """Run the calls; a domain tool's "Error..." answer counts as a failed call (kind "tool_error")."""
        outputs = await super().dispatch(state, calls)
        error = state.data.pop("user_error", None)
        if error is not None:
            raise error
        for out in outputs:
            if not out.is_error and out.call.name in self._policy_tools and is_error_output(out.content):
                out.is_error, out.error_kind = True, "tool_error"
                state.tool_errors += 1
        return outputs

    async def handle_action(self, state: EpisodeState,
                            parsed: ParsedAction) -> tuple[list[dict[str, Any]], list[ToolOutput]]:
        """A reply without tool calls (and without malformed ones) is a message to the user (τ-bench)."""
        if parsed.calls or parsed.errors or state.done:
            return await super().handle_action(state, parsed)
        reply = await self._say(state, parsed.text)
        return [{"role": "user", "content": reply}], []

    # ------------------------------------------------------------------ episode

    def initial_messages(self, task: Task, state: EpisodeState) -> list[dict[str, Any]]:
        """The policy and tools as the system prompt, then the user's opening (filled in by `setup_episode`,
        which can wait for the user's model)."""
        opening: dict[str, Any] = {"role": "user", "content": ""}
        state.data["opening"] = opening
        return [{"role": "system", "content": self.build_system_prompt(task)}, opening]

    async def setup_episode(self, state: EpisodeState) -> None:
        """A fresh deep copy of the database and a fresh user, whose opening becomes the first user message
        (and the episode's `state.task.prompt`)."""
        ptask = self._policy_tasks[state.task.id]
        user = self.user.fork()
        state.data.update(db=copy.deepcopy(self.domain.data), user=user, policy_task=ptask, to_user=[], from_user=[])
        opening = await user.start(ptask)
        state.data["opening"]["content"] = opening
        state.task = dataclasses.replace(state.task, prompt=opening)

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        user = state.data.get("user")
        return {"task_id": state.task.id, "domain": self.domain.name,
                "user_usage": user.usage.as_dict() if user is not None else {}}

    def close(self) -> None:
        """Close the env and the user's model if the env made it from a spec."""
        if not self._user_closed:
            self._user_closed = True
            self._runner.run(self.user.aclose())
        super().close()

    def policy_task(self, task_id: str) -> PolicyTask:
        """The domain task behind `task_id` (gold actions and outputs included: never show it to the agent)."""
        try:
            return self._policy_tasks[task_id]
        except KeyError:
            raise KeyError(f"unknown task id {task_id!r}") from None

    # ------------------------------------------------------------------ reward

    def gold_database(self, task_id: str) -> dict[str, Any]:
        """The database after replaying task `task_id`'s gold actions on a fresh copy."""
        ptask = self.policy_task(task_id)
        return replay_actions(self.domain.tools, self.domain.data, ptask.actions)

    def gold_hash(self, task_id: str) -> str:
        """`database_hash` of `gold_database(task_id)`, computed once per task."""
        if task_id not in self._gold_hashes:
            self._gold_hashes[task_id] = database_hash(self.gold_database(task_id))
        return self._gold_hashes[task_id]

    def r_actions(self, state: EpisodeState) -> float:
        """1.0 when the episode's database hashes like the gold one."""
        return float(database_hash(state.data["db"]) == self.gold_hash(state.task.id))

    def r_outputs(self, state: EpisodeState) -> float:
        """1.0 when every required output is in some message to the user (τ-bench: the output lowercased,
        inside the message lowercased with commas removed)."""
        said = [m.lower().replace(",", "") for m in state.data.get("to_user", [])]
        outputs = self._policy_tasks[state.task.id].outputs
        return float(all(any(o.lower() in m for m in said) for o in outputs))

    def task_reward(self, state: EpisodeState) -> float:
        """τ-bench's reward: `r_actions * r_outputs`."""
        return self.r_actions(state) * self.r_outputs(state)
