"""TAPO's tag protocol on the tool envs: the block scanner, turn checks, the tool-turn budget with its
final tools-disabled turn, stop strings (kept or stripped), the response a reward sees, and the env
contract (check_env, async)."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import numpy as np
import pytest
from agentgym.envs.code import MathPythonEnv
from agentgym.envs.search import MultiHopQAEnv, oracle_policy
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.protocols import TAPOProtocol, get_protocol, scan_blocks, well_formed_response
from agentgym.wrappers import TAPOWrapper

GSM8K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k" / "train.jsonl"


def math_env(**kwargs) -> TAPOWrapper:
    data = {"data_path": GSM8K} if GSM8K.exists() else {}
    return TAPOWrapper(MathPythonEnv, **data, **kwargs)


def first_math_task(env: TAPOWrapper) -> tuple[str, str]:
    """(task id, gold) of a task whose gold we compute in code below: GSM8K train-0 (72) or a generated one."""
    tid = env.tasks.ids()[0]
    return tid, str(env.tasks.get(tid).answer)


@pytest.fixture(scope="module")
def qa_env():
    env = TAPOWrapper(MultiHopQAEnv, hops=(1, 2, 3), n_docs=800, open_tool=False)
    yield env
    env.close()


# ---------------------------------------------------------------------------- the scanner and the protocol


def test_scanner_keeps_tags_inside_blocks_and_treats_stray_openers_as_text():
    scan = scan_blocks("<think>I will use <search> next; a < b</think>\n<search>capital of France</search>")
    assert [b.tag for b in scan.blocks] == ["think", "search"]
    assert scan.blocks[0].body == "I will use <search> next; a < b"
    assert not scan.stray and not scan.unclosed
    # an opener without a closer is plain text, unless the tag may be cut by a stop string
    scan = scan_blocks("List<int> is a type <search>query", unclosed_ok={"search"})
    assert scan.unclosed == ["int"] and scan.stray == ["List<int> is a type"]
    assert scan.blocks[-1].tag == "search" and not scan.blocks[-1].closed and scan.blocks[-1].body == "query"
    assert scan.blocks[-1].text == "<search>query</search>"
    assert scan_blocks("<search>query").blocks == []


def test_tapo_turn_checks():
    p = TAPOProtocol(max_tool_turns=2)
    ok = p.check("<think>plan</think>\n<search>x</search>", turn=1)
    assert ok.valid and ok.well_formed and ok.action.tag == "search"
    # several think blocks, no think at all, and an answer are all fine
    assert p.check("<think>a</think><think>b</think><code>1</code>", 1).well_formed
    assert p.check("<answer>42</answer>", 1).well_formed
    # executed but ill-formed: text outside tags, a second action, a foreign tag before the action
    for text in ("Let me search. <search>x</search>", "<search>x</search><answer>y</answer>",
                 "<plan>p</plan><search>x</search>", "<think>then <answer> it</think><search>x</search>",
                 "<search>what is <code></search>"):
        check = p.check(text, 1)
        assert check.valid and check.action.tag == "search" and not check.well_formed and check.problems
    # invalid: no tag, an unknown tag, an unclosed think, an action only inside think
    for text, why in (("just text", "no action tag"), ("<python>1+1</python>", "<python> is not a valid tag"),
                      ("<think>hmm", "<think> block is not closed"),
                      ("<think><search>x</search></think>", "inside another block")):
        check = p.check(text, 1)
        assert not check.valid and why in check.errors[0]
        assert "<search>, <code> or <answer>" in check.errors[0]  # the valid tags are explained
    # from turn max_tool_turns + 1 on, tools are disabled
    final = p.check("<search>x</search>", turn=3)
    assert not final.valid and "disabled" in final.errors[0] and "<answer>" in final.errors[0]
    assert p.check("<answer>x</answer>", turn=3).well_formed
    assert get_protocol("tapo").name == "tapo"


def test_well_formed_response():
    good = ("<think>a</think>\n<search>q</search>\n<response>r</response>\n<code>1</code>\n"
            "<response>1</response>\n<think>b</think><answer>x</answer>")
    assert well_formed_response(good)
    assert well_formed_response("<answer>x</answer>")
    for bad in ("", "<think>a</think>", "<search>q</search><response>r</response>",  # never answers
                "<search>q</search><answer>x</answer>",  # tool without result
                "oops <answer>x</answer>", "<answer>x</answer><think>late</think>",
                "<answer>x</answer><answer>y</answer>", "<python>1</python><answer>x</answer>",
                "<response>r</response><answer>x</answer>",
                "<think><search>q</search><response>r</response></think><answer>x</answer>",  # nested
                "<think>a<think>b</think></think><answer>x</answer>", "<think>a</search><answer>x</answer>",
                "<Answer>x</Answer>", '<answer id="1">x</answer>',
                "<code>1</code><response>1</response><response>2</response><answer>1</answer>"):
        assert not well_formed_response(bad), bad
    assert well_formed_response("<think>a < b; <b>bold</b> is text</think>\n<answer></answer>\n")
    assert not well_formed_response("<code>1</code><response>1</response><answer>x</answer>", tool_tags=("search",))


def test_format_verdict_agrees_with_the_trainer_reward():
    """The env's `format_ok` and the TAPO reward's format rule (agentgym.trainers) judge alike."""
    from agentgym.trainers.algorithms import is_well_formed

    env = math_env(max_tool_turns=2)
    tid, gold = first_math_task(env)
    scripts = [
        ["<think>a</think><code>print(1)</code>", f"<answer>{gold}</answer>"],
        ["<code>print('<answer>')</code>", f"<answer>{gold}</answer>"],  # a marker in the tool output
        ["<think>then <code></think><code>1</code>", "<answer>1</answer>"],
        ["So <answer>1</answer>"],
        ["<code>1", "<code>2", "<answer>3"],  # stop strings stripped by the engine
        ["<code>1</code>", "<code>2</code>", "<code>3</code>"],  # never answers
    ]
    for script in scripts:
        env.reset(options={"task_id": tid})
        for action in script:
            *_, term, trunc, info = env.step(action)
            if term or trunc:
                break
        assert info["format"].ok == is_well_formed(info["format"].response, tools=("code",)), script
    env.close()


# ---------------------------------------------------------------------------- MathPython with <code>


def test_math_episode_with_code_then_answer():
    env = math_env()
    tid, gold = first_math_task(env)
    obs, info = env.reset(options={"task_id": tid})
    system = obs[0]["content"]
    assert "<think>" in system and "<code>" in system and "<response>" in system and "<answer>" in system
    assert "at most 4 turns" in system and "<search>" not in system
    assert info["stop"] == ["</code>", "</answer>"] and info["protocol"] == "tapo"
    assert info["max_tool_turns"] == 4 and info["task"].gold_answers == (gold,) and info["tools_enabled"]
    obs, reward, term, trunc, info = env.step(f"<think>compute</think>\n<code>print({gold})</code>")
    assert obs == [{"role": "user", "content": f"<response>{gold}</response>"}]
    assert (reward, term, trunc) == (0.0, False, False)
    assert info["turn_well_formed"] and info["tool_turns"] == 1 and info["num_tool_calls"] == 1
    obs, reward, term, trunc, info = env.step(f"<think>done</think><answer>{gold}</answer>")
    assert term and not trunc and reward == 1.0 and obs == []  # no "submitted" echo after the answer
    assert info["format"].ok and info["success"] and info["answer"] == gold and info["env_reward"] == 1.0
    assert info["format"].response == (f"<think>compute</think>\n<code>print({gold})</code>\n<response>{gold}</response>\n"
                                f"<think>done</think><answer>{gold}</answer>")
    assert well_formed_response(info["format"].response)
    assert info["turn_texts"] == [f"<think>compute</think>\n<code>print({gold})</code>",
                                  f"<think>done</think><answer>{gold}</answer>"]
    env.close()


def test_engine_that_strips_the_stop_string():
    env = math_env()
    tid, _gold = first_math_task(env)
    env.reset(options={"task_id": tid})
    obs, _, _, _, info = env.step("<think>t</think><code>print(6 * 7)")  # `</code>` stripped by the engine
    assert obs[0]["content"] == "<response>42</response>"
    assert info["turn_text"] == "<think>t</think><code>print(6 * 7)</code>" and info["turn_well_formed"]
    *_, info = env.step("<answer>nope")
    assert info["turn_texts"][-1] == "<answer>nope</answer>" and info["format"].ok
    env.close()


def test_invalid_turns_tool_limit_and_final_turn_without_tools():
    env = math_env(max_tool_turns=2)
    tid, _gold = first_math_task(env)
    env.reset(options={"task_id": tid})
    obs, reward, term, trunc, info = env.step("I think the answer is easy.")
    assert not (term or trunc) and reward == 0.0
    text = obs[0]["content"]
    assert "no action tag" in text and "<code> or <answer>" in text and info["tools_enabled"]
    assert info["tool_turns"] == 0 and not info["turn_well_formed"] and info["format_problems"]
    # turn 2 is the last tool turn: its observation carries the tool output and the notice
    obs, reward, term, trunc, info = env.step("<code>x = 5\nprint(x * 2)</code>")
    assert obs[0]["content"].startswith("<response>10</response>")
    assert "tools are now disabled" in obs[0]["content"] and "<answer>" in obs[0]["content"]
    assert not info["tools_enabled"] and info["tool_turns"] == 1  # turn 1 was invalid
    assert env.state.messages[-1]["content"] == obs[0]["content"]  # the notice is in the episode record too
    # turn 3, the final one: a tool tag is not executed and the episode ends
    obs, reward, term, trunc, info = env.step("<code>print(x)</code>")
    assert trunc and not term and "not run" in obs[0]["content"]
    assert env.state.tool_counts == {"python": 1}
    assert reward == -1.0 and not info["format"].ok and info["env_reward"] == 0.0 and info["answer"] is None
    assert not well_formed_response(info["format"].response)
    env.close()


def test_answer_in_the_final_turn_after_all_tool_turns():
    env = math_env(max_tool_turns=2)
    tid, gold = first_math_task(env)
    env.reset(options={"task_id": tid})
    for code in ("a = 1", "print(a)"):
        env.step(f"<code>{code}</code>")
    _, reward, term, _, info = env.step(f"<answer>{gold}</answer>")
    assert term and reward == 1.0 and info["format"].ok and info["tool_turns"] == 2
    assert well_formed_response(info["format"].response)
    env.close()


def test_ill_formed_turns_cost_the_format_penalty_unless_disabled():
    for penalty, expect in ((-1.0, -1.0), (None, 1.0), (-0.5, -0.5)):
        env = math_env(format_penalty=penalty)
        tid, gold = first_math_task(env)
        env.reset(options={"task_id": tid})
        _, _, _, _, info = env.step("Let me compute. <code>print(1)</code>")  # runs, but text outside tags
        assert info["tool_turns"] == 1 and not info["turn_well_formed"]
        _, reward, term, _, info = env.step(f"<answer>{gold}</answer>")
        assert term and reward == expect and info["env_reward"] == 1.0 and not info["format"].ok
        env.close()


def test_zero_tool_turns_means_answer_at_once():
    env = math_env(max_tool_turns=0)
    tid, gold = first_math_task(env)
    obs, info = env.reset(options={"task_id": tid})
    assert "tools are now disabled" in obs[-1]["content"] and not info["tools_enabled"]
    _, reward, term, trunc, _ = env.step("<code>print(1)</code>")
    assert trunc and reward == -1.0
    env.reset(options={"task_id": tid})
    _, reward, term, _, _ = env.step(f"<answer>{gold}</answer>")
    assert term and reward == 1.0
    env.close()


# ---------------------------------------------------------------------------- MultiHopQA with <search>


def run(env, policy, task_id: str):
    obs, info = env.reset(options={"task_id": task_id})
    messages = list(obs)
    while True:
        action = policy(messages)
        messages.append({"role": "assistant", "content": action})
        obs, reward, term, trunc, info = env.step(action)
        messages.extend(obs)
        if term or trunc:
            return reward, info


def test_search_oracle_scores_with_a_well_formed_response(qa_env):
    _, info = qa_env.reset(options={"task_id": "test-0"})
    assert info["stop"] == ["</search>", "</answer>"] and info["task"].gold_answers
    oracle = oracle_policy(qa_env)
    rewards = []
    for i in range(12):
        reward, info = run(qa_env, lambda m: f"<think>next hop</think>\n{oracle(m)}", f"test-{i}")
        rewards.append(reward)
        assert info["format"].ok and well_formed_response(info["format"].response)
        assert info["tool_turns"] == qa_env.state.task.metadata["hops"] == info["searches"]
        assert "<response>Doc 1 [id:" in info["format"].response
    assert np.mean(rewards) >= 0.9


def test_open_is_not_a_tapo_tag_and_other_tools_map_by_tags():
    env = TAPOWrapper(MultiHopQAEnv, n_docs=300)  # the env has `open`; TAPO has no tag for it
    _, info = env.reset(options={"task_id": "test-1"})
    assert "</open>" not in info["stop"]
    obs, *_ = env.step("<open>kb-000001</open>")
    assert "<open> is not a valid tag" in obs[0]["content"]
    env.close()
    calc = TAPOWrapper("Arithmetic-v0", tags={"calc": "calculator", "answer": "answer"})
    obs, info = calc.reset(seed=0)
    assert info["stop"] == ["</calc>", "</answer>"] and "<calc>expression</calc>" in obs[0]["content"]
    obs, *_ = calc.step("<calc>6 * 7</calc>")
    assert obs[0]["content"] == "<response>42</response>"
    calc.close()
    with pytest.raises(ValueError, match="none of the tools"):
        TAPOWrapper("Arithmetic-v0")


def test_wrappers_never_change_the_env_they_wrap():
    inner = MultiHopQAEnv(hops=1, n_docs=300, open_tool=False)
    protocol, turns = inner.protocol, inner.max_turns
    with pytest.raises(ValueError, match="Pass its id or class instead"):
        TAPOWrapper(inner)
    assert inner.protocol is protocol and inner.max_turns == turns
    built = MultiHopQAEnv(hops=1, n_docs=300, open_tool=False, protocol=TAPOProtocol(2), max_turns=3)
    env = TAPOWrapper(built)  # built with TAPO's protocol: wrapped as is, its tool-turn budget read from it
    assert env.unwrapped is built and env.max_tool_turns == 2 and env.tapo is built.protocol
    with pytest.raises(TypeError, match="env keyword arguments"):
        TAPOWrapper(built, n_docs=10)
    made = agentgym.make("TAPO-MultiHopQA-v0", max_tool_turns=3)
    assert isinstance(made, TAPOWrapper) and made.spec.id == "agentgym/TAPO-MultiHopQA-v0"
    assert made.unwrapped.max_turns == 4 and isinstance(made.unwrapped.protocol, TAPOProtocol)
    for wrapped in (env, made):
        wrapped.close()


# ---------------------------------------------------------------------------- env contract


@pytest.mark.parametrize("env_id", ["agentgym/TAPO-MathPython-v0", "agentgym/TAPO-MultiHopQA-v0"])
def test_registered_and_checked(env_id):
    assert env_id in agentgym.list_envs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")  # a wrapper, by design
        env = agentgym.make(env_id, max_tool_turns=2)
        assert isinstance(env, TAPOWrapper) and env.spec.id == env_id and env.env.max_turns == 3
        check_env(env)
        env.close()


def test_async_episodes_run_concurrently(qa_env):
    envs = [TAPOWrapper(MultiHopQAEnv, hops=1, n_docs=800, open_tool=False) for _ in range(4)]

    async def episode(env, i):
        _, info = await env.areset(options={"task_id": f"test-{i}"})
        await env.astep("<search>anything</search>")
        _, reward, term, _, info = await env.astep(f"<answer>{info['task'].gold_answers[0]}</answer>")
        return reward, term, info["format"].ok

    async def main():
        return await asyncio.gather(*(episode(e, i) for i, e in enumerate(envs)))

    assert asyncio.run(main()) == [(1.0, True, True)] * 4
    for e in envs:
        e.close()


# ---------------------------------------------------------------------------- both tools: MathSearch


def test_mixed_task_dataset():
    from agentgym.tasks import GeneratedTaskDataset, MixedTaskDataset, Task, TaskDataset

    fixed = TaskDataset([Task(f"t{i}", f"p{i}", str(i), "train") for i in range(3)])
    gen = GeneratedTaskDataset(lambda rng, tid, split: Task(tid, "q", "a", split), {"train": 5, "test": 2})
    mix = MixedTaskDataset({"a": fixed, "b": gen})
    assert mix.ids("train")[:4] == ["a/t0", "b/train-0", "a/t1", "b/train-1"] and mix.size("train") == 8
    assert mix.ids("test") == ["b/test-0", "b/test-1"] and mix.splits == ["test", "train"]
    task = mix.get("a/t2")
    assert (task.id, task.prompt, task.metadata["source"]) == ("a/t2", "p2", "a") and mix.get("a/t2") is task
    assert fixed.get("t2").id == "t2"  # the source's task is not changed
    rng = np.random.default_rng(0)
    assert {mix.sample(rng, "test").metadata["source"] for _ in range(20)} == {"b"}
    assert {mix.sample(rng, "train").metadata["source"] for _ in range(40)} == {"a", "b"}
    only_b = MixedTaskDataset({"a": fixed, "b": gen}, weights={"a": 0})
    assert {only_b.sample(rng, "train").metadata["source"] for _ in range(20)} == {"b"}
    for bad in ("t1", "c/t1", "a/nope"):
        with pytest.raises(KeyError):
            mix.get(bad)


def test_math_search_env_uses_the_right_tool_for_each_task():
    env = agentgym.make("agentgym/TAPO-MathSearch-v0", n_docs=800)
    math_id = next(i for i in env.tasks.ids("train") if i.startswith("math/"))
    obs, info = env.reset(options={"task_id": math_id})
    assert info["stop"] == ["</search>", "</code>", "</answer>"] and info["task"].kind == "math"
    assert "<search>" in obs[0]["content"] and "<code>" in obs[0]["content"]
    gold = info["task"].gold_answers[0]
    obs, *_ = env.step(f"<think>compute</think><code>print({gold})</code>")
    assert obs[0]["content"] == f"<response>{gold}</response>"
    _, reward, term, _, info = env.step(f"<answer>{gold}</answer>")
    assert term and reward == 1.0 and info["format"].ok
    assert info["reward_components"]["used_python"] == 1.0 and info["reward_components"]["used_search"] == 0.0
    # a one-hop question: search the subject's document, then answer
    qa_id = next(i for i in env.tasks.ids("train") if i.startswith("qa/") and env.tasks.get(i).metadata["hops"] == 1)
    obs, info = env.reset(options={"task_id": qa_id})
    assert info["task"].kind == "fact"
    title = env.state.task.metadata["gold_titles"][0]
    obs, *_ = env.step(f"<search>{title}</search>")
    assert obs[0]["content"].startswith("<response>Doc 1 [id:")
    _, reward, term, _, info = env.step(f"<answer>{info['task'].gold_answers[0]}</answer>")
    assert term and reward == 1.0 and info["format"].ok and info["reward_components"]["used_search"] == 1.0
    env.close()
