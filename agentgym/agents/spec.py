"""One string picks an agent: `openai:MODEL`, `litellm:PROVIDER/MODEL`, `hf:PATH_OR_GGUF`."""

from __future__ import annotations

from typing import Any

from agentgym.agents.base import Agent, AgentError

KINDS = ("openai", "litellm", "hf")


def make_agent(spec: str, **options: Any) -> Agent:
    """Build an agent from a spec; `options` (base_url, api_key, temperature, max_tokens, ...) go to it.

    Options that do not apply to the chosen kind (e.g. `base_url` for `hf:`) are ignored.
    """
    kind, sep, target = spec.partition(":")
    if not sep or not target or kind not in KINDS:
        raise AgentError(f"bad agent spec {spec!r}: use openai:MODEL, litellm:PROVIDER/MODEL or hf:PATH_OR_GGUF")
    opts = {k: v for k, v in options.items() if v is not None}
    if kind == "openai":
        from agentgym.agents.openai_agent import OpenAIAgent

        return OpenAIAgent(target, **_only(opts, OpenAIAgent))
    if kind == "litellm":
        from agentgym.agents.litellm_agent import LiteLLMAgent

        return LiteLLMAgent(target, **_only(opts, LiteLLMAgent))
    from agentgym.agents.hf_agent import HFAgent

    return HFAgent(target, **_only(opts, HFAgent))


def _only(options: dict[str, Any], cls: type) -> dict[str, Any]:
    import inspect

    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in options.items() if k in params}
