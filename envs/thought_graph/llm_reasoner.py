"""`LLMReasoner`: any agentgym agent carries out the thought-graph transformations.

Each operation sends the task's own prompt (`solve_prompt`, `refine_prompt`, `aggregate_prompt`,
`decompose_prompt`) as one user message under a short system prompt, and reads the reply with the task's
parsers. Every model call is counted in `usage`, apart from the policy's tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agentgym.envs.thought_graph.reasoner import Outcome, Reasoner
from agentgym.envs.thought_graph.task import Problem, Solution, ThoughtTask

from agentgym.agents.base import Agent, AgentError

__all__ = ["DEFAULT_SYSTEM_PROMPT", "LLMReasoner"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a careful reasoner. Work through the task you are given step by step, check your work, and give "
    "the answer exactly in the format the task requests."
)

COT_INSTRUCTION = (
    " Before answering, reason step by step in writing (split the input into smaller pieces, handle each, then "
    "combine them), and end with the final answer alone on the last line, in the requested format."
)


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


class LLMReasoner(Reasoner):
    """A model reasons: an agent spec (`openai:...`, `litellm:...`, `hf:...`) or an `Agent` object.

    A reasoner built from a spec owns its model and closes it in `aclose`; an agent object passed in stays
    open. `fork(seed)` (once per episode) shares the model and starts a fresh `usage`.

    A call that fails with an ordinary exception (a timeout, a server error, a context overflow) gives an
    `Outcome` with no solution and the error as text, so the episode goes on with one failed transformation;
    it still counts as a call. `AgentError` (a misconfiguration no retry fixes) propagates.

    Args:
        agent: the spec or agent object that reasons.
        system_prompt: the system message of every call (default: `DEFAULT_SYSTEM_PROMPT`).
        chain_of_thought: ask for step-by-step reasoning before the answer (the CoT baseline's reasoner).
        agent_options: options for `make_agent` when `agent` is a spec (temperature, max_tokens, ...).
    """

    def __init__(self, agent: str | Agent, *, system_prompt: str | None = None, chain_of_thought: bool = False,
                 **agent_options: Any) -> None:
        super().__init__()
        self._owns_agent = isinstance(agent, str)
        if isinstance(agent, str):
            from agentgym.agents.spec import make_agent

            agent = make_agent(agent, **agent_options)
        self.agent = agent
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.chain_of_thought = chain_of_thought
        if chain_of_thought:
            self.system_prompt += COT_INSTRUCTION
        self.name = f"llm({agent.name})"

    def fork(self, seed: int | None = None) -> LLMReasoner:
        """A reasoner for one episode over the same model (sampling randomness is the model's own, so the
        seed is unused)."""
        clone = LLMReasoner(self.agent, system_prompt=self.system_prompt)
        clone.chain_of_thought = self.chain_of_thought
        return clone

    async def _ask(self, prompt: str) -> tuple[str, bool]:
        """One call: (reply text, ok). A failed call returns the error text and ok=False."""
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]
        try:
            output = await self.agent.act(messages)
        except AgentError:
            raise
        except Exception as e:  # one failed transformation must not end the episode
            self.usage.add()
            return f"error: {type(e).__name__}: {e}", False
        self.usage.add(output)
        return _content(output.message), True

    @staticmethod
    def _parse(task: ThoughtTask, text: str) -> Solution | None:
        try:
            return task.parse_solution(text)
        except Exception:  # a parser tripping on odd model output means "no solution", not a crash
            return None

    async def _outcomes(self, task: ThoughtTask, prompt: str, k: int) -> list[Outcome]:
        replies = await asyncio.gather(*(self._ask(prompt) for _ in range(k)))
        return [Outcome(self._parse(task, text) if ok else None, text) for text, ok in replies]

    async def solve(self, task: ThoughtTask, problem: Problem, k: int) -> list[Outcome]:
        return await self._outcomes(task, task.solve_prompt(problem), k)

    async def refine(self, task: ThoughtTask, problem: Problem, solution: Solution, errors: float | None) -> Outcome:
        (outcome,) = await self._outcomes(task, task.refine_prompt(problem, solution, errors), 1)
        return outcome

    async def aggregate(self, task: ThoughtTask, problem: Problem, part_problems: Sequence[Problem],
                        part_solutions: Sequence[Solution], k: int) -> list[Outcome]:
        return await self._outcomes(task, task.aggregate_prompt(problem, part_problems, part_solutions), k)

    async def decompose(self, task: ThoughtTask, problem: Problem, parts: int) -> list[Problem] | None:
        text, ok = await self._ask(task.decompose_prompt(problem, parts))
        if not ok:
            return None
        try:
            result = task.parse_parts(problem, parts, text)
        except Exception:  # same as an unusable reply
            return None
        return list(result) if result else None

    async def aclose(self) -> None:
        """Close the model if this reasoner made it from a spec (an agent object passed in stays open)."""
        if self._owns_agent:
            await self.agent.aclose()
