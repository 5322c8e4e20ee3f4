"""A tiny word-level tokenizer with a ChatML template, a tiny random Llama, and a 2-turn tool env."""

from __future__ import annotations

from typing import Any

import torch

WORDS = ["go", "call", "key", "seven", "answer", "a", "b", "c", "d", "e", "f", "g"]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer() -> Any:
    """Whole words, spaces and newlines are tokens; decoding concatenates them (exact round trip)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([*SPECIAL, "<unk>", "\n", " ", "user", "assistant", "tool", "system", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token="<unk>", additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML
    return fast


def tiny_model(tokenizer: Any, seed: int = 0, hidden: int = 64, layers: int = 2) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=256, tie_word_embeddings=True,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=None)
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


class _Tasks:
    def __init__(self, n: int) -> None:
        self._ids = {"train": [f"train-{i}" for i in range(n)], "test": [f"test-{i}" for i in range(n)]}

    def ids(self, split: str | None = None) -> list[str]:
        return self._ids[split] if split else self._ids["train"] + self._ids["test"]


class KeyEnv:
    """Turn 1: the agent must `call` the tool (it answers `key seven`); turn 2: it must say `seven`.

    Per-turn rewards: 0.2 for calling the tool, 1.0 for the right answer. Success = the right answer.
    Implements the async half of the `LanguageEnv` contract (areset / astep / aclose), which is all the
    episode loop uses.
    """

    def __init__(self, n_tasks: int = 64) -> None:
        self.tasks = _Tasks(n_tasks)
        self.turn = 0

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.turn = 0
        return [{"role": "user", "content": "go"}], {"stop": [], "tools": [], "protocol": "tags"}

    async def astep(self, action: str | dict[str, Any]):
        action = action.get("content") or "" if isinstance(action, dict) else action  # text or an assistant message
        self.turn += 1
        if self.turn == 1:
            if "call" in action:
                return [{"role": "tool", "content": "key seven"}], 0.2, False, False, {"tool_calls": ["lookup"]}
            return [], 0.0, True, False, {"success": False}
        ok = "seven" in action
        return [], 1.0 if ok else 0.0, True, False, {"success": ok}

    async def aclose(self) -> None:
        return None


def smollm2_tokenizer() -> Any:
    """SmolLM2's real tokenizer and chat template (converting the shipped GGUF once if needed)."""
    from transformers import AutoTokenizer

    from agentgym.models.loading import _cache_dir, load_model, resolve_model

    folder = _cache_dir(resolve_model("smollm2"))
    if not (folder / "tokenizer_config.json").exists():
        load_model("smollm2")  # writes the converted copy
    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
