"""MiniWoB++ on Chromium: the task list is the package's, every task id is registered cheaply, scripted
solutions of 14 task types earn the task's own reward, and the env runs an episode end to end."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from agentgym.envs.web.miniwob.tasks import MINIWOB_TASKS

import agentgym


def test_task_list_is_the_packages() -> None:
    from agentgym.envs.web.miniwob.tasks import installed_tasks

    assert list(MINIWOB_TASKS) == installed_tasks()
    assert len(MINIWOB_TASKS) >= 100


def test_every_task_registered_without_starting_anything() -> None:
    ids = agentgym.list_envs()
    for name in MINIWOB_TASKS:
        assert f"agentgym/miniwob.{name}-v0" in ids
    with pytest.raises(ValueError, match="did you mean click-button"):
        agentgym.make("miniwob.click-button-v0", task="click-buton")


@pytest.mark.browser
def test_scripted_solutions_pass() -> None:
    from agentgym.envs.web.miniwob import MiniWoBServer, MiniWoBTask
    from agentgym.envs.web.miniwob.solutions import SOLUTIONS
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    assert len(SOLUTIONS) >= 10
    results: dict[str, float] = {}

    async def main() -> None:
        server = MiniWoBServer.acquire()
        try:
            async with PlaywrightBackend(max_contexts=1) as backend:
                session = await backend.new_session()
                for name, solve in SOLUTIONS.items():
                    task = MiniWoBTask(name, server.base_url)
                    utterance, page = await task.start(session, seed=7)
                    assert utterance and page.html
                    await solve(session, utterance)
                    outcome = await task.read_outcome(session)
                    results[name] = outcome.raw_reward if outcome.done else 0.0
                await session.close()
        finally:
            MiniWoBServer.release()

    asyncio.run(main())
    assert all(r > 0 for r in results.values()), results


@pytest.mark.browser
def test_env_episode_and_seeds() -> None:
    env = agentgym.make("miniwob.click-button-v0")
    try:
        obs, info = env.reset(seed=3)
        text = obs[-1]["content"]
        goal = re.search(r'Click on the "(.+?)" button', text).group(1)
        obs2, _ = env.reset(seed=3)
        assert obs2[-1]["content"].split("URL:")[0] == text.split("URL:")[0]  # same seed, same problem
        wrong = [b for b, label in re.findall(r"\[(\d+)\] button '([^']*)'", text) if label != goal]
        right = re.search(r"\[(\d+)\] button '" + re.escape(goal) + "'", text).group(1)
        if wrong:
            _, reward, terminated, _, info = env.step(f"click('{wrong[0]}')")
            assert terminated and reward == 0.0 and not info["success"]
            env.reset(seed=3)
        t0 = time.perf_counter()
        _, reward, terminated, truncated, info = env.step(f"click('{right}')")
        step_s = time.perf_counter() - t0
        assert terminated and not truncated and reward == 1.0 and info["success"], info
        print(f"\nagentgym MiniWoB click-button: one step {step_s * 1000:.0f} ms")
        # an id that is not on the page is an observation, not an exception
        env.reset(seed=4)
        obs, reward, terminated, _, info = env.step("click('999')")
        assert not terminated and reward == 0.0 and "999" in obs[-1]["content"]
    finally:
        env.close()
