"""Rollout engines behind one interface: `HFEngine` (transformers, CPU/GPU) and `VLLMEngine` (GPU)."""

from agentgym.trainers.engines.base import Generation, RolloutEngine, SamplingParams
from agentgym.trainers.engines.hf import HFEngine
from agentgym.trainers.engines.vllm import VLLMEngine

__all__ = ["Generation", "HFEngine", "RolloutEngine", "SamplingParams", "VLLMEngine"]
