"""`LanguageEnv`: the Gymnasium environment base class for LLM agents.

Observations are lists of OpenAI chat messages (the new messages since the last step); actions are the
assistant's raw text or an assistant message dict. The base class owns everything between the two:
parsing the action with a tool-calling protocol, dispatching tool calls (concurrently where allowed, each
with a timeout), turning every failure into an observation, turn limits, and the reward rubric.

The async methods `areset`/`astep` are the core; `reset`/`step` drive them for synchronous callers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym

from agentgym._sync import SyncRunner
from agentgym.messages import Message
from agentgym.protocols import ParsedAction, TagProtocol, ToolOutput, ToolProtocol, get_protocol
from agentgym.records import TASK_INFO, TaskRecord
from agentgym.rubric import Rubric
from agentgym.spaces import ChatAction, ChatMessages
from agentgym.state import EpisodeState
from agentgym.tasks import Task, TaskDataset
from agentgym.tool import Tool, ToolArgumentError, stringify_result

NO_TOOL_CALL_FINAL = "final"
NO_TOOL_CALL_REMIND = "remind"


def _truncate(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n...[truncated {len(text) - limit} characters]"


class LanguageEnv(gym.Env[list[dict[str, Any]], Any]):
    """A multi-turn, tool-using chat environment.

    Args:
        tasks: the task dataset episodes draw from.
        tools: tools (or plain functions, converted with `Tool.from_function`).
        rubric: the reward, scored when the episode ends (terminated or truncated).
        protocol: "hermes", "tags", "native" or a `ToolProtocol` instance.
        system_prompt: instructions placed before the tool descriptions.
        max_turns: assistant turns before the episode is truncated.
        split: the split `reset(seed=...)` samples from.
        on_no_tool_call: "final" treats a reply without tool calls as the final answer; "remind" answers
            with an observation asking for a tool call.
        max_calls_per_turn: extra calls in one turn are not run (an observation says so).
        max_output_chars: tool output beyond this is cut with a marker.
        success_threshold: an episode is a success when its reward reaches this value.
        reward_weights: new weights for named rubric terms, e.g. `{"used_calculator": 0.1}` to shape
            training with a metric the env only logs (weight 0); unknown names raise `ValueError`.
        render_mode: None or "ansi".
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        tasks: TaskDataset,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        rubric: Rubric | None = None,
        protocol: str | ToolProtocol = "hermes",
        system_prompt: str = "",
        max_turns: int = 8,
        split: str | None = None,
        on_no_tool_call: str = NO_TOOL_CALL_FINAL,
        max_calls_per_turn: int | None = None,
        max_output_chars: int | None = 8_000,
        success_threshold: float = 1.0,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if on_no_tool_call not in (NO_TOOL_CALL_FINAL, NO_TOOL_CALL_REMIND):
            raise ValueError(f"on_no_tool_call must be 'final' or 'remind', got {on_no_tool_call!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unsupported render_mode {render_mode!r}")
        if max_turns < 1:
            raise ValueError("max_turns must be >= 1")
        self.tasks = tasks
        self.tools: list[Tool] = [t if isinstance(t, Tool) else Tool.from_function(t) for t in tools]
        self._tools_by_name = {t.name: t for t in self.tools}
        if len(self._tools_by_name) != len(self.tools):
            raise ValueError("tool names must be unique")
        self.rubric = rubric or Rubric()
        if reward_weights:
            self.rubric = self.rubric.reweighted(reward_weights)
        self.set_protocol(protocol)
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self.split = split
        self.on_no_tool_call = on_no_tool_call
        self.max_calls_per_turn = max_calls_per_turn
        self.max_output_chars = max_output_chars
        self.success_threshold = success_threshold
        self.render_mode = render_mode
        self.observation_space = ChatMessages()
        self.action_space = ChatAction()
        self.state: EpisodeState | None = None
        self._runner = SyncRunner()
        self._schemas_json = json.dumps([t.schema for t in self.tools])
        self._finished = True
        self._last_reward_components: dict[str, Any] = {}

    def set_protocol(self, protocol: str | ToolProtocol) -> None:
        """Use another tool-calling protocol from the next episode on (binds tag protocols to the env's
        tools and recomputes the stop strings given in `info["stop"]`). Wrappers that change the action
        format, such as `agentgym.wrappers.TAPOWrapper`, call it."""
        self.protocol = get_protocol(protocol)
        if isinstance(self.protocol, TagProtocol):
            self.protocol.bind(self.tools)
        self._stop = self.protocol.stop_sequences(self.tools)

    # ------------------------------------------------------------------ hooks for subclasses

    def build_system_prompt(self, task: Task) -> str:
        """System prompt: the env's instructions plus the protocol's tool descriptions."""
        tool_text = self.protocol.render_tools(self.tools)
        return "\n\n".join(p for p in (self.system_prompt, tool_text) if p)

    def initial_messages(self, task: Task, state: EpisodeState) -> list[dict[str, Any]]:
        """The messages that open an episode."""
        sys_prompt = self.build_system_prompt(task)
        msgs = [{"role": "system", "content": sys_prompt}] if sys_prompt else []
        msgs.append({"role": "user", "content": task.prompt})
        return msgs

    async def setup_episode(self, state: EpisodeState) -> None:
        """Acquire per-episode resources (a sandbox session, a browser page ...)."""

    async def teardown_episode(self, state: EpisodeState) -> None:
        """Release what `setup_episode` acquired; called when the episode ends or the env resets/closes."""

    def tool_injections(self, state: EpisodeState) -> dict[str, Any]:
        """Values for tools' injected parameters."""
        return {"state": state, "env": self, "task": state.task}

    def task_record(self, task: Task) -> TaskRecord:
        """Hook: what trainers may know of the task, given as `info["task"]` at reset: its gold answers
        (default: the task's answer; a list or tuple is a list of aliases) and answer kind (default None)."""
        answer = task.answer
        if answer is None:
            gold: tuple[str, ...] = ()
        elif isinstance(answer, (list, tuple)):
            gold = tuple(str(a) for a in answer)
        else:
            gold = (str(answer),)
        return TaskRecord(task.id, gold, None)

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        """Hook: more `info` at reset and after every step, e.g. search counts (`info` is never shown to the
        agent). Nothing by default."""
        return {}

    def on_text_reply(self, state: EpisodeState, text: str) -> list[dict[str, Any]]:
        """A reply with no tool call: submit it as the answer, or remind the agent to use a tool."""
        if self.on_no_tool_call == NO_TOOL_CALL_FINAL:
            state.submit(text)
            return []
        names = ", ".join(t.name for t in self.tools)
        return [{"role": "user", "content": f"No tool call found in your reply. Call one of the tools: {names}."}]

    def should_truncate(self, state: EpisodeState) -> bool:
        """Hook: end the episode truncated after this step for a reason of the env's own (a spent budget); the
        turn limit needs no hook. False by default."""
        return False

    def step_reward(self, state: EpisodeState, outputs: Sequence[ToolOutput]) -> float:
        """Reward for a non-final turn (0 by default; the rubric scores the episode at its end)."""
        return 0.0

    # ------------------------------------------------------------------ Gymnasium API (async core)

    def _pick_task(self, options: dict[str, Any] | None) -> Task:
        task_id = (options or {}).get("task_id")
        if task_id is not None:
            return self.tasks.get(str(task_id))
        return self.tasks.sample(self.np_random, self.split)

    async def areset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Start an episode. `options={"task_id": ...}` picks a task; otherwise `seed` picks reproducibly."""
        super().reset(seed=seed)
        if self.state is not None and not self._finished:
            await self.teardown_episode(self.state)
        task = self._pick_task(options)
        state = EpisodeState(task=task)
        self.state = state
        self._finished = False
        self._last_reward_components = {}
        messages = self.initial_messages(task, state)
        state.messages.extend(messages)
        await self.setup_episode(state)
        info = {
            "task_id": task.id,
            "tools": json.loads(self._schemas_json),
            "protocol": self.protocol.name,
            "stop": list(self._stop),
            "max_turns": self.max_turns,
            TASK_INFO: self.task_record(task),
            **self.episode_info(state),
        }
        return [dict(m) for m in messages], info

    async def astep(self, action: Any) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        """Apply one assistant turn; returns (new messages, reward, terminated, truncated, info)."""
        state = self.state
        if state is None or self._finished:
            raise RuntimeError("the episode is over or was never started: call reset() first")
        message = self._coerce_action(action)
        state.turn += 1
        state.messages.append(message.to_openai())
        parsed = self.protocol.parse(message, turn=state.turn)
        observation, outputs = await self.handle_action(state, parsed)
        state.messages.extend(observation)
        terminated = state.done
        truncated = not terminated and (state.turn >= self.max_turns or self.should_truncate(state))
        info: dict[str, Any] = {
            "turn": state.turn,
            "tool_calls": [c.name for c in parsed.calls],
            "parse_errors": list(parsed.errors),
        }
        if terminated or truncated:
            reward, components = await self.rubric.score(state)
            self._last_reward_components = components
            info["reward_components"] = dict(components)
            info["success"] = bool(reward >= self.success_threshold)
            info["answer"] = state.answer
            self._finished = True
            await self.teardown_episode(state)
        else:
            reward = self.step_reward(state, outputs)
        info.update(self.episode_info(state))
        return observation, float(reward), terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._runner.run(self.areset(seed=seed, options=options))

    def step(self, action: Any) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        return self._runner.run(self.astep(action))

    async def aclose(self) -> None:
        if self.state is not None and not self._finished:
            self._finished = True
            await self.teardown_episode(self.state)

    def close(self) -> None:
        try:
            self._runner.run(self.aclose())
        finally:
            self._runner.close()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self.state is None:
            return ""
        return "\n".join(f"[{m.get('role')}] {m.get('content') or ''}" for m in self.state.messages)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _coerce_action(action: Any) -> Message:
        if isinstance(action, str):
            return Message("assistant", action)
        if isinstance(action, Message):
            return action
        if isinstance(action, dict):
            try:
                msg = Message.from_openai({"role": "assistant", **action})
            except (ValueError, TypeError, AttributeError) as e:
                return Message("assistant", f"<invalid action: {e}>")
            msg.role = "assistant"
            return msg
        return Message("assistant", str(action))

    async def handle_action(self, state: EpisodeState,
                            parsed: ParsedAction) -> tuple[list[dict[str, Any]], list[ToolOutput]]:
        """Hook: the observation for a parsed action, and the outputs of the tool calls it ran (or refused).

        Subclasses extend it where a turn means more than its tool calls: `PolicyEnv` sends a reply without
        tool calls to the simulated user, `WebEnv` appends the page after the actions."""
        calls = parsed.calls
        notes: list[str] = []
        if parsed.errors:
            state.parse_errors += len(parsed.errors)
            notes.extend(f"Error: {e}" for e in parsed.errors)
        skipped: list[ToolOutput] = []
        if self.max_calls_per_turn is not None and len(calls) > self.max_calls_per_turn:
            for c in calls[self.max_calls_per_turn:]:
                skipped.append(ToolOutput(c, f"Error: not run; at most {self.max_calls_per_turn} tool call(s) per turn.",
                                          is_error=True, error_kind="too_many_calls"))
            calls = calls[: self.max_calls_per_turn]
        outputs = await self.dispatch(state, calls) if calls else []
        outputs.extend(skipped)
        observation = self.protocol.format_results(outputs) if outputs else []
        if notes:
            hint = self._format_hint()
            observation.append({"role": "user", "content": "\n".join(notes) + hint})
        if not calls and not parsed.errors and not state.done:
            observation.extend(self.on_text_reply(state, parsed.text))
        return observation, outputs

    def _format_hint(self) -> str:
        if self.protocol.native:
            return ""
        return "\nCheck the tool-call format in the system prompt and try again."

    async def dispatch(self, state: EpisodeState, calls: Sequence[Any]) -> list[ToolOutput]:
        """Run tool calls: consecutive concurrent-safe calls together, the others one at a time, in order."""
        injections = self.tool_injections(state)
        results: list[ToolOutput | None] = [None] * len(calls)
        batch: list[int] = []

        async def flush() -> None:
            if len(batch) == 1:
                i = batch[0]
                results[i] = await self._run_call(calls[i], injections)
            elif batch:
                outs = await asyncio.gather(*(self._run_call(calls[i], injections) for i in batch))
                for i, o in zip(batch, outs, strict=True):
                    results[i] = o
            batch.clear()

        for i, call in enumerate(calls):
            t = self._tools_by_name.get(call.name)
            if t is not None and not t.concurrent:
                await flush()
                results[i] = await self._run_call(call, injections)
            else:
                batch.append(i)
        await flush()
        outputs = [r for r in results if r is not None]
        for o in outputs:
            state.tool_calls += 1
            state.tool_counts[o.call.name] = state.tool_counts.get(o.call.name, 0) + 1
            if o.is_error:
                state.tool_errors += 1
        return outputs

    async def _run_call(self, call: Any, injections: dict[str, Any]) -> ToolOutput:
        t = self._tools_by_name.get(call.name)
        if t is None:
            names = ", ".join(self._tools_by_name) or "(none)"
            return ToolOutput(call, f"Error: unknown tool {call.name!r}. Available tools: {names}.", True, 0.0,
                              "unknown_tool")
        try:
            arguments = call.parsed_arguments()
        except (ValueError, json.JSONDecodeError) as e:
            return ToolOutput(call, f"Error: arguments of {call.name!r} are not a valid JSON object ({e}).", True, 0.0,
                              "bad_arguments")
        try:
            if t.timeout is not None and (t.is_async or t.offload):
                value = await asyncio.wait_for(t.acall(arguments, injections), t.timeout)
            else:
                value = await t.acall(arguments, injections)
        except ToolArgumentError as e:
            return ToolOutput(call, f"Error: bad arguments for {call.name!r}: {e}.", True, 0.0, "bad_arguments")
        except TimeoutError:
            return ToolOutput(call, f"Error: {call.name!r} timed out after {t.timeout:g} s.", True, 0.0, "timeout")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            return ToolOutput(call, f"Error: {call.name!r} failed: {type(e).__name__}: {e}", True, 0.0, "exception")
        return ToolOutput(call, _truncate(stringify_result(value), self.max_output_chars))

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        return json.loads(self._schemas_json)
