"""BrowserGym's own MiniWoB tasks behind agentgym's env API: its sync Playwright runs on the env's worker thread,
its action strings pass through, its reward comes back; on Debian Chromium and the local MiniWoB pages."""

from __future__ import annotations

import re
import time

import pytest
from agentgym.envs.web.browsergym import extract_action

import agentgym


def test_extract_action() -> None:
    assert extract_action("I will click.\n```python\nclick('a51')\n```") == "click('a51')"
    assert extract_action("Thinking...\nfill('12',\n  \"hi\")\ndone") == "fill('12',\n  \"hi\")"
    assert extract_action("noop()") == "noop()"


def _bid(tree: str, role: str, name: str) -> str:
    return re.search(r"\[(\w+)\] " + role + " '" + re.escape(name) + "'", tree).group(1)


@pytest.mark.browser
def test_browsergym_miniwob_tasks() -> None:
    env = agentgym.make("BrowserGym-v0", task="browsergym/miniwob.click-button")
    try:
        obs, info = env.reset(seed=5)
        text = obs[-1]["content"]
        goal = re.search(r'Click on the "(.+?)" button', text).group(1)
        assert info["url"].endswith("/miniwob/click-button.html")
        t0 = time.perf_counter()
        obs, reward, terminated, _truncated, info = env.step(f"```\nclick('{_bid(text, 'button', goal)}')\n```")
        step_s = time.perf_counter() - t0
        assert reward == 1.0 and terminated and info["success"], (obs, info)
        print(f"\nBrowserGym click-button: one step {step_s * 1000:.0f} ms")
    finally:
        env.close()

    env = agentgym.make("browsergym.miniwob.enter-text-v0")
    try:
        obs, _ = env.reset(seed=2)
        text = obs[-1]["content"]
        word = re.search(r'Enter "(.+?)" into', text).group(1)
        box, submit = _bid(text, "textbox", ""), _bid(text, "button", "Submit")
        # a bad action is BrowserGym's error, shown to the agent
        obs, reward, terminated, _, info = env.step("click('nope')")
        assert not terminated and reward == 0.0 and "Error from the last action" in obs[-1]["content"]
        obs, reward, terminated, _, info = env.step(f"fill('{box}', \"{word}\")\nclick('{submit}')")
        assert reward == 1.0 and terminated, obs
    finally:
        env.close()
