"""Per-episode mutable state, handed to tools (as an injected argument) and to reward functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentgym.tasks import Task


@dataclass
class EpisodeState:
    """What an environment knows about the running episode.

    Tools receive it by declaring a parameter `state: Annotated[EpisodeState, Injected]`; reward
    functions receive it as their only argument.
    """

    task: Task
    turn: int = 0
    done: bool = False
    answer: Any = None
    submitted: bool = False
    tool_calls: int = 0
    tool_errors: int = 0
    parse_errors: int = 0
    tool_counts: dict[str, int] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def submit(self, answer: Any) -> None:
        """Record the final answer and end the episode after this turn."""
        self.answer = answer
        self.submitted = True
        self.done = True
