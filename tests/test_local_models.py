"""The real SmolLM2-135M-Instruct through HFAgent and through `agentgym serve-model`."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import openai
import pytest
import torch

from agentgym.agents.token_agent import TokenAgent
from agentgym.rollout import acollect

pytestmark = pytest.mark.slow


async def test_hf_agent_tokens_decode_to_text_and_logprobs_match_forward_pass(smollm2_agent):
    trajs = await acollect("Arithmetic-v0", smollm2_agent, ["test-0", "test-1", "test-2"], concurrency=3,
                           progress=False, env_kwargs={"max_turns": 2})
    model, tok = smollm2_agent.model, smollm2_agent.tokenizer
    checked = 0
    for traj in trajs:
        assert traj.finished
        convo = list(traj.messages)
        for turn in traj.turns:
            assert turn.token_ids and len(turn.token_ids) == len(turn.logprobs) == turn.completion_tokens
            assert tok.decode(turn.token_ids, skip_special_tokens=True) == turn.assistant["content"]
            prompt = smollm2_agent.chat.prompt_ids(convo)
            ids = torch.tensor([prompt + turn.token_ids])
            with torch.no_grad():
                # log-probs of the sampling distribution (logits / temperature), as trainers score them
                logp = (model(ids).logits[0].float() / smollm2_agent.temperature).log_softmax(-1)
            ref = logp[len(prompt) - 1 : -1].gather(-1, torch.tensor(turn.token_ids)[:, None]).squeeze(-1)
            assert (ref - torch.tensor(turn.logprobs)).abs().max().item() < 1e-3
            checked += 1
            convo.append(turn.assistant)
            convo.extend(turn.observation)
    assert checked >= 3


async def test_hf_agent_stops_at_stop_string(smollm2_agent):
    # greedy, so the result does not depend on how many samples other tests drew from the shared agent
    greedy = TokenAgent(smollm2_agent.generator, smollm2_agent.tokenizer, replace(smollm2_agent.params, temperature=0.0),
                        context_window=smollm2_agent.context_window)
    out = await greedy.act([{"role": "user", "content": "Write the word apple ten times, separated by commas."}],
                           stop=["apple"])
    assert out.finish_reason == "stop" and out.message["content"].count("apple") <= 1


def _eval(base_url: str, agent: str, out_dir, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agentgym.cli", "eval", "Arithmetic-v0", "--agent", agent, "--base-url", base_url,
         "--episodes", "3", "--concurrency", "3", "--max-tokens", "40", "--out", str(out_dir), "--no-progress", *extra],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OPENAI_API_KEY": "unused"},
    )


@pytest.mark.parametrize("agent", ["openai:smollm2", "litellm:openai/smollm2"])
def test_eval_through_served_model(model_server, tmp_path, agent):
    res = _eval(model_server, agent, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "success rate" in res.stdout
    trajs = [json.loads(x) for x in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert len(trajs) == 3
    for t in trajs:
        first = t["turns"][0]
        assert first["assistant"]["content"]  # the model's real text
        assert first["completion_tokens"] > 0 and first["prompt_tokens"] > 100
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 3 and summary["completion_tokens"] > 0


def test_eval_native_tools_through_server(model_server, tmp_path):
    res = _eval(model_server, "openai:smollm2", tmp_path, "--env-arg", "protocol=native", "--logprobs")
    assert res.returncode == 0, res.stderr
    trajs = [json.loads(x) for x in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert all(t["turns"][0]["logprobs"] for t in trajs)


def test_server_speaks_openai(model_server):
    client = openai.OpenAI(base_url=model_server, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["smollm2"]
    tools = [{"type": "function", "function": {"name": "calculator", "description": "Evaluate arithmetic.",
              "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}]
    messages = [
        {"role": "user", "content": "What is 17*23?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": '{"expression": "17*23"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "391"},
    ]
    r = client.chat.completions.create(model="smollm2", messages=messages, tools=tools, max_tokens=24, logprobs=True,
                                       temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    assert len(choice.logprobs.content) == r.usage.completion_tokens > 0
    assert all(t.logprob <= 0 for t in choice.logprobs.content)
    r2 = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Count: one, two, three, four"}],
                                        max_tokens=30, stop=["three"], temperature=0)
    assert "three" not in (r2.choices[0].message.content or "")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="smollm2", messages=[])


def test_cli_unknown_model_on_server_is_one_line(model_server):
    res = subprocess.run([sys.executable, "-m", "agentgym.cli", "eval", "Arithmetic-v0", "--agent", "openai:nope",
                          "--base-url", model_server, "--episodes", "1"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "not served" in res.stderr and "Traceback" not in res.stderr
