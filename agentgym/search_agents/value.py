"""Value functions for tree search: how close a state is to finishing the task, in [0, 1].

A value function is any callable `value(messages, task) -> float` (sync or async): `messages` is the
conversation up to the state (the opening messages, then each action and the env's observation), `task` the
env's `Task` (or its id when the env has no task dataset). `LLMJudge` is the one of Koh et al. (2024), "Tree
Search for Language Model Agents": a model reads the goal, the actions taken and the current page and answers
with a status and whether the agent is on the right track; each of `n` sampled judgements scores 1 (success),
0.5 (failure but on the right track) or 0 (failure), and the value is their mean.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agentgym.agents.base import Agent, AgentOutput

__all__ = ["JUDGE_SYSTEM_PROMPT", "LLMJudge", "ValueFunction", "as_value_function", "message_text",
           "parse_judgement"]

ValueFunction = Callable[[list[dict[str, Any]], Any], "float | Awaitable[float]"]

JUDGE_SYSTEM_PROMPT = """You evaluate a web agent working for a user. You are given the user's goal, the \
actions the agent has taken so far, its last message, and the page it is on now. Decide whether the goal \
has been achieved.

- When the goal asks for information, it is achieved only if the agent's final message to the user gives \
that information (or correctly says it is not available).
- When the goal is to reach a page, it is achieved only if the current page is that page.
- When the goal is to change something (buy, post, edit), it is achieved only if the change was committed.

If the goal is not achieved yet, say whether the agent is on the right track to achieve it.

Answer in exactly this format:
Thoughts: <your reasoning>
Status: "success" or "failure"
On the right track to success: "yes" or "no"
"""

_STATUS = re.compile(r"status\s*[:=]\s*\W*(success|failure|failed|fail)", re.IGNORECASE)
_TRACK = re.compile(r"right\s+track[^:\n]*[:=]\s*\W*(yes|no)", re.IGNORECASE)


def parse_judgement(text: str) -> float:
    """Score one judgement: 1.0 for `Status: success`, 0.5 for a failure `On the right track ...: yes`,
    0.0 for any other failure or an answer that does not follow the format (the last status line counts)."""
    statuses = _STATUS.findall(text or "")
    if not statuses:
        return 0.0
    if statuses[-1].lower() == "success":
        return 1.0
    tracks = _TRACK.findall(text)
    return 0.5 if tracks and tracks[-1].lower() == "yes" else 0.0


def message_text(message: dict[str, Any]) -> str:
    """The text of a message: its string content, or the text parts of a content list, with any native tool
    calls written as `name(arguments)`."""
    content = message.get("content")
    if isinstance(content, list):
        text = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    else:
        text = content or ""
    calls = []
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") or {}
        calls.append(f"{fn.get('name', '')}({fn.get('arguments', '')})")
    return "\n".join(x for x in [text, *calls] if x)


def _goal(task: Any) -> str:
    prompt = getattr(task, "prompt", None)
    return str(prompt if prompt is not None else task)


class LLMJudge:
    """The LLM value function: `n` sampled judgements by `agent`, each parsed with `parse_judgement`, averaged.

    Args:
        agent: the judge, an `Agent` or an agent spec (`openai:gpt-4o`, `hf:...`); sample it with a
            temperature above 0 so that the `n` judgements differ.
        n: judgements per state (20 in Koh et al.).
        system_prompt: the judge's instructions; they must ask for the `Status:` / `On the right track to
            success:` lines.
        max_actions: at most this many of the latest actions are listed.
        max_chars: the current observation is cut to this many characters.
    """

    def __init__(self, agent: Agent | str, n: int = 20, system_prompt: str = JUDGE_SYSTEM_PROMPT,
                 max_actions: int = 20, max_chars: int = 12_000) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        if isinstance(agent, str):
            from agentgym.agents.spec import make_agent

            agent = make_agent(agent)
        self.agent = agent
        self.n = n
        self.system_prompt = system_prompt
        self.max_actions = max_actions
        self.max_chars = max_chars
        self.calls = 0
        self.usage: list[AgentOutput] = []

    def judge_messages(self, messages: Sequence[dict[str, Any]], task: Any) -> list[dict[str, Any]]:
        """The judge's prompt for a state: goal, numbered actions, the last message, the current observation
        (with its images, if the observation has any)."""
        actions: list[str] = []
        last_assistant = -1
        for i, m in enumerate(messages):
            if m.get("role") == "assistant":
                actions.append(" ".join(message_text(m).split()))
                last_assistant = i
        observation = [m for m in messages[last_assistant + 1:] if m.get("role") != "system"]
        if last_assistant < 0:  # no action yet: the opening user message is the observation
            observation = [m for m in messages if m.get("role") == "user"][-1:]
        obs_text = "\n\n".join(message_text(m) for m in observation)
        if len(obs_text) > self.max_chars:
            obs_text = obs_text[: self.max_chars] + "\n[... cut]"
        shown = actions[-self.max_actions:]
        first = len(actions) - len(shown) + 1
        history = "\n".join(f"{first + k}. {a}" for k, a in enumerate(shown)) or "(none)"
        text = (f"User goal: {_goal(task)}\n\nActions so far:\n{history}\n\n"
                f"The agent's last message: {actions[-1] if actions else '(none)'}\n\nCurrent state:\n{obs_text}")
        images = [p for m in observation if isinstance(m.get("content"), list)
                  for p in m["content"] if isinstance(p, dict) and p.get("type") == "image_url"]
        content: str | list[dict[str, Any]] = text if not images else [*images, {"type": "text", "text": text}]
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": content}]

    async def __call__(self, messages: Sequence[dict[str, Any]], task: Any) -> float:
        prompt = self.judge_messages(messages, task)
        outs = await asyncio.gather(*(self.agent.act(prompt) for _ in range(self.n)))
        self.calls += 1
        self.usage.extend(outs)
        scores = [parse_judgement(message_text(o.message)) for o in outs]
        return sum(scores) / len(scores)


class _CallableValue:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    async def __call__(self, messages: Sequence[dict[str, Any]], task: Any) -> float:
        out = self.fn(list(messages), task)
        if inspect.isawaitable(out):
            out = await out
        return float(out)


def as_value_function(value: ValueFunction | Agent | str, n: int = 20) -> Callable[..., Awaitable[float]]:
    """An async value function from a callable, an `Agent` or an agent spec (the last two become an
    `LLMJudge` with `n` samples)."""
    if isinstance(value, (Agent, str)):
        return LLMJudge(value, n=n)
    if isinstance(value, LLMJudge):
        return value
    if callable(value):
        return _CallableValue(value)
    raise TypeError("a value function is a callable (messages, task) -> float, an Agent or an agent spec")
