"""`cpt_records`: category-aware continued-pretraining text for one domain (CC-Gen's CAP-CPT data).

Per rule: the rule as written, `paraphrases` other surface forms of it and its question-answer pairs
(`forms`). For a generated domain also, per request kind: the whole ladder as nested prose, as "unless"
prose and as a decision list, and questions over `cases` concrete database records answered by running
the ladder; per template: its facts and its forbidden request. Last, one worked scenario per task.
Everything is deterministic given `seed`.
"""

from __future__ import annotations

import random

from agentgym.envs.policy.internalization.context import PolicyContext
from agentgym.envs.policy.internalization.forms import QA, paraphrases, question_answers
from agentgym.envs.policy.internalization.ladders import (
    PolicyStructure,
    describe_owner,
    describe_record,
    explain,
    outcome_answer,
)
from agentgym.envs.policy.internalization.records import CPTRecord
from agentgym.envs.policy.internalization.scenarios import scenario_category, worked_scenario
from agentgym.envs.policy.types import PolicyDomain, Rule, RuleCategory

__all__ = ["cpt_records"]

CONDITIONAL = RuleCategory.CONDITIONAL.value
BEHAVIORAL = RuleCategory.BEHAVIORAL.value
FACTUAL = RuleCategory.FACTUAL.value


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(":".join([str(seed), *parts]))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rule_records(domain: PolicyDomain, rule: Rule, ctx: PolicyContext, seed: int, n: int) -> list[CPTRecord]:
    category = RuleCategory(rule.category).value

    def make(text: str, kind: str) -> CPTRecord:
        return CPTRecord(text, category, kind, rule.id, domain.name, [rule.id])

    out = [make(f"{_cap(ctx.label)}, rule {rule.id}: {rule.text}", "rule")]
    forms = paraphrases(rule, ctx, domain.rules)
    out += [make(text, "paraphrase") for text in _rng(seed, domain.name, rule.id).sample(forms, min(n, len(forms)))]
    out += [make(qa.render(), "qa") for qa in question_answers(rule, ctx, domain.rules)]
    return out


def _structure_records(domain: PolicyDomain, structure: PolicyStructure, ctx: PolicyContext, seed: int,
                       cases: int) -> list[CPTRecord]:
    name, keys, out = domain.name, structure.keys, []
    for t in structure.templates:
        out.append(CPTRecord(f"What {ctx.label} says about {t.table} ({t.business}): {t.facts}", FACTUAL,
                             "paraphrase", None, name))
        out.append(CPTRecord(QA(f"Which fields of {t.table} and users does {ctx.label} decide with?", t.facts).render(),
                             FACTUAL, "qa", None, name))
        fid = keys[f"{t.name}/forbidden"]
        qa = QA(f"Under {ctx.label}, a user asks: \"{t.forbidden.request}\" What must the agent do?",
                f"Refuse: reply exactly \"{t.forbidden.phrase}\" and never call {t.forbidden.trap_tool} "
                f"(rule {fid}).")
        out.append(CPTRecord(qa.render(), BEHAVIORAL, "qa", fid, name, [fid]))
    for ladder in structure.ladders():
        head, ids = ladder.ids[0], list(ladder.ids)
        for text in (ladder.nested_prose(ctx), ladder.unless_prose(ctx), ladder.decision_list(ctx)):
            out.append(CPTRecord(text, CONDITIONAL, "paraphrase", head, name, ids))
        rng = _rng(seed, name, ladder.template.name, ladder.kind.name)
        users = domain.data.get("users", {})
        for record in structure.cases(ladder, domain.data, cases, rng):
            owner = users[record["user_id"]]
            reasoning, deciding, outcome = explain(ladder, record, owner)
            question = (f"Under {ctx.label}, a user ({describe_owner([ladder.template], owner)}) asks to "
                        f"{ladder.kind.name} their {describe_record(ladder.template, record)}. What does the policy "
                        "decide?")
            answer = outcome_answer(ladder, reasoning, outcome, keys.get("confirm"))
            out.append(CPTRecord(QA(question, answer).render(), CONDITIONAL, "qa", deciding, name,
                                 list(dict.fromkeys([*ids[: ids.index(deciding) + 1], deciding]))))
    return out


def cpt_records(domain: PolicyDomain, seed: int = 0, *, paraphrases: int = 3, cases: int = 4,
                scenarios: bool = True) -> list[CPTRecord]:
    """Continued-pretraining texts that teach `domain`'s policy, category by category.

    Args:
        domain: a domain with `rules` (a generated one also gets ladder texts and database cases).
        seed: picks the paraphrases and the database records; the same seed gives the same records.
        paraphrases: surface forms per rule besides the rule as written (capped by the forms available).
        cases: questions over concrete records per request kind (generated domains).
        scenarios: add one worked scenario per task.
    """
    if not domain.rules:
        raise ValueError(f"domain {domain.name!r} has no rules: cpt_records needs a policy's categorized rules")
    if paraphrases < 0 or cases < 0:
        raise ValueError("paraphrases and cases must be >= 0")
    ctx = PolicyContext.from_domain(domain)
    out: list[CPTRecord] = []
    for rule in domain.rules:
        out += _rule_records(domain, rule, ctx, seed, paraphrases)
    structure = PolicyStructure.of(domain)
    if structure is not None:
        out += _structure_records(domain, structure, ctx, seed, cases)
    if scenarios:
        rules = {r.id: r for r in domain.rules}
        for task in domain.tasks:
            text, ids = worked_scenario(domain, task, ctx, structure)
            category = scenario_category([rules[i] for i in ids])
            main = next((i for i in ids if rules[i].category == CONDITIONAL), ids[0] if ids else None)
            out.append(CPTRecord(text, category, "scenario", main, domain.name, ids, task.id))
    return out
