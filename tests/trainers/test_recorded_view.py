"""The trainer's token view is what the engine was prompted with, id for id: for every registered env and
protocol, and for a context-resetting wrapper, each generated turn's context in the view equals the prompt
the engine received for it; GRPO on a context-resetting env trains only on sequences the policy saw."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import torch
from _tiny_rl import smollm2_tokenizer, tiny_model
from agentgym.trainers import (
    GRPOConfig,
    GRPOTrainer,
    RolloutEngine,
    build_batch,
    run_groups,
    trajectory_views,
)

import agentgym
from agentgym.models.generation import Generation, RowControl, SamplingParams
from agentgym.tasks import select_tasks
from agentgym.trajectory import Trajectory

WRAPPED = ("agentgym/EAPO-MultiHopQA-v0", "agentgym/TAPO-MathPython-v0", "agentgym/TAPO-MathSearch-v0",
           "agentgym/TAPO-MultiHopQA-v0")
CASES = [(env_id, None) for env_id in WRAPPED] + [
    (env_id, protocol) for env_id in agentgym.list_envs() if env_id not in WRAPPED
    # browser-driven task ids (MiniWoB++, BrowserGym: ~260 variants of two env classes) are left out here
    and not env_id.startswith(("agentgym/miniwob.", "agentgym/browsergym.", "agentgym/BrowserGym-v0"))
    for protocol in ("hermes", "tags", "native")
]


class RecordingEngine(RolloutEngine):
    """Records every prompt it is given; answers with a scripted action that exercises tool results and
    parse errors (a Hermes call to an unknown tool, a tag action, plain text), ending every other turn with
    the end-of-turn token as a real model would."""

    run_in_thread = False

    def __init__(self, tokenizer, first_action: str = '<tool_call>{"name": "nope", "arguments": {}}</tool_call>') -> None:
        super().__init__(tokenizer)
        self.prompts: list[list[int]] = []
        self.first_action = first_action

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        out = []
        for p in prompts:
            self.prompts.append(list(p))
            n = len(self.prompts)
            turn = self.tokenizer.decode(p).count("<|im_start|>assistant")  # 1 on an episode's first turn
            text = [self.first_action, "<python>print(6 * 7)</python>", "<search>who founded it</search>",
                    "I think the answer is 42."][(turn - 1) % 4]
            ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])[: params.max_new_tokens]
            if n % 2 and len(ids) < params.max_new_tokens:
                ids.append(self.tokenizer.eos_token_id)
            out.append(Generation(ids, [-0.5] * len(ids), self.tokenizer.decode(ids, skip_special_tokens=True),
                                  "stop", list(p)))
        return out


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def _check_view_is_what_was_prompted(trajs: list[Trajectory], prompts: list[list[int]]) -> int:
    """Episodes ran one at a time, so the engine's prompts are their turns in order."""
    turns = [t for traj in trajs for t in traj.turns]
    assert len(turns) == len(prompts)
    i = 0
    for traj in trajs:
        views = trajectory_views(traj)
        assert len(views) == len(traj.contexts())
        for view, context in zip(views, traj.contexts(), strict=True):
            for k, turn in enumerate(context):
                start = view.turn_index.index(k) if turn.token_ids else None
                prompted = prompts[i]
                i += 1
                if start is not None:  # the view up to this turn's first generated token is the prompt
                    assert view.input_ids[:start] == prompted
                    assert view.input_ids[start:start + len(turn.token_ids)] == turn.token_ids
                assert turn.prompt_tokens == len(prompted)
    return i


@pytest.mark.parametrize(("env_id", "protocol"), CASES, ids=[f"{e.split('/')[1]}-{p or 'default'}" for e, p in CASES])
def test_view_of_every_turn_is_the_engine_prompt(tok, env_id: str, protocol: str | None) -> None:
    kwargs = {"protocol": protocol} if protocol else {}
    first = agentgym.make(env_id, **kwargs)
    inner = first.unwrapped
    if protocol == "tags":  # a tag action with the env's first tool, whatever it does with the argument
        tool = next(t.name for t in inner.tools if t.name not in ("answer", "submit"))
        engine = RecordingEngine(tok, f"<{tool}>1 + 1</{tool}>")
    else:
        engine = RecordingEngine(tok)
    task_ids = select_tasks(inner.tasks, inner.split, 2)
    groups = asyncio.run(run_groups(lambda: agentgym.make(env_id, **kwargs), engine, task_ids, 1,
                                    SamplingParams(64, 1.0), concurrency=1, envs=[first]))
    trajs = [t for g in groups for t in g]
    assert trajs and all(t.error is None for t in trajs), [t.error for t in trajs]
    assert _check_view_is_what_was_prompted(trajs, engine.prompts) == len(engine.prompts)
    assert any(t.num_turns > 1 for t in trajs)  # observations and template deltas were exercised


def test_grpo_on_a_context_resetting_env_trains_on_what_the_policy_saw(tok) -> None:
    """A few GRPO steps on EAPO-MultiHopQA-v0: every training row is a prompt the policy was given plus the
    tokens it generated there, and an episode's rounds share its advantage."""
    torch.manual_seed(0)
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 4096
    seen: list[list[int]] = []
    rows: list[list[int]] = []

    class Seeing(GRPOTrainer):
        def build_batch(self, trajectories):
            batch = super().build_batch(trajectories)
            for i in range(len(batch)):
                rows.append(batch.input_ids[i, : int(batch.attention_mask[i].sum())].tolist())
            return batch

    from agentgym.trainers import HFEngine

    class SeeingEngine(HFEngine):
        def generate_batch(self, prompts, params, controls=None):
            out = super().generate_batch(prompts, params, controls)
            seen.extend(list(p) + g.token_ids for p, g in zip(prompts, out, strict=True))
            return out

    cfg = GRPOConfig(steps=2, group_size=2, tasks_per_step=2, max_new_tokens=12, max_length=4096,
                     micro_batch_size=8, learning_rate=1e-4, log_every=0, report_to=[])
    trainer = Seeing(model, "EAPO-MultiHopQA-v0", cfg, tokenizer=tok, engine=SeeingEngine(model, tok, seed=0))
    trainer.train()
    assert rows and len(rows) >= 2 * 2 * 2  # at least one row per round, several rounds per episode
    for row in rows:
        assert row in seen, "a training row is not a sequence the policy was prompted with"
    # rounds of one episode share the episode's advantage
    groups = asyncio.run(trainer.rollout(["train-0"]))
    batch = trainer.build_batch(groups[0])
    adv, _ = trainer.compute_advantages(batch)
    per_row = [float(adv[i][batch.loss_mask[i].bool()].mean()) if batch.loss_mask[i].any() else None
               for i in range(len(batch))]
    for e in batch.episode_index.unique().tolist():
        values = {round(v, 5) for v, ep in zip(per_row, batch.episode_index.tolist(), strict=True)
                  if ep == e and v is not None}
        assert len(values) <= 1


def test_build_batch_rows_follow_contexts(tok) -> None:
    engine = RecordingEngine(tok)
    groups = asyncio.run(run_groups(lambda: agentgym.make("EAPO-MultiHopQA-v0"), engine, ["train-0"], 2,
                                    SamplingParams(64, 1.0), concurrency=1))
    trajs = [t for g in groups for t in g]
    batch = build_batch(trajs, tok)
    assert len(batch) == sum(len(t.contexts()) for t in trajs)
    assert batch.episode_index.tolist() == [e for e, t in enumerate(trajs) for _ in t.contexts()]
