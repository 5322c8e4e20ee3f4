"""Expert iteration: sample, keep the successes, clone them, repeat (tiny model on the 2-turn key env)."""

from __future__ import annotations

from pathlib import Path

import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import ExpertIterationConfig, ExpertIterationTrainer
from agentgym.trainers.registry import load_run_spec

HERE = Path(__file__).resolve().parent

RUN = dict(learning_rate=1e-2, group_size=4, tasks_per_step=8, max_new_tokens=4, max_length=64, temperature=1.0,
           report_to=[], log_every=0, seed=0)


def test_expert_iteration_clones_only_successes_and_learns_the_task() -> None:
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    with ExpertIterationTrainer(tiny_model(tok, seed=0), KeyEnv, ExpertIterationConfig(steps=8, **RUN),
                                tokenizer=tok) as trainer:
        history = trainer.train()
    for m in history:  # every successful sample, and nothing else, was trained on
        assert m["kept_episodes"] == round(m["success"] * m["episodes"]) == m["trained_episodes"]
    assert history[0]["success"] < 0.1  # the random policy rarely finds the two-turn answer
    assert history[-1]["success"] + history[-2]["success"] > 0.8  # cloning its own successes, it learns it
    assert history[-1]["nll"] < history[0]["nll"]


def test_a_step_without_a_kept_episode_changes_nothing() -> None:
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    cfg = ExpertIterationConfig(steps=1, min_reward=5.0, **RUN)  # no episode can reach reward 5
    with ExpertIterationTrainer(tiny_model(tok, seed=0), KeyEnv, cfg, tokenizer=tok) as trainer:
        before = [p.detach().clone() for p in trainer.model.parameters()]
        (m,) = trainer.train()
        after = list(trainer.model.parameters())
    assert m["kept_episodes"] == 0 and m["updates"] == 0 and m["episodes"] == 32
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_the_example_run_file_is_valid() -> None:
    spec = load_run_spec(HERE.parents[1] / "examples" / "configs" / "expert_iteration_arithmetic.yaml", ["steps=2"])
    assert spec.trainer == "expert_iteration" and isinstance(spec.config, ExpertIterationConfig)
    assert spec.config.steps == 2 and spec.config.min_reward is None and spec.config.ppo_epochs == 2
