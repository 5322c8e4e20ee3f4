"""A CC-Gen-style (arXiv 2510.11588) generator of synthetic customer-service domains.

`generate_domain(domain, env_level=, task_level=, workflow_level=, query_level=, num_tasks=, seed=)` builds
a `PolicyDomain` from one of four templates (retail, airline, bank, clinic) or all of them ("mixed"): a
database from a seeded generator, τ-bench-style tools, a numbered policy whose conditional rules nest to
the workflow level, and tasks whose gold comes from executing the policy on the database.
"""

from agentgym.envs.policy.generator.build import DOMAIN_KINDS, TEMPLATES, generate_domain, templates_for
from agentgym.envs.policy.generator.checks import SKIPPABLE, matters, verify_gold
from agentgym.envs.policy.generator.dials import DIAL_NAMES, Dials
from agentgym.envs.policy.generator.ladder import Decision, Deny, RequestKind, Write, decide, outer_depth
from agentgym.envs.policy.generator.policy_doc import MISMATCH_PHRASE, parse_version, render_policy
from agentgym.envs.policy.generator.solver import GenerationError, RequestSpec, TaskSpec, solve
from agentgym.envs.policy.generator.template import Forbidden, Template

__all__ = [
    "DIAL_NAMES",
    "DOMAIN_KINDS",
    "MISMATCH_PHRASE",
    "SKIPPABLE",
    "TEMPLATES",
    "Decision",
    "Deny",
    "Dials",
    "Forbidden",
    "GenerationError",
    "RequestKind",
    "RequestSpec",
    "TaskSpec",
    "Template",
    "Write",
    "decide",
    "generate_domain",
    "matters",
    "outer_depth",
    "parse_version",
    "render_policy",
    "solve",
    "templates_for",
    "verify_gold",
]
