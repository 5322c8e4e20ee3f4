"""Local models: loading (folders, GGUF with a plain-weights cache) and token-exact batched sampling."""

from agentgym.models.loading import ModelLocation, ModelNotFoundError, load_model, resolve_model, smollm2_gguf

__all__ = ["ModelLocation", "ModelNotFoundError", "load_model", "resolve_model", "smollm2_gguf"]
