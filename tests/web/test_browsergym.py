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


def test_virtual_clock_option_is_validated() -> None:
    with pytest.raises(ValueError, match="virtual_clock_ms"):
        agentgym.make("browsergym.miniwob.stock-market-v0", virtual_clock_ms="fast")
    with pytest.raises(ValueError, match="virtual_clock_ms"):
        agentgym.make("browsergym.miniwob.stock-market-v0", virtual_clock_ms=-5)


def _price(text: str) -> str:
    return re.search(r"StaticText '\$([\d.]+)'", text).group(1)


@pytest.mark.browser
def test_clock_driven_page_is_deterministic_on_the_virtual_clock() -> None:
    """stock-market moves its price every 100 ms with `setInterval`: on the virtual clock the page moves exactly
    1000 ms per reset and step, whatever the wall clock did in between, so the same seed and actions give the same
    observations; the ticker still moves from step to step."""
    env = agentgym.make("browsergym.miniwob.stock-market-v0")
    try:
        runs = []
        for pause in (0.0, 1.5):  # 1.5 s of wall clock is 15 ticks of the page's own timer
            obs, _ = env.reset(seed=11)
            seen = [obs[-1]["content"]]
            time.sleep(pause)
            for _ in range(3):
                obs, *_ = env.step("noop()")
                seen.append(obs[-1]["content"])
            runs.append(seen)
        assert runs[0] == runs[1]
        assert len({_price(text) for text in runs[0]}) > 1  # the ticker moves with the virtual clock
    finally:
        env.close()


def test_registered_ids_are_the_tasks_browsergym_has() -> None:
    """One `browsergym.miniwob.<task>-v0` per MiniWoB task BrowserGym registers (the list file is kept in step
    with the installed BrowserGym), none for the package's pages BrowserGym leaves out."""
    import browsergym.miniwob
    import gymnasium as gym

    theirs = {k.split("/", 1)[1] for k in gym.registry if k.startswith("browsergym/miniwob.")}
    ours = {k.split("/", 1)[1][len("browsergym."):-len("-v0")] for k in agentgym.list_envs()
            if k.startswith("agentgym/browsergym.miniwob.")}
    assert browsergym.miniwob.ALL_MINIWOB_TASKS and ours == theirs
