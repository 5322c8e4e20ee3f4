"""Multi-turn RL for LLM agents: token-exact batches, rollout engines, the PPO/GRPO family, trainers.

    from agentgym.trainers import GRPOConfig, GRPOTrainer
    trainer = GRPOTrainer("smollm2", "Arithmetic-v0", env_kwargs={"difficulty": 1}, config=GRPOConfig(steps=50))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from agentgym.trainers import algorithms
from agentgym.trainers.base import RLTrainer, Rollout, compute_advantages
from agentgym.trainers.checkpoint import latest_checkpoint, list_checkpoints
from agentgym.trainers.config import (
    ConfigError,
    DAPOConfig,
    GRPOConfig,
    PPOConfig,
    ReinforcePPConfig,
    RLConfig,
    RLOOConfig,
    UnsupportedSetup,
)
from agentgym.trainers.data import (
    SequenceView,
    TokenBatch,
    build_batch,
    context_view,
    trajectory_views,
)
from agentgym.trainers.eapo import EAPOConfig, EAPOTrainer
from agentgym.trainers.engines import HFEngine, RolloutEngine, VLLMEngine
from agentgym.trainers.episodes import TaskSampler, engine_policy, run_groups
from agentgym.trainers.expert_iteration import ExpertIterationConfig, ExpertIterationTrainer
from agentgym.trainers.grpo import DAPOTrainer, GRPOTrainer
from agentgym.trainers.igpo import IGPOConfig, IGPOTrainer
from agentgym.trainers.logging import MetricLogger, make_logger
from agentgym.trainers.modeling import TokenScores, score_tokens, sequence_logprobs
from agentgym.trainers.ppo import Critic, PPOTrainer, ValueHead
from agentgym.trainers.registry import TRAINERS, RunSpec, build_trainer, load_run_spec, register_trainer
from agentgym.trainers.rexrag import RexRagConfig, RexRagTrainer
from agentgym.trainers.rloo import ReinforcePPTrainer, RLOOTrainer
from agentgym.trainers.runtime import TrainerRuntime
from agentgym.trainers.sft import behaviour_cloning, successful, to_sft_dataset
from agentgym.trainers.shapers import APOShaper, ASPOShaper, Group, HBPOShaper, Shaper
from agentgym.trainers.tapo import TAPOConfig, TAPOTrainer
from agentgym.trainers.tppo import TPPOConfig, TPPOTrainer
from agentgym.trainers.treepo import TreePOConfig, TreePOTrainer

__all__ = [
    "TRAINERS",
    "APOShaper",
    "ASPOShaper",
    "ConfigError",
    "Critic",
    "DAPOConfig",
    "DAPOTrainer",
    "EAPOConfig",
    "EAPOTrainer",
    "ExpertIterationConfig",
    "ExpertIterationTrainer",
    "GRPOConfig",
    "GRPOTrainer",
    "Group",
    "HBPOShaper",
    "HFEngine",
    "IGPOConfig",
    "IGPOTrainer",
    "MetricLogger",
    "PPOConfig",
    "PPOTrainer",
    "RLConfig",
    "RLOOConfig",
    "RLOOTrainer",
    "RLTrainer",
    "ReinforcePPConfig",
    "ReinforcePPTrainer",
    "RexRagConfig",
    "RexRagTrainer",
    "Rollout",
    "RolloutEngine",
    "RunSpec",
    "SequenceView",
    "Shaper",
    "TAPOConfig",
    "TAPOTrainer",
    "TPPOConfig",
    "TPPOTrainer",
    "TaskSampler",
    "TokenBatch",
    "TokenScores",
    "TrainerRuntime",
    "TreePOConfig",
    "TreePOTrainer",
    "UnsupportedSetup",
    "VLLMEngine",
    "ValueHead",
    "algorithms",
    "behaviour_cloning",
    "build_batch",
    "build_trainer",
    "compute_advantages",
    "context_view",
    "engine_policy",
    "latest_checkpoint",
    "list_checkpoints",
    "load_run_spec",
    "make_logger",
    "register_trainer",
    "run_groups",
    "score_tokens",
    "sequence_logprobs",
    "successful",
    "to_sft_dataset",
    "trajectory_views",
]
