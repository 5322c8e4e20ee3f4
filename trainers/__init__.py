"""Multi-turn RL for LLM agents: token-exact batches, rollout engines, the PPO/GRPO family, trainers.

    from agentgym.trainers import GRPOConfig, GRPOTrainer
    trainer = GRPOTrainer("smollm2", "Arithmetic-v0", env_kwargs={"difficulty": 1}, config=GRPOConfig(steps=50))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from agentgym.trainers import algorithms
from agentgym.trainers.config import GRPOConfig
from agentgym.trainers.data import (
    SequenceView,
    TokenBatch,
    build_batch,
    prompt_ids,
    trajectory_tokens,
    turn_delta_ids,
)
from agentgym.trainers.engines import HFEngine, RolloutEngine, VLLMEngine
from agentgym.trainers.episodes import run_episode, run_groups
from agentgym.trainers.grpo import GRPOTrainer, compute_advantages
from agentgym.trainers.modeling import sequence_logprobs
from agentgym.trainers.sft import behaviour_cloning, successful, to_sft_dataset

__all__ = [
    "GRPOConfig",
    "GRPOTrainer",
    "HFEngine",
    "RolloutEngine",
    "SequenceView",
    "TokenBatch",
    "VLLMEngine",
    "algorithms",
    "behaviour_cloning",
    "build_batch",
    "compute_advantages",
    "prompt_ids",
    "run_episode",
    "run_groups",
    "sequence_logprobs",
    "successful",
    "to_sft_dataset",
    "trajectory_tokens",
    "turn_delta_ids",
]
