"""`VLLMEngine`: rollouts from a `vllm.LLM` on a GPU, sharing the GPU with the trainer.

Written against vLLM's documented offline API: `LLM(..., enable_sleep_mode=True)`, `LLM.generate` with
`TokensPrompt` inputs and `SamplingParams(logprobs=0)` (the sampled token's log-prob; the engine is made
with `logprobs_mode="processed_logprobs"` so that it is taken after temperature, as the trainer scores it),
`LLM.sleep(level=1)` / `LLM.wake_up()` to hand GPU memory to the optimizer step between rollouts, and
weight sync by loading the trainer's state dict into the engine's model (`LLM.apply_model` where the
installed vLLM has it, the driver worker's model otherwise), then resetting the prefix cache.
vLLM is imported only when the engine is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.trainers.engines.base import RolloutEngine
from agentgym.trainers.modeling import merged_state_dict

from agentgym.models.generation import Generation, RowControl, SamplingParams


def _engine_accepts(name: str) -> bool:
    """Whether the installed vLLM's engine arguments have the field `name` (added across versions)."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    return name in {f.name for f in dataclasses.fields(EngineArgs)}


class VLLMEngine(RolloutEngine):
    """Rollout engine over `vllm.LLM`.

    Args:
        model: a local model folder (config.json + weights), as vLLM loads it.
        tokenizer: the trainer's tokenizer (defaults to the engine's own).
        gpu_memory_utilization: share of GPU memory vLLM may take (leave room for training).
        sleep_between_rollouts: free vLLM's GPU memory (weights offloaded, KV cache dropped) while training.
        seed: sampling seed.
        llm_kwargs: more `vllm.LLM` arguments (dtype, max_model_len, enforce_eager ...).
    """

    def __init__(self, model: str, tokenizer: Any = None, *, gpu_memory_utilization: float = 0.4,
                 sleep_between_rollouts: bool = True, seed: int = 0, max_batch_size: int = 256,
                 max_wait: float = 0.005, **llm_kwargs: Any) -> None:
        from vllm import LLM

        self.sleep_between_rollouts = sleep_between_rollouts
        # vLLM reports raw (temperature-1) log-probs by default; the trainer's ratios need the sampled ones
        if _engine_accepts("logprobs_mode"):
            llm_kwargs.setdefault("logprobs_mode", "processed_logprobs")
        self.llm = LLM(model=model, gpu_memory_utilization=gpu_memory_utilization, seed=seed,
                       enable_sleep_mode=sleep_between_rollouts, **llm_kwargs)
        super().__init__(tokenizer or self.llm.get_tokenizer(), max_batch_size, max_wait)
        self.context_window = int(self.llm.llm_engine.model_config.max_model_len)
        self._asleep = False

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        from vllm import SamplingParams as VLLMSamplingParams
        from vllm.inputs import TokensPrompt

        if self._asleep:
            self.wake()
        sp = VLLMSamplingParams(n=1, temperature=params.temperature, top_p=params.top_p,
                                max_tokens=params.max_new_tokens, stop=list(params.stop) or None,
                                include_stop_str_in_output=True, logprobs=0)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], sp, use_tqdm=False)
        gens = []
        for prompt, out in zip(prompts, outs, strict=True):
            c = out.outputs[0]
            ids = list(c.token_ids)
            lps = [float(step[tid].logprob) for tid, step in zip(ids, c.logprobs or [], strict=True)]
            stop_reason = c.stop_reason if isinstance(c.stop_reason, str) else None
            gens.append(Generation(token_ids=ids, logprobs=lps, text=c.text,
                                   finish_reason="length" if c.finish_reason == "length" else "stop",
                                   prompt_token_ids=list(prompt), stop_reason=stop_reason))
        return gens

    def sync_weights(self, model: Any) -> None:
        """Load the trainer's current weights into the engine's model."""
        if self._asleep:
            self.wake()
        weights = list(merged_state_dict(model).items())  # a LoRA policy: base weights + merged adapter

        def load(engine_model: Any) -> None:
            engine_model.load_weights(weights=weights)

        if hasattr(self.llm, "apply_model"):
            self.llm.apply_model(load)
        else:
            load(self.llm.llm_engine.model_executor.driver_worker.model_runner.model)
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        if self.sleep_between_rollouts and not self._asleep:
            self.llm.sleep(level=1)
            self._asleep = True

    def wake(self) -> None:
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False
