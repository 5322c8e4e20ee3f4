import asyncio
import time
from typing import Annotated

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agentgym
from agentgym import EpisodeState, Injected, LanguageEnv, RewardFunc, Rubric, Task, TaskDataset, tool


@tool(offload=False)
def answer(answer: str, state: Annotated[EpisodeState, Injected]) -> str:
    """Submit."""
    state.submit(answer)
    return "submitted"


@tool(timeout=5)
async def nap(seconds: float) -> str:
    """Sleep then reply."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@tool(timeout=5, concurrent=False)
async def exclusive_nap(seconds: float) -> str:
    """Sleep, alone."""
    await asyncio.sleep(seconds)
    return "done"


@tool(timeout=0.2)
async def hang() -> str:
    """Never returns in time."""
    await asyncio.sleep(10)
    return "late"


@tool
def explode(x: int) -> str:
    """Raises."""
    raise RuntimeError(f"boom {x}")


def exact(state: EpisodeState) -> float:
    return float(state.answer == state.task.answer)


def broken_metric(state: EpisodeState) -> float:
    raise ZeroDivisionError("bad grader")


def make_env(**kw) -> LanguageEnv:
    tasks = TaskDataset([Task(id=f"t{i}", prompt=f"say {i}", answer=str(i), split="test") for i in range(5)])
    rubric = Rubric([RewardFunc(exact, 1.0), RewardFunc(broken_metric, 0.0)])
    return LanguageEnv(tasks, [answer, nap, exclusive_nap, hang, explode], rubric, **kw)


def call(name: str, **args) -> str:
    import json

    return f'<tool_call>{{"name": "{name}", "arguments": {json.dumps(args)}}}</tool_call>'


def test_reset_by_task_id_and_seed_reproducible():
    env = make_env()
    obs, info = env.reset(options={"task_id": "t3"})
    assert obs[-1] == {"role": "user", "content": "say 3"}
    assert info["task_id"] == "t3" and {t["function"]["name"] for t in info["tools"]} >= {"answer", "nap"}
    a = [env.reset(seed=s)[1]["task_id"] for s in range(10)]
    b = [env.reset(seed=s)[1]["task_id"] for s in range(10)]
    assert a == b and len(set(a)) > 1
    with pytest.raises(KeyError):
        env.reset(options={"task_id": "missing"})


def test_success_reward_and_zero_weight_metric_logged():
    env = make_env()
    env.reset(options={"task_id": "t2"})
    _obs, reward, term, trunc, info = env.step(call("answer", answer="2"))
    assert (reward, term, trunc, info["success"]) == (1.0, True, False, True)
    assert info["reward_components"]["exact"] == 1.0
    assert "ZeroDivisionError" in info["reward_components"]["broken_metric_error"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step("again")



def test_reward_weights_shape_the_reward_but_not_success():
    env = agentgym.make("Arithmetic-v0", difficulty=1, reward_weights={"used_calculator": 0.1})
    _, info = env.reset(options={"task_id": "test-0"})
    env.step(call("calculator", expression="2 + 2"))
    _obs, reward, term, _trunc, info = env.step(call("answer", answer="-123456"))  # wrong on purpose
    assert term and reward == pytest.approx(0.1) and not info["success"]
    assert agentgym.make("Arithmetic-v0", difficulty=1).rubric.funcs[1].weight == 0.0  # others keep theirs
    with pytest.raises(ValueError, match=r"unknown reward terms.*used_calculator"):
        agentgym.make("Arithmetic-v0", reward_weights={"use_calculator": 0.1})
    with pytest.raises(ValueError, match="finite"):
        agentgym.make("Arithmetic-v0", reward_weights={"used_calculator": float("nan")})

def test_failures_become_observations():
    env = make_env()
    env.reset(options={"task_id": "t0"})
    obs, reward, term, trunc, _info = env.step(
        call("nope") + call("explode", x=7) + call("nap") + call("hang") + "<tool_call>{broken</tool_call>"
    )
    text = "\n".join(m["content"] for m in obs)
    assert "unknown tool 'nope'" in text
    assert "RuntimeError: boom 7" in text
    assert "missing required argument 'seconds'" in text
    assert "timed out after 0.2 s" in text
    assert "not valid JSON" in text
    assert not term and not trunc and reward == 0.0
    assert env.state.tool_errors == 4 and env.state.parse_errors == 1


def test_concurrent_tools_overlap_and_exclusive_ones_do_not():
    env = make_env()
    env.reset(options={"task_id": "t0"})
    t0 = time.perf_counter()
    env.step(call("nap", seconds=0.3) + call("nap", seconds=0.3) + call("nap", seconds=0.3))
    assert time.perf_counter() - t0 < 0.6
    t0 = time.perf_counter()
    obs, *_ = env.step(call("exclusive_nap", seconds=0.2) + call("exclusive_nap", seconds=0.2))
    assert time.perf_counter() - t0 >= 0.4
    assert obs[0]["content"].count("done") == 2


def test_truncation_at_max_turns_scores_rubric():
    env = make_env(max_turns=2, on_no_tool_call="remind")
    env.reset(options={"task_id": "t1"})
    obs, r, term, trunc, info = env.step("no tools here")
    assert "No tool call" in obs[0]["content"] and not trunc
    obs, r, term, trunc, info = env.step("still none")
    assert trunc and not term and r == 0.0 and info["success"] is False


def test_plain_reply_is_final_answer_by_default():
    env = make_env()
    env.reset(options={"task_id": "t4"})
    _, r, term, _, info = env.step("4")
    assert term and r == 1.0 and info["answer"] == "4"


def test_native_protocol_with_dict_actions():
    env = make_env(protocol="native")
    env.reset(options={"task_id": "t1"})
    action = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "x1", "type": "function", "function": {"name": "nap", "arguments": '{"seconds": 0}'}},
        {"id": "x2", "type": "function", "function": {"name": "answer", "arguments": '{"answer": "1"}'}}]}
    obs, r, term, _, _ = env.step(action)
    assert [m["tool_call_id"] for m in obs] == ["x1", "x2"] and term and r == 1.0


def test_max_calls_per_turn():
    env = make_env(max_calls_per_turn=1)
    env.reset(options={"task_id": "t0"})
    obs, *_ = env.step(call("nap", seconds=0) + call("nap", seconds=0))
    assert "at most 1 tool call" in obs[0]["content"]


async def test_async_twins_run_many_envs_on_one_loop():
    envs = [make_env() for _ in range(20)]
    await asyncio.gather(*(e.areset(options={"task_id": "t1"}) for e in envs))
    t0 = time.perf_counter()
    results = await asyncio.gather(*(e.astep(call("nap", seconds=0.2)) for e in envs))
    assert time.perf_counter() - t0 < 1.0
    assert all("slept 0.2" in r[0][0]["content"] for r in results)


def test_vector_env_next_step_autoreset():
    vec = agentgym.make_vec("Arithmetic-v0", 3)
    obs, infos = vec.reset(seed=0)
    assert len(obs) == 3 and len(infos) == 3
    obs, rew, term, trunc, infos = vec.step(["<tool_call>{\"name\": \"answer\", \"arguments\": {\"answer\": \"0\"}}</tool_call>"] * 3)
    assert term.all() and not trunc.any() and rew.shape == (3,)
    obs, rew, term, _trunc, infos = vec.step(["x"] * 3)
    assert not term.any() and all("task_id" in i for i in infos)  # these were resets
    vec.close()


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=20), st.floats(),
                                                       st.lists(st.integers(), max_size=3)), max_size=4),
       st.sampled_from(["answer", "nap", "explode", "exclusive_nap", "nothing"]))
def test_arbitrary_arguments_to_any_tool_never_raise(args, name):
    import json

    env = make_env(max_turns=50)
    env.reset(options={"task_id": "t0"})
    if name in ("nap", "exclusive_nap") and isinstance(args.get("seconds"), (int, float)):
        args["seconds"] = 0
    obs, r, _term, _trunc, _info = env.step(
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "1", "function": {"name": name, "arguments": json.dumps(args)}}]})
    assert isinstance(obs, list) and isinstance(r, float)
    env.close()


def test_generated_tasks_disjoint_splits_and_stable_ids():
    env = agentgym.make("Arithmetic-v0", difficulty=3)
    t_test = env.tasks.get("test-5")
    assert env.tasks.get("test-5").prompt == t_test.prompt
    assert t_test.prompt != env.tasks.get("train-5").prompt
    rng = np.random.default_rng(0)
    assert env.tasks.sample(rng, "train").id.startswith("train-")


def test_step_reward_receives_the_tool_outputs_of_the_step():
    seen: list[list[tuple[str, bool, str | None]]] = []

    class PerCallReward(LanguageEnv):
        def step_reward(self, state, outputs):
            seen.append([(o.call.name, o.is_error, o.error_kind) for o in outputs])
            return 0.1 * sum(not o.is_error for o in outputs) - 0.5 * sum(o.is_error for o in outputs)

    base = make_env()
    env = PerCallReward(base.tasks, base.tools, base.rubric)
    env.reset(options={"task_id": "t1"})
    _, reward, done, _, _ = env.step(call("nap", seconds=0) + call("explode", x=3))
    assert not done and reward == pytest.approx(0.1 - 0.5)
    assert [name for name, _, _ in seen[-1]] == ["nap", "explode"]
    assert seen[-1][1][1] is True  # the failing call arrives as an error output
    _, reward, done, _, _ = env.step(call("nap", seconds=0))
    assert not done and seen[-1] == [("nap", False, None)] and reward == pytest.approx(0.1)
