"""OpenAI-compatible model server for local models."""
