"""Search agents: inference-time search around a policy agent, over envs that can replay an action prefix.

`TreeSearchAgent` is the best-first tree search of Koh et al. (2024) with a value function (`LLMJudge`, or any
callable `(messages, task) -> float`); `agentgym eval ENV --agent SPEC --search best-first` runs it.
"""

from agentgym.search_agents.tree_search import (
    SearchNode,
    SearchSession,
    TreeSearchAgent,
    action_key,
    replay_env,
)
from agentgym.search_agents.value import (
    JUDGE_SYSTEM_PROMPT,
    LLMJudge,
    ValueFunction,
    as_value_function,
    message_text,
    parse_judgement,
)

__all__ = ["JUDGE_SYSTEM_PROMPT", "LLMJudge", "SearchNode", "SearchSession", "TreeSearchAgent", "ValueFunction",
           "action_key", "as_value_function", "message_text", "parse_judgement", "replay_env"]
