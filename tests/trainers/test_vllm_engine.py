"""VLLMEngine on a GPU: token-exact generations whose log-probs match the trainer's scoring, weight sync,
and sleep/wake. Skipped where vllm or CUDA is missing."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def engine_and_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from agentgym.trainers import VLLMEngine

    from agentgym.models import load_model

    model, tok = load_model("smollm2")
    path = tmp_path_factory.mktemp("smol")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    engine = VLLMEngine(str(path), tok, gpu_memory_utilization=0.3, enforce_eager=True)
    return engine, model.cuda(), tok


def test_vllm_logprobs_match_trainer_scoring(engine_and_model) -> None:
    import torch
    from agentgym.trainers import build_batch, run_groups, sequence_logprobs

    import agentgym
    from agentgym.models.generation import SamplingParams

    engine, model, tok = engine_and_model
    groups = asyncio.run(run_groups(lambda: agentgym.make("Arithmetic-v0", difficulty=1), engine,
                                    ["train-0", "train-1"], 4, SamplingParams(48, 1.0)))
    batch = build_batch([t for g in groups for t in g], tok).to("cuda")
    with torch.no_grad():
        logp, _ = sequence_logprobs(model, batch.input_ids, batch.attention_mask, batch.loss_mask)
    m = batch.loss_mask.bool()
    assert (logp[m] - batch.old_logprobs[m]).abs().mean() < 2e-2


def test_vllm_weight_sync_and_sleep(engine_and_model) -> None:
    import torch

    from agentgym.models.generation import SamplingParams

    engine, model, tok = engine_and_model
    prompt = tok("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    greedy = SamplingParams(8, 0.0)
    before = engine.generate_batch([prompt], greedy)[0].token_ids
    engine.sleep()
    engine.wake()
    assert engine.generate_batch([prompt], greedy)[0].token_ids == before
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    engine.sync_weights(model)
    assert engine.generate_batch([prompt], greedy)[0].token_ids != before
