"""The data a policy-document domain is made of, shared by the env, the τ-bench loader and the generator.

A `PolicyDomain` is everything one business needs: its database (tables of JSON records), its tools, its
policy document and its tasks. The env (`PolicyEnv`) loads a fresh deep copy of `data` at every reset, runs
tools against it, and grades an episode by the final database's hash against the hash after replaying the
task's gold `actions`, plus the required `outputs` in the agent's messages to the user (τ-bench's reward).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Database = dict[str, Any]  # table name -> records (τ-bench: dict id -> record; lists are allowed too)


class ToolKind(StrEnum):
    """What a tool does to the episode: read the database, write it, or end the episode."""

    READ = "read"
    WRITE = "write"
    TERMINATE = "terminate"


class RuleCategory(StrEnum):
    """CC-Gen's rule categories: a fact to state or use, how to act, an if/then that decides the action."""

    FACTUAL = "factual"
    BEHAVIORAL = "behavioral"
    CONDITIONAL = "conditional"


@dataclass
class PolicyTool:
    """A tool over the database.

    `invoke(data, **kwargs) -> str` is τ-bench's signature: it reads or mutates `data` in place and returns
    the text the agent sees; it raises (or returns a string starting with "Error") when the call is invalid.
    `schema` is the OpenAI function schema `{"type": "function", "function": {name, description, parameters}}`.
    """

    name: str
    invoke: Callable[..., Any]
    schema: dict[str, Any]
    kind: ToolKind = ToolKind.READ


@dataclass
class Action:
    """One gold tool call: the tool's name and its keyword arguments."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rule:
    """One rule of a generated policy: its id, category, the policy text and its nesting depth (1 = flat)."""

    id: str
    category: RuleCategory
    text: str
    depth: int = 1


@dataclass
class UserGoal:
    """What a `ScriptedUser` knows and wants (generated tasks have one; τ-bench tasks need not).

    Attributes:
        opening: the user's first message.
        requests: the follow-up requests, said one at a time once the previous one is dealt with.
        facts: slot -> value the user knows (e.g. "user_id" -> "mia_li_3668"); revealed when asked.
        fact_aliases: slot -> phrases that count as the agent asking for it (besides the slot name itself
            with "_" read as " ").
        accepts: tool names the user agrees to when the agent asks for confirmation before that write;
            any other confirmation request is answered "no".
        request_facts: per request (index 0 is the opening's request, then one per entry of `requests`),
            slot -> value the user knows only for that request (e.g. which order it is about); looked up
            before `facts`.
    """

    opening: str
    requests: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    fact_aliases: dict[str, list[str]] = field(default_factory=dict)
    accepts: list[str] = field(default_factory=list)
    request_facts: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PolicyTask:
    """One conversation: who the user is, what they want, and the gold that grades it.

    `actions` are the gold tool calls (writes matter for the hash; reads are allowed and ignored by it);
    `outputs` are strings that must appear in the agent's messages to the user. `metadata` carries the
    generator's dials and the categories of the rules the task exercises (`"rules": [{"id", "category"}]`).
    """

    id: str
    instruction: str
    actions: list[Action] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    user_id: str | None = None
    goal: UserGoal | None = None
    split: str = "test"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyDomain:
    """A whole domain: name, database, tools, policy document (markdown), tasks, and the policy's rules."""

    name: str
    data: Database
    tools: list[PolicyTool]
    policy: str
    tasks: list[PolicyTask]
    rules: list[Rule] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
