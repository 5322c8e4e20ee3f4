"""MiniWoB++ on a real browser: the task pages of the `miniwob` package, served locally, with the reward
their own JavaScript computes. Env ids: `agentgym/miniwob.<task>-v0` for every task in `MINIWOB_TASKS`."""

from __future__ import annotations

from agentgym.envs.web.miniwob.tasks import (
    MINIWOB_TASKS,
    STATE_SCRIPT,
    MiniWoBOutcome,
    MiniWoBServer,
    MiniWoBTask,
    installed_tasks,
    miniwob_html_dir,
    outcome_from_extra,
)

__all__ = [
    "MINIWOB_TASKS",
    "STATE_SCRIPT",
    "MiniWoBOutcome",
    "MiniWoBServer",
    "MiniWoBTask",
    "installed_tasks",
    "miniwob_html_dir",
    "outcome_from_extra",
]
