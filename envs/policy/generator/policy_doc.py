"""The policy document of a generated domain (markdown, rules numbered) and its `Rule` list.

Conditional rules nest to the workflow level: rule `9` is a request kind's flat rule, `9.1` its first
condition, `9.1.1` a condition inside that one, `9.1.1.1` one more level down. `PolicyText.keys` maps what
a rule is about (e.g. "confirm", "retail/return/2") to its id, so tasks can list the rules they exercise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentgym.envs.policy.generator.dials import Dials
from agentgym.envs.policy.generator.template import Template
from agentgym.envs.policy.types import Rule, RuleCategory

__all__ = ["MISMATCH_PHRASE", "PolicyText", "parse_version", "render_policy"]

MISMATCH_PHRASE = "I'm sorry but I can only help with records on your own account."
CONFIRM_FORMAT = "Do you confirm <tool name> for <record id>? (yes/no)"
_VERSION = re.compile(r"Policy version: PD-([a-z+]+)-W([1-4])")


@dataclass
class PolicyText:
    """The markdown, its rules, and rule ids by what they are about."""

    markdown: str
    rules: list[Rule] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)


def version_line(templates: Sequence[Template], workflow_level: int) -> str:
    """The policy's version line, from which a policy-following agent knows which rules are in force."""
    return f"Policy version: PD-{'+'.join(t.name for t in templates)}-W{workflow_level}"


def parse_version(policy: str) -> tuple[list[str], int] | None:
    """(template names, workflow level) from a policy's version line, or None."""
    m = _VERSION.search(policy)
    return (m.group(1).split("+"), int(m.group(2))) if m else None


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.text = PolicyText("")
        self.number = 0

    def rule(self, key: str, category: RuleCategory, text: str, *, rule_id: str | None = None, depth: int = 1,
             indent: int = 0) -> str:
        if rule_id is None:
            self.number += 1
            rule_id = str(self.number)
        self.text.rules.append(Rule(rule_id, category, text, depth))
        self.text.keys[key] = rule_id
        prefix = f"{'   ' * indent}- {rule_id}" if indent else f"{rule_id}."
        self.lines.append(f"{prefix} {text}")
        return rule_id


def render_policy(templates: Sequence[Template], dials: Dials) -> PolicyText:
    """The whole document: general rules, then one section per template with its forbidden request, each
    request kind's nested conditions (to `dials.workflow_level`) and what to tell the user."""
    w = _Writer()
    company = templates[0].business if len(templates) == 1 else "OmniServe"
    w.lines += [f"# {company} customer service policy", "", version_line(templates, dials.workflow_level), "",
                "You are a customer service agent. Today is 2025-06-15 and the time is 09:00. Follow these rules "
                "exactly; the tools check ids and statuses but not the rules.", "", "## General rules", ""]
    by_name = " (or `find_user_id_by_name_zip` with first name, last name and zip code)" if dials.env_level >= 2 else ""
    w.rule("authenticate", RuleCategory.BEHAVIORAL,
           "Authenticate the user before looking up or changing any of their records: ask for their email address"
           f" and find their user id with `find_user_id_by_email`{by_name}. Never guess these details.")
    w.rule("ownership", RuleCategory.BEHAVIORAL,
           "Only act on records whose `user_id` is the authenticated user's. If a record belongs to someone else, "
           f"reply exactly \"{MISMATCH_PHRASE}\" and change nothing.")
    w.rule("confirm", RuleCategory.BEHAVIORAL,
           "Before every write (a tool that changes the database), state the action and its amount and ask "
           f"\"{CONFIRM_FORMAT}\". Make the change only after the user answers yes; if they answer no, do not.")
    w.rule("one_call", RuleCategory.BEHAVIORAL,
           "Make at most one tool call per turn, and do not write to the user in a turn with a tool call.")
    w.rule("amounts", RuleCategory.FACTUAL, "Say every amount in dollars with two decimals, such as $45.00.")
    w.rule("lookup", RuleCategory.BEHAVIORAL,
           "If the user does not know a record's id, find it among the records `get_user_details` lists for them, "
           "by what they describe.")
    w.rule("transfer", RuleCategory.BEHAVIORAL,
           "Transfer to a human agent (`transfer_to_human_agents`) only when a request is outside this policy.")
    for t in templates:
        w.lines += ["", f"## {t.section} ({t.business})", "", t.facts, ""]
        w.rule(f"{t.name}/forbidden", RuleCategory.BEHAVIORAL,
               f"{t.forbidden.rule} If asked, reply exactly \"{t.forbidden.phrase}\"")
        for kind in t.kinds:
            head = w.rule(f"{t.name}/{kind.name}/0", RuleCategory.CONDITIONAL,
                          f"**{kind.title}** (`{kind.tool}`): only {t.noun}s whose status is {kind.status} "
                          f"qualify. Unless a condition below applies, {kind.default}")
            rule_id = head
            for level, branch in enumerate(kind.branches[: dials.workflow_level - 1], start=1):
                rule_id = f"{rule_id}.1"
                extra = "" if level == 1 else ", in addition,"
                w.rule(f"{t.name}/{kind.name}/{level}", RuleCategory.CONDITIONAL,
                       f"If{extra} {branch.condition}: {branch.then}", rule_id=rule_id, depth=level + 1, indent=level)
            w.rule(f"{t.name}/{kind.name}/fact", RuleCategory.FACTUAL, f"{kind.title}: {kind.fact}")
    w.text.markdown = "\n".join(w.lines) + "\n"
    return w.text
