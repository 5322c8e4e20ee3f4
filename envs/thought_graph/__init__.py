"""Thought-graph environments (ARIES, arXiv 2502.21208): Graph-of-Thoughts reasoning as a decision process.

The policy transforms a graph of thoughts (`decompose`, `solve`, `refine`, `reduce`, `aggregate`, `score`,
`submit`); an injected reasoner (an LLM, or `ProgrammaticReasoner`) carries each transformation out. Task
families: sorting, set intersection, keyword counting, document merging (Graph of Thoughts' tasks, generated
or loaded from its CSV files) and HumanEval. Baseline policies are the static schedules in `schedules`; the
ARIES policy is `aries.aries_policy`.
"""

from agentgym.envs.thought_graph.env import ThoughtGraphEnv
from agentgym.envs.thought_graph.graph import GraphError, Thought, ThoughtGraph
from agentgym.envs.thought_graph.reasoner import Outcome, ProgrammaticReasoner, Reasoner, ReasonerUsage
from agentgym.envs.thought_graph.schedules import ScheduleAgent, schedule_agent
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask

__all__ = [
    "GraphError",
    "Outcome",
    "ProgrammaticReasoner",
    "Reasoner",
    "ReasonerUsage",
    "ScheduleAgent",
    "TaskInstance",
    "Thought",
    "ThoughtGraph",
    "ThoughtGraphEnv",
    "ThoughtTask",
    "schedule_agent",
]
