"""The tiny GRPO run shared by the checkpoint test and its helper process (same seeds, same config)."""

from __future__ import annotations

from typing import Any

from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import GRPOConfig, GRPOTrainer

RUN = dict(steps=3, learning_rate=3e-3, group_size=4, tasks_per_step=4, max_new_tokens=4, max_length=64,
           micro_batch_size=8, mini_batch_size=8, ppo_epochs=2, seed=0, report_to=[], lr_scheduler="cosine",
           warmup_steps=1, keep_last=2)


def make_trainer(model_seed: int = 0, resume_from: str | None = None, **overrides: Any) -> GRPOTrainer:
    tok = tiny_tokenizer()
    return GRPOTrainer(tiny_model(tok, seed=model_seed), KeyEnv, GRPOConfig(**{**RUN, **overrides}), tokenizer=tok,
                       resume_from=resume_from)
