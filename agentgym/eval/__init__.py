"""Evaluation: metrics (pass@k, pass^k, maj@k), summaries and the eval runner."""

from agentgym.eval.metrics import (
    EvalSummary,
    format_summary,
    majority_vote,
    normalize_answer,
    pass_at_k,
    pass_hat_k,
    summarize,
)
from agentgym.eval.runner import evaluate, summary_from_dir

__all__ = [
    "EvalSummary",
    "evaluate",
    "format_summary",
    "majority_vote",
    "normalize_answer",
    "pass_at_k",
    "pass_hat_k",
    "summarize",
    "summary_from_dir",
]
