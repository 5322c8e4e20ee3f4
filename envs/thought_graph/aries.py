"""The ARIES policy (arXiv 2502.21208): an LLM that picks the next graph transformation, under an action ensemble.

In ARIES the policy agent reads the thought graph and the actions taken so far, reasons briefly, and proposes
one transformation (decompose, solve, refine, reduce, aggregate, score, submit); several proposals are sampled
and the majority is executed. The thought-graph env already writes the graph, the action history and the
instruction to reason briefly and then call one tool into the policy's messages, so the ARIES policy here is
composition only: a sampled LLM agent wrapped in `ActionEnsembleAgent`. It runs on the env like any other
policy (`rollout`, `evaluate`), and its tokens are the policy's; the reasoner's are counted apart. ARIES
re-prompts its policy with the current graph and the action history at every step rather than growing one
conversation: that is the env's `context="graph"` mode (`ThoughtGraphEnv(..., context="graph")`).
"""

from __future__ import annotations

from typing import Any

from agentgym.agents.base import Agent
from agentgym.agents.ensemble import ActionEnsembleAgent
from agentgym.protocols import ToolProtocol

__all__ = ["aries_policy"]


def aries_policy(agent: str | Agent, *, ensemble: int = 5, temperature: float = 0.7,
                 protocol: str | ToolProtocol = "hermes", **agent_options: Any) -> ActionEnsembleAgent:
    """The ARIES policy agent: `ensemble` sampled proposals per turn, majority vote.

    Args:
        agent: an agent spec (`openai:...`, `litellm:...`, `hf:...`), built with `make_agent` at `temperature`,
            or an `Agent` object, used as it is (its own sampling settings apply; `temperature` and
            `agent_options` are ignored).
        ensemble: proposals per turn (1 turns the ensemble off while keeping the vote record).
        temperature: the sampling temperature of a spec-built agent; above 0 so proposals can differ.
        protocol: the tool protocol the env speaks, used to read each proposal's call.
        agent_options: further options for `make_agent` (base_url, api_key, max_tokens, ...).

    Returns:
        An `ActionEnsembleAgent`; closing it closes the inner agent.
    """
    if isinstance(agent, str):
        from agentgym.agents.spec import make_agent

        agent = make_agent(agent, temperature=temperature, **agent_options)
    return ActionEnsembleAgent(agent, ensemble, protocol=protocol)
