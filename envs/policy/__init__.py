"""Policy-document environments (CC-Gen, τ-bench): an agent follows a policy to serve a simulated user
over a JSON database, graded by the final database's hash and the outputs it told the user.

- `PolicyEnv` (`env.py`): any `PolicyDomain` as a `LanguageEnv`; `PolicyEnv.from_directory` loads a τ-bench
  domain folder (`taubench.py`); simulated users in `users.py` (`LLMUser`) and `scripted_user.py`.
- `agentgym/PolicyDoc-v0` (`policydoc.py`): domains from the CC-Gen-style generator (`generator/`) with four
  complexity dials; `PolicyOracleAgent` (`oracle.py`) follows the policy, optionally skipping one rule category.
- `internalization/`: CAP-CPT continued-pretraining text and oracle SFT conversations for a domain.
"""

from agentgym.envs.policy.database import consistent_hash, database_hash, to_hashable
from agentgym.envs.policy.env import PolicyEnv, make_user
from agentgym.envs.policy.execution import CallResult, replay_actions, run_tool
from agentgym.envs.policy.generator import Dials, generate_domain, matters, verify_gold
from agentgym.envs.policy.internalization import (
    CPTRecord,
    SFTRecord,
    cpt_records,
    export_domain,
    policy_free_prompt,
    sft_conversations,
)
from agentgym.envs.policy.oracle import PolicyOracleAgent
from agentgym.envs.policy.policydoc import make_policydoc_env
from agentgym.envs.policy.scripted_user import ScriptedUser
from agentgym.envs.policy.taubench import DomainLoadError, load_domain
from agentgym.envs.policy.types import (
    Action,
    Database,
    PolicyDomain,
    PolicyTask,
    PolicyTool,
    Rule,
    RuleCategory,
    ToolKind,
    UserGoal,
)
from agentgym.envs.policy.users import LLMUser, SimulatedUser, UserUsage, user_system_prompt

__all__ = [
    "Action",
    "CPTRecord",
    "CallResult",
    "Database",
    "Dials",
    "DomainLoadError",
    "LLMUser",
    "PolicyDomain",
    "PolicyEnv",
    "PolicyOracleAgent",
    "PolicyTask",
    "PolicyTool",
    "Rule",
    "RuleCategory",
    "SFTRecord",
    "ScriptedUser",
    "SimulatedUser",
    "ToolKind",
    "UserGoal",
    "UserUsage",
    "consistent_hash",
    "cpt_records",
    "database_hash",
    "export_domain",
    "generate_domain",
    "load_domain",
    "make_policydoc_env",
    "make_user",
    "matters",
    "policy_free_prompt",
    "replay_actions",
    "run_tool",
    "sft_conversations",
    "to_hashable",
    "user_system_prompt",
    "verify_gold",
]
