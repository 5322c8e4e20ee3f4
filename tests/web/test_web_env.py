"""WebEnv over a fake dict-based site: observations, actions, errors, crashes, replay, BrowserGym strings."""

from __future__ import annotations

import json
import warnings

import pytest
from _fake_web import FakeBackend, fake_render, shop_reward, shop_site, shop_tasks
from agentgym.envs.web import BrowserGymProtocol, WebEnv, parse_action_calls
from gymnasium.utils.env_checker import check_env

from agentgym.agents import ScriptedAgent
from agentgym.episode import run_episode
from agentgym.messages import Message


def make_env(backend: FakeBackend | None = None, **kwargs) -> WebEnv:
    kwargs.setdefault("render", fake_render)
    return WebEnv(shop_tasks(), backend or FakeBackend(shop_site()), reward=shop_reward, **kwargs)


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "expected"), [
    ("click('a51')", [("click", {"bid": "a51"})]),
    ("fill('12', \"hello\")", [("fill", {"bid": "12", "value": "hello"})]),
    ("select_option('5', [\"blue\"])", [("select_option", {"bid": "5", "options": ["blue"]})]),
    ("select_option('5', 'red')", [("select_option", {"bid": "5", "options": ["red"]})]),
    ("scroll(0, 200)", [("scroll", {"dx": 0.0, "dy": 200.0})]),
    ("send_msg_to_user(\"It costs $80\")", [("send_msg_to_user", {"text": "It costs $80"})]),
    ("press('3', 'Enter')", [("press", {"key": "Enter", "bid": "3"})]),
    ("press('Control+a')", [("press", {"key": "Control+a"})]),
    ("click(12)", [("click", {"bid": "12"})]),
    ("go_back()\ntab_focus(0)", [("go_back", {}), ("tab_focus", {"index": 0})]),
    ("I should search first.\nfill('2', 'boots')\nclick('3')  # then submit",
     [("fill", {"bid": "2", "value": "boots"}), ("click", {"bid": "3"})]),
    ("Thinking (briefly) about it.\n```python\nclick(bid='7')\n```", [("click", {"bid": "7"})]),
    ("fill('2',\n     'multi line call')", [("fill", {"bid": "2", "value": "multi line call"})]),
    ("The page looks fine, nothing to do.", []),
])
def test_browsergym_strings_parse(text, expected):
    calls, errors = parse_action_calls(text)
    assert errors == []
    assert [(c.tool, c.arguments) for c in calls] == expected


@pytest.mark.parametrize("text", [
    "__import__('os')",
    "__import__('os').system('echo pwned')",
    "click(__import__('os'))",
    "click(open('/etc/passwd').read())",
    "```\nimport os\nclick('1')\n```",
    "```\nx = click('1')\n```",
    "click(*['1'])",
    "click(**{'bid': '1'})",
    "fill('1')",
    "click('1', 'left', [], 'extra')",
    "click('1', button='right')",
    "scroll('down', 1)",
    "eval(\"click('1')\")",
    "click('1'",
    "```\n(lambda: 0)()\n```",
    "click(" + "[" * 5000 + "]" * 5000 + ")",
    "click('1')\n" * 3000,
])
def test_malicious_or_broken_strings_are_parse_errors(text):
    calls, errors = parse_action_calls(text)
    assert errors, text
    assert not any(c.tool not in ("click",) for c in calls)


def test_protocol_round_trip_and_prompt():
    env = make_env()
    proto = env.protocol
    assert isinstance(proto, BrowserGymProtocol)
    prompt = proto.render_tools(env.tools)
    assert "click(bid)" in prompt and "press(key, bid=None)" in prompt
    native = Message.from_openai({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "fill", "arguments": '{"bid": "2", "value": "x"}'}}]})
    text = proto.encode_calls(native)
    assert text == "fill(bid='2', value='x')"
    parsed = proto.parse(Message("assistant", text))
    assert [(c.name, json.loads(c.arguments)) for c in parsed.calls] == [("fill", {"bid": "2", "value": "x"})]
    env.close()


# ---------------------------------------------------------------------------------------------- episodes


def test_reset_shows_goal_and_page_and_actions_work():
    backend = FakeBackend(shop_site())
    env = make_env(backend)
    obs, info = env.reset(options={"task_id": "boots"})
    assert obs[0]["role"] == "system" and "click(bid)" in obs[0]["content"]
    first = obs[-1]["content"]
    assert first.startswith("Goal: Open the page of the boots.") and "[1] link 'Products'" in first
    assert info["url"] == "/home" and info["task_id"] == "boots"
    obs, reward, terminated, truncated, info = env.step("Let me look at the products.\nclick('1')")
    assert not terminated and not truncated and reward == 0.0
    assert "click(bid='1'): done." in obs[-1]["content"] and "URL: /products" in obs[-1]["content"]
    assert info["url"] == "/products" and info["action"] == ["click(bid='1')"] and info["error"] is None
    obs, reward, terminated, truncated, info = env.step("click('1')")
    assert terminated and reward == 1.0 and info["success"]
    assert backend.closed == 1  # the session is closed at the end of the episode
    env.close()


def test_action_error_and_parse_error_come_back_with_the_page():
    env = make_env()
    env.reset(options={"task_id": "boots"})
    obs, _, terminated, truncated, info = env.step("click('99')")
    text = obs[-1]["content"]
    assert "no element with id [99]" in text and "[1] link 'Products'" in text
    assert info["error"] and "no element" in info["error"] and not (terminated or truncated)
    obs, _, terminated, truncated, info = env.step("__import__('os').system('true')")
    assert "Error:" in obs[-1]["content"] and "URL: /home" in obs[-1]["content"]
    assert info["parse_errors"] and info["error"] and not (terminated or truncated)
    obs, *_ = env.step("fill('2', 'boots')\nselect_option('5', 'blue')")
    assert "value='boots'" in obs[-1]["content"] and "value='['blue']'" in obs[-1]["content"]
    obs, *_ = env.step("Nothing to do.")  # no action: a reminder, still with the page
    assert "No tool call" in obs[-1]["content"] and "URL: /home" in obs[-1]["content"]
    env.close()


def test_answer_goes_to_the_reward_hook():
    env = make_env()
    env.reset(options={"task_id": "price"})
    env.step("click('1')")
    env.step("click('1')")
    _, reward, terminated, _, info = env.step('send_msg_to_user("The boots cost $80.")')
    assert terminated and reward == 1.0 and info["answer"] == "The boots cost $80."
    env.reset(options={"task_id": "price"})
    *_, info = env.step('answer("$10")')
    assert info["answer"] == "$10" and not info["success"]
    env.close()


@pytest.mark.parametrize("protocol", ["hermes", "native", "tags"])
def test_other_protocols_drive_the_same_tools(protocol):
    env = make_env(protocol=protocol)
    env.reset(options={"task_id": "boots"})
    if protocol == "hermes":
        action = '<tool_call>{"name": "click", "arguments": {"bid": 1}}</tool_call>'
    elif protocol == "tags":
        action = "<click>1</click>"
    else:
        action = {"content": None, "tool_calls": [{"id": "c1", "type": "function",
                                                   "function": {"name": "click", "arguments": '{"bid": "1"}'}}]}
    obs, _, _, _, info = env.step(action)
    assert info["url"] == "/products"
    assert any("URL: /products" in (m["content"] or "") for m in obs)
    env.close()


def test_long_pages_are_cut_with_a_note():
    env = make_env(obs_max_chars=500)
    env.reset(options={"task_id": "boots"})
    obs, *_ = env.step("click('4')")
    page = obs[-1]["content"]
    assert "page cut" in page and len(page) < 1200
    env.close()


def test_screenshot_is_an_image_content_part():
    env = make_env(screenshot=True)
    obs, _ = env.reset(options={"task_id": "boots"})
    parts = obs[-1]["content"]
    assert parts[0]["type"] == "text" and parts[1]["type"] == "image_url"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    obs, *_ = env.step("click('1')")
    assert obs[-1]["content"][1]["type"] == "image_url"
    assert env.observation_space.contains(obs)
    env.close()


def test_backend_crash_ends_the_episode_truncated():
    env = make_env()
    env.reset(options={"task_id": "boots"})
    obs, _, terminated, truncated, info = env.step("click('3')")
    assert truncated and not terminated and "crashed" in info["error"]
    assert "stopped working" in obs[-1]["content"]
    obs, _ = env.reset(options={"task_id": "boots"})  # the next episode gets a fresh session
    assert "[1] link 'Products'" in obs[-1]["content"]
    env.close()


def test_hanging_action_times_out_as_a_crash():
    env = make_env(action_timeout=0.2)
    env.reset(options={"task_id": "boots"})
    _, _, terminated, truncated, info = env.step("click('6')")
    assert truncated and not terminated and "longer than" in info["error"]
    env.close()


def test_crash_at_reset_retries_then_truncates_the_first_step():
    env = make_env(FakeBackend(shop_site(), crash_sessions=1))
    obs, _ = env.reset(options={"task_id": "boots"})  # one retry suffices
    assert "[1] link 'Products'" in obs[-1]["content"]
    env.close()
    env = make_env(FakeBackend(shop_site(), crash_sessions=5))
    obs, info = env.reset(options={"task_id": "boots"})
    assert "stopped working" in obs[-1]["content"] and info["backend_crashed"]
    _, _, terminated, truncated, info = env.step("click('1')")
    assert truncated and not terminated and "crashed" in info["error"]
    env.close()


def test_backend_factory_is_owned_and_closed():
    made: list[FakeBackend] = []

    def factory() -> FakeBackend:
        made.append(FakeBackend(shop_site()))
        return made[-1]

    env = WebEnv(shop_tasks(), factory, reward=shop_reward, render=fake_render)
    assert made == []
    env.reset(options={"task_id": "boots"})
    env.close()
    assert len(made) == 1 and made[0].stopped


def test_replay_reproduces_the_observation():
    env = make_env()
    actions = ["click('1')", "click('99')", "click('2')", "fill('2', 'boots')"]
    env.reset(options={"task_id": "price"})
    original = [env.step(a)[0] for a in actions]
    other = make_env()
    for k in range(len(actions) + 1):
        obs, info = other.replay(actions[:k], "price")
        assert info["replayed"] == k
        assert obs == (original[k - 1] if k else env.replay([], "price")[0])
    env.close()
    other.close()


async def test_async_episode_with_run_episode():
    env = make_env()
    agent = ScriptedAgent(["click('1')", "click('1')"])
    traj = await run_episode(env, agent, "boots")
    assert traj.success and traj.reward == 1.0 and traj.num_turns == 2
    assert traj.info["url"] == "/boots"
    await env.aclose()


def test_check_env_passes():
    env = make_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    env.close()


def test_the_default_renderer_is_axtext():
    env = make_env(render=None)
    obs, _ = env.reset(options={"task_id": "boots"})
    assert "URL: /home" in obs[-1]["content"] and "[1]" in obs[-1]["content"]
    env.close()
