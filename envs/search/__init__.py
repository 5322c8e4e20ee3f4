"""Search environments: multi-hop QA over a generated knowledge base, and QA over your own corpus."""

from agentgym.envs.search.env import MultiHopQAEnv, SearchEnv, SearchQAEnv, kb_backend, multihop_tasks
from agentgym.envs.search.kb import KBConfig, KnowledgeBase, build_kb, extract_fact
from agentgym.envs.search.metrics import exact_match, f1_score, normalize_answer
from agentgym.envs.search.oracle import oracle_policy
from agentgym.envs.search.questions import Question, make_question

__all__ = [
    "KBConfig",
    "KnowledgeBase",
    "MultiHopQAEnv",
    "Question",
    "SearchEnv",
    "SearchQAEnv",
    "build_kb",
    "exact_match",
    "extract_fact",
    "f1_score",
    "kb_backend",
    "make_question",
    "multihop_tasks",
    "normalize_answer",
    "oracle_policy",
]
