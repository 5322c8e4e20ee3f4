"""PolicyEnv on a tiny in-test domain: episode flow, all-or-nothing tool calls, τ-bench reward, users."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from agentgym.envs.policy import (
    Action,
    LLMUser,
    PolicyDomain,
    PolicyEnv,
    PolicyTask,
    PolicyTool,
    SimulatedUser,
    ToolKind,
    database_hash,
    user_system_prompt,
)
from agentgym.envs.policy.arguments import argument_errors
from gymnasium.utils.env_checker import check_env

from agentgym.agents.base import Agent, AgentError, AgentOutput

POLICY = "# Bank policy\n\nTransfers are at most 50 per call. Confirm before a transfer."


def get_account(data: dict[str, Any], account_id: str) -> str:
    if account_id not in data["accounts"]:
        return "Error: account not found"
    return json.dumps(data["accounts"][account_id])


def transfer(data: dict[str, Any], from_id: str, to_id: str, amount: int) -> str:
    accounts = data["accounts"]
    accounts[from_id]["balance"] -= amount  # changed before the rule and the destination are checked
    if amount > 50:
        return "Error: transfers are at most 50"
    accounts[to_id]["balance"] += amount  # an unknown destination raises KeyError
    return json.dumps({"balance": accounts[from_id]["balance"]})


def transfer_to_human_agents(data: dict[str, Any], summary: str) -> str:
    return "Transfer successful"


def schema(name: str, props: dict[str, str]) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": f"The {name} tool.",
        "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in props.items()},
                       "required": list(props)}}}


def make_domain() -> PolicyDomain:
    tools = [
        PolicyTool("get_account", get_account, schema("get_account", {"account_id": "string"}), ToolKind.READ),
        PolicyTool("transfer", transfer, schema("transfer", {"from_id": "string", "to_id": "string",
                                                             "amount": "integer"}), ToolKind.WRITE),
        PolicyTool("transfer_to_human_agents", transfer_to_human_agents,
                   schema("transfer_to_human_agents", {"summary": "string"}), ToolKind.TERMINATE),
    ]
    tasks = [
        PolicyTask("t-move", "You are Ann (a1). Move 30 to a2 and ask your new balance.",
                   [Action("get_account", {"account_id": "a1"}),
                    Action("transfer", {"from_id": "a1", "to_id": "a2", "amount": 30})], ["70"], user_id="a1"),
        PolicyTask("t-balance", "You are Bo (a2). Ask for your balance.", [Action("get_account", {"account_id": "a2"})],
                   ["1250"], user_id="a2"),
        PolicyTask("t-human", "You are Ann. You want a human.", [
            Action("transfer_to_human_agents", {"summary": "wants a human"})], [], user_id="a1", split="train"),
    ]
    data = {"accounts": {"a1": {"owner": "Ann", "balance": 100}, "a2": {"owner": "Bo", "balance": 1250}}}
    return PolicyDomain("bank", data, tools, POLICY, tasks)


class EchoUser(SimulatedUser):
    """Opens with the instruction, answers "ok: ...", and stops when the agent says goodbye."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []

    async def start(self, task: PolicyTask) -> str:
        self.usage.calls += 1
        return f"Hello. {task.instruction}"

    async def reply(self, agent_text: str) -> str:
        self.heard.append(agent_text)
        self.usage.prompt_tokens += 10
        self.usage.completion_tokens += 2
        self.usage.cost += 0.5
        self.usage.calls += 1
        return "###STOP###" if "goodbye" in agent_text.lower() else f"ok: {agent_text}"


def call(name: str, **arguments: Any) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def make_env(**kwargs: Any) -> PolicyEnv:
    kwargs.setdefault("user", EchoUser())
    return PolicyEnv(make_domain(), **kwargs)


def play(env: PolicyEnv, task_id: str, turns: list[Any]) -> tuple[float, bool, bool, dict[str, Any], list[list[dict]]]:
    env.reset(options={"task_id": task_id})
    observations = []
    for turn in turns:
        obs, reward, terminated, truncated, info = env.step(turn)
        observations.append(obs)
        if terminated or truncated:
            return reward, terminated, truncated, info, observations
    raise AssertionError("the episode did not end")


GOLD_MOVE = [call("get_account", account_id="a1"), call("transfer", from_id="a1", to_id="a2", amount=30),
             "Done: your new balance is 70. Goodbye!"]


# ------------------------------------------------------------------------------------------ episode flow


def test_reset_gives_policy_system_prompt_and_user_opening():
    env = make_env()
    messages, info = env.reset(options={"task_id": "t-move"})
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(POLICY)
    assert "<tools>" in messages[0]["content"] and '"respond"' in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "Hello. You are Ann (a1). Move 30 to a2 and ask your new balance."}
    assert info["task_id"] == "t-move" and info["domain"] == "bank"
    assert env.state.task.prompt == messages[1]["content"] and env.tasks.get("t-move").prompt == ""
    assert {t["function"]["name"] for t in info["tools"]} == {"get_account", "transfer", "transfer_to_human_agents",
                                                             "respond"}
    assert env.state.data["db"] == env.domain.data and env.state.data["db"] is not env.domain.data
    env.state.data["db"]["accounts"]["a1"]["balance"] = 0
    assert env.domain.data["accounts"]["a1"]["balance"] == 100  # a deep copy per episode
    env.reset(options={"task_id": "t-move"})
    assert env.state.data["db"]["accounts"]["a1"]["balance"] == 100


def test_gold_actions_score_one_and_components_are_logged():
    env = make_env()
    reward, terminated, truncated, info, obs = play(env, "t-move", GOLD_MOVE)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["reward_components"] == {"task_reward": 1.0, "r_actions": 1.0, "r_outputs": 1.0}
    assert info["success"] is True and info["task_id"] == "t-move"
    assert json.loads(obs[1][0]["content"].split("<tool_response>\n")[1].split("\n</tool_response>")[0]) == {"balance": 70}
    assert obs[2] == [{"role": "user", "content": "###STOP###"}]  # a plain reply went to the user


def test_native_tool_calls_and_respond_tool():
    env = make_env(protocol="native")
    args = json.dumps({"from_id": "a1", "to_id": "a2", "amount": 30})
    turns = [{"content": None, "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "transfer", "arguments": args}}]},
             {"content": None, "tool_calls": [{"id": "c2", "type": "function", "function": {
                 "name": "respond", "arguments": json.dumps({"content": "Balance 70. Goodbye"})}}]}]
    reward, terminated, _, _info, obs = play(env, "t-move", turns)
    assert reward == 1.0 and terminated
    assert obs[0][0]["role"] == "tool" and obs[0][0]["tool_call_id"] == "c1"
    assert obs[1] == [{"role": "tool", "tool_call_id": "c2", "name": "respond", "content": "###STOP###"}]


def test_text_reply_is_a_message_to_the_user():
    env = make_env()
    env.reset(options={"task_id": "t-move"})
    obs, reward, terminated, truncated, _info = env.step("What is your account id?")
    assert obs == [{"role": "user", "content": "ok: What is your account id?"}]
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert env.state.data["to_user"] == ["What is your account id?"]
    obs, *_ = env.step(call("respond", content="Thanks"))
    assert obs == [{"role": "user", "content": "<tool_response>\nok: Thanks\n</tool_response>"}]


def test_wrong_write_scores_zero():
    turns = [call("transfer", from_id="a1", to_id="a2", amount=31), "Your balance is 70. Goodbye"]
    reward, _, _, info, _ = play(make_env(), "t-move", turns)
    assert reward == 0.0 and info["reward_components"]["r_actions"] == 0.0
    assert info["reward_components"]["r_outputs"] == 1.0


def test_missing_output_scores_zero():
    turns = [call("transfer", from_id="a1", to_id="a2", amount=30), "All set. Goodbye"]
    reward, _, _, info, _ = play(make_env(), "t-move", turns)
    assert reward == 0.0 and info["reward_components"] == {"task_reward": 0.0, "r_actions": 1.0, "r_outputs": 0.0}


def test_outputs_are_case_insensitive_and_ignore_commas_in_messages():
    reward, *_ = play(make_env(), "t-balance", ["Your balance is 1,250 dollars. Goodbye"])
    assert reward == 1.0
    env = make_env()
    env.domain.tasks[1].outputs = ["Twelve Fifty"]
    reward, *_ = play(env, "t-balance", ["it is twelve fifty. goodbye"])
    assert reward == 1.0


def test_terminate_tool_ends_the_episode():
    env = make_env()
    reward, terminated, truncated, _info, obs = play(env, "t-human", [call("transfer_to_human_agents", summary="x")])
    assert terminated and not truncated and reward == 1.0
    assert "Transfer successful" in obs[0][0]["content"]


def test_truncated_at_max_turns():
    env = make_env(max_turns=2)
    reward, terminated, truncated, info, _ = play(env, "t-move", ["hello", "still there?"])
    assert truncated and not terminated and reward == 0.0
    assert "reward_components" in info


# ------------------------------------------------------------------------------------------ failed calls


@pytest.mark.parametrize(("turn", "expected"), [
    (call("delete_everything"), "unknown tool 'delete_everything'"),
    ('<tool_call>{"name": "transfer", "arguments": {"from_id": </tool_call>', "not valid JSON"),
    (call("transfer", from_id="a1", to_id="a2", amount="thirty"), "argument 'amount'"),
    (call("transfer", from_id="a1", amount=10), "missing required argument 'to_id'"),
    (call("transfer", from_id="a1", to_id="a2", amount=10, memo="hi"), "unexpected argument 'memo'"),
    (call("transfer", from_id="a1", to_id="a2", amount=60), "Error: transfers are at most 50"),
    (call("transfer", from_id="a1", to_id="zz", amount=10), "KeyError"),
    (call("get_account", account_id="nobody"), "Error: account not found"),
])
def test_failed_calls_say_what_was_wrong_and_leave_the_database_unchanged(turn, expected):
    env = make_env()
    env.reset(options={"task_id": "t-move"})
    before = database_hash(env.state.data["db"])
    obs, _reward, terminated, truncated, _info = env.step(turn)
    assert expected in obs[-1]["content"]
    assert not terminated and not truncated
    assert database_hash(env.state.data["db"]) == before
    assert env.state.tool_errors + env.state.parse_errors == 1


def test_a_failed_write_then_a_good_one_scores_one():
    turns = [call("transfer", from_id="a1", to_id="a2", amount=80),
             call("transfer", from_id="a1", to_id="nobody", amount=30),
             call("transfer", from_id="a1", to_id="a2", amount=30), "Balance: 70. Goodbye"]
    reward, *_ = play(make_env(), "t-move", turns)
    assert reward == 1.0


@pytest.mark.parametrize("with_jsonschema", [True, False])
def test_argument_checker_with_and_without_jsonschema(monkeypatch, with_jsonschema):
    if not with_jsonschema:
        import builtins

        real_import = builtins.__import__

        def no_jsonschema(name, *args, **kwargs):
            if name == "jsonschema":
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_jsonschema)
    params = {"type": "object", "properties": {"n": {"type": "integer"}, "tags": {"type": "array",
              "items": {"type": "string"}}, "mode": {"type": "string", "enum": ["a", "b"]}}, "required": ["n"]}
    assert argument_errors(params, {"n": 3, "tags": ["x"], "mode": "a"}) == []
    assert argument_errors(params, {"n": 3.0}) == []
    assert argument_errors(params, {}) == ["missing required argument 'n'"]
    assert any("argument 'n'" in e for e in argument_errors(params, {"n": "3"}))
    assert any("argument 'n'" in e for e in argument_errors(params, {"n": True}))
    assert any("argument 'tags.1'" in e for e in argument_errors(params, {"n": 1, "tags": ["x", 2]}))
    assert any("argument 'mode'" in e for e in argument_errors(params, {"n": 1, "mode": "c"}))
    assert argument_errors(params, {"n": 1, "x": 0}) == ["unexpected argument 'x'"]


# ------------------------------------------------------------------------------------------ env contract


def test_check_env_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # made directly, not by gymnasium.make: the checker cannot try other render modes without a spec
        warnings.filterwarnings("ignore", message=".*alternative render modes")
        env = make_env()
        try:
            check_env(env)
        finally:
            env.close()


async def test_async_episode_and_user_usage_apart_from_the_policy():
    env = make_env()
    _messages, info = await env.areset(options={"task_id": "t-move"})
    assert info["user_usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "calls": 1}
    _, _, terminated, _, info = await env.astep("Your balance stays 100. Goodbye")
    assert terminated
    assert info["user_usage"] == {"prompt_tokens": 10, "completion_tokens": 2, "cost": 0.5, "calls": 2}
    await env.aclose()


def test_each_episode_gets_its_own_user_and_the_template_is_untouched():
    template = EchoUser()
    env_a, env_b = PolicyEnv(make_domain(), user=template), PolicyEnv(make_domain(), user=template)
    env_a.reset(options={"task_id": "t-move"})
    env_b.reset(options={"task_id": "t-balance"})
    env_a.step("to a")
    env_b.step("to b")
    assert env_a.state.data["user"].heard == ["to a"] and env_b.state.data["user"].heard == ["to b"]
    assert template.heard == [] and template.usage.calls == 0


def test_gold_hash_is_cached_per_task(monkeypatch):
    env = make_env()
    calls = []
    original = env.gold_database
    monkeypatch.setattr(env, "gold_database", lambda tid: calls.append(tid) or original(tid))
    for _ in range(3):
        play(env, "t-move", GOLD_MOVE)
    assert calls == ["t-move"]
    assert env.gold_database("t-move")["accounts"] == {"a1": {"owner": "Ann", "balance": 70},
                                                       "a2": {"owner": "Bo", "balance": 1280}}


def test_seeded_reset_samples_a_split():
    env = make_env(split="train")
    _, info = env.reset(seed=3)
    assert info["task_id"] == "t-human"


def test_bad_user_and_reserved_name():
    with pytest.raises(TypeError):
        PolicyEnv(make_domain(), user=42)
    domain = make_domain()
    domain.tools.append(PolicyTool("respond", get_account, schema("respond", {"content": "string"})))
    with pytest.raises(ValueError, match="respond"):
        PolicyEnv(domain, user=EchoUser())


# ------------------------------------------------------------------------------------------ LLMUser


class FakeModel(Agent):
    """A tiny agent playing the user: it says STOP once the agent mentions a balance; counts usage."""

    name = "fake-user-model"

    def __init__(self) -> None:
        self.seen: list[list[dict[str, Any]]] = []
        self.closed = False

    async def act(self, messages, *, tools=None, stop=None) -> AgentOutput:
        self.seen.append([dict(m) for m in messages])
        last = messages[-1]["content"]
        text = "###STOP###" if "balance" in last.lower() else "  I want to move 30 to a2.\n"
        return AgentOutput(message={"role": "assistant", "content": text}, prompt_tokens=len(messages) * 7,
                           completion_tokens=5, cost=0.001)

    async def aclose(self) -> None:
        self.closed = True


def test_llm_user_plays_the_instruction_under_tau_bench_rules():
    model = FakeModel()
    env = PolicyEnv(make_domain(), user=model)
    assert isinstance(env.user, LLMUser)
    messages, info = env.reset(options={"task_id": "t-move"})
    assert messages[1]["content"] == "I want to move 30 to a2."
    system, greeting = model.seen[0]
    assert system["role"] == "system" and system["content"] == user_system_prompt(
        "You are Ann (a1). Move 30 to a2 and ask your new balance.")
    for rule in ("one line at a time", "Never invent information", "###STOP###"):
        assert rule in system["content"]
    assert greeting == {"role": "user", "content": "Hi! How can I help you today?"}
    assert info["user_usage"] == {"prompt_tokens": 14, "completion_tokens": 5, "cost": 0.001, "calls": 1}
    env.step(call("transfer", from_id="a1", to_id="a2", amount=30))
    obs, reward, terminated, _, info = env.step("Done, your balance is 70.")
    assert terminated and reward == 1.0 and obs == [{"role": "user", "content": "###STOP###"}]
    roles = [m["role"] for m in model.seen[-1]]
    assert roles == ["system", "user", "assistant", "user"]  # the agent's lines are the user model's "user" turns
    assert model.seen[-1][-1]["content"] == "Done, your balance is 70."
    assert info["user_usage"]["calls"] == 2 and info["user_usage"]["completion_tokens"] == 10
    env.close()
    assert not model.closed  # an agent object passed in belongs to the caller


def test_user_agent_error_stops_the_run():
    class Broken(Agent):
        async def act(self, messages, *, tools=None, stop=None) -> AgentOutput:
            if len(messages) > 2:
                raise AgentError("bad key")
            return AgentOutput(message={"role": "assistant", "content": "hi"})

    env = PolicyEnv(make_domain(), user=Broken())
    env.reset(options={"task_id": "t-move"})
    with pytest.raises(AgentError):
        env.step(call("respond", content="hello"))
    env.reset(options={"task_id": "t-move"})
    with pytest.raises(AgentError):
        env.step("hello")


@pytest.mark.slow
async def test_llm_user_with_real_smollm2(smollm2_agent):
    user = LLMUser(smollm2_agent).fork()
    task = make_domain().tasks[0]
    opening = await user.start(task)
    assert isinstance(opening, str) and opening.strip()
    reply = await user.reply("Sure. What is your account id?")
    assert isinstance(reply, str)
    assert user.usage.calls == 2 and user.usage.completion_tokens > 0 and user.usage.prompt_tokens > 0
