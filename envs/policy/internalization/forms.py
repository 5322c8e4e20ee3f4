"""Surface forms of one rule, by category: the rule restated (paraphrases) and asked about (QA).

Only the rule's own text is used, so this works for any `Rule`: a factual rule is stated as a fact, a
behavioral rule as an obligation or an imperative, a conditional rule ("If C: T", or a default with
"Unless a condition below applies, D") as if/then, when, applies-only-if and condition -> action. The
QA pairs ask what the rule answers: what to do before an event, what exactly to reply, what happens if
a condition holds, which fee applies. Every answer is a span of the rule's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentgym.envs.policy.internalization.context import PolicyContext
from agentgym.envs.policy.types import Rule, RuleCategory

__all__ = ["QA", "RuleParts", "paraphrases", "question_answers"]

_IF = re.compile(r"^If(?:, in addition,)? (?P<cond>.+?): (?P<then>.+)$", re.S)
_DEFAULT = re.compile(r"^(?P<head>.*?)\s*Unless a condition below applies, (?P<default>.+)$", re.S)
_BEFORE_LEAD = re.compile(r"^Before (?P<event>[^,(]+?)(?: \([^)]*\))?, (?P<action>.+)$", re.S)
_BEFORE_MID = re.compile(r"^(?P<action>[A-Z][^:.]*?) before (?P<event>[^:.]+)[:.]", re.S)
_REPLY = re.compile(r"(?:^|\. )If (?P<cond>[^,.]+), reply exactly \"(?P<phrase>[^\"]+)\"")
_TOPIC = re.compile(r"^(?P<topic>[A-Z][\w ]{0,40}): (?P<body>.+)$", re.S)
_OPENERS = ("If ", "Before ", "When ", "Unless ", "Only ", "**")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _strip_end(text: str) -> str:
    return text.strip().rstrip(".")


@dataclass(frozen=True)
class QA:
    """A question and its answer (a span of the rule's text)."""

    question: str
    answer: str

    def render(self) -> str:
        return f"Q: {self.question}\nA: {self.answer}"


@dataclass(frozen=True)
class RuleParts:
    """A rule's text split into what its forms need (each part None when the text has no such shape).

    `conditions` is the whole chain a nested rule needs, outermost first (rule 9.1.1 applies only when
    the conditions of 9.1 and 9.1.1 both hold); `nested` says whether deeper rules can override it.
    """

    condition: str | None = None
    then: str | None = None
    head: str | None = None
    default: str | None = None
    conditions: tuple[str, ...] = ()
    nested: bool = False

    @property
    def when(self) -> str:
        """Every condition of the chain, joined with "and"."""
        return " and ".join(self.conditions)

    @property
    def then_unless(self) -> str:
        """The outcome, with the caveat that a deeper rule may decide instead."""
        return f"{_strip_end(self.then or '')} (unless a condition nested under it also holds)" if self.nested \
            else (self.then or "")

    @classmethod
    def of(cls, rule: Rule, rules: Sequence[Rule] = ()) -> RuleParts:
        """The parts of `rule`; `rules` (the whole policy) gives the chain of outer conditions."""
        by_id = {r.id: r for r in rules}
        nested = any(r.id.startswith(rule.id + ".") for r in rules)
        m = _IF.match(rule.text)
        if m:
            chain = [m.group("cond")]
            parent = _parent(rule)
            while parent is not None and parent in by_id:
                outer = _IF.match(by_id[parent].text)
                if outer is None:
                    break
                chain.insert(0, outer.group("cond"))
                parent = _parent(by_id[parent])
            return cls(condition=m.group("cond"), then=m.group("then"), conditions=tuple(chain), nested=nested)
        m = _DEFAULT.match(rule.text)
        if m:
            return cls(head=m.group("head").strip(), default=m.group("default"), nested=nested)
        return cls(nested=nested)


def _parent(rule: Rule) -> str | None:
    return rule.id.rsplit(".", 1)[0] if "." in rule.id else None


Form = Callable[[Rule, PolicyContext, RuleParts], str | None]

_FACTUAL: list[Form] = [
    lambda r, c, p: f"A fact of {c.label}, rule {r.id}: {r.text}",
    lambda r, c, p: f"Every agent working under {c.label} knows this fact (rule {r.id}). {r.text}",
    lambda r, c, p: f"It holds under {c.label} that: {r.text} This is rule {r.id}.",
    lambda r, c, p: f"Rule {r.id} is a factual rule of {c.label}. It says: \"{r.text}\"",
]
_BEHAVIORAL: list[Form] = [
    lambda r, c, p: f"Rule {r.id} of {c.label} says how the agent must act: {r.text}",
    lambda r, c, p: f"Obligation (rule {r.id}, {c.label}): {r.text}",
    lambda r, c, p: (None if r.text.startswith(_OPENERS) else
                     f"Under {c.label}, the agent must {_lower_first(r.text)} (rule {r.id})"),
    lambda r, c, p: f"An agent following {c.label} always does this, as rule {r.id} requires. {r.text}",
    lambda r, c, p: f"Do this, by rule {r.id} of {c.label}: {r.text}",
]
_CONDITIONAL: list[Form] = [
    lambda r, c, p: p.condition and f"Rule {r.id} of {c.label}: if {p.when}, then {p.then_unless}",
    lambda r, c, p: (p.condition and
                     f"When {p.when}, the agent must {_lower_first(p.then_unless)} (rule {r.id}, {c.label})"),
    lambda r, c, p: p.condition and f"Rule {r.id} applies only if {p.when}. In that case: {p.then_unless}",
    lambda r, c, p: p.condition and f"Condition -> action under {c.label} (rule {r.id}): {p.when} -> {p.then_unless}",
    lambda r, c, p: (p.condition and _parent(r) and
                     f"Nested inside rule {_parent(r)}: if, in addition, {p.condition}, then {p.then} "
                     f"(rule {r.id} of {c.label})"),
    lambda r, c, p: p.default and f"Rule {r.id} of {c.label}: {p.head} By default, {p.default}",
    lambda r, c, p: (p.default and f"Unless one of the conditions nested under rule {r.id} applies, "
                     f"{_lower_first(p.default)} ({c.label}; {_strip_end(p.head)}.)"),
    lambda r, c, p: p.default and f"The default of rule {r.id} ({c.label}), when no nested condition holds: {p.default}",
    lambda r, c, p: f"Rule {r.id} is a conditional rule of {c.label}: {r.text}",
]
FORMS: dict[RuleCategory, list[Form]] = {RuleCategory.FACTUAL: _FACTUAL, RuleCategory.BEHAVIORAL: _BEHAVIORAL,
                                          RuleCategory.CONDITIONAL: _CONDITIONAL}


def paraphrases(rule: Rule, ctx: PolicyContext, rules: Sequence[Rule] = ()) -> list[str]:
    """Every surface form of `rule` that its category and shape allow (the caller picks among them);
    `rules`, the whole policy, gives a nested rule's outer conditions."""
    parts = RuleParts.of(rule, rules)
    out = []
    for form in FORMS[RuleCategory(rule.category)]:
        text = form(rule, ctx, parts)
        if text:
            out.append(text)
    return out


def question_answers(rule: Rule, ctx: PolicyContext, rules: Sequence[Rule] = ()) -> list[QA]:
    """Questions the rule answers, with answers taken from its text (always at least one)."""
    text, parts, where = rule.text, RuleParts.of(rule, rules), f"under {ctx.label}"
    category = RuleCategory(rule.category)
    out = [QA(f"What does rule {rule.id} of {ctx.label} say?", text)]
    if category is RuleCategory.FACTUAL:
        m = _TOPIC.match(text)
        if m:
            out.append(QA(f"What is the rule about {m.group('topic').lower()} {where}?",
                          f"{m.group('body')} (rule {rule.id})"))
    if category is RuleCategory.BEHAVIORAL:
        m = _BEFORE_LEAD.match(text) or _BEFORE_MID.match(text)
        if m:
            out.append(QA(f"What must the agent do before {_strip_end(m.group('event'))} {where}?",
                          f"{_strip_end(m.group('action'))} (rule {rule.id})."))
        else:
            out.append(QA(f"What must the agent do according to rule {rule.id} of {ctx.label}?", text))
    m = _REPLY.search(text)
    if m:
        out.append(QA(f"What exactly must the agent reply if {m.group('cond')} {where}?",
                      f"\"{m.group('phrase')}\" (rule {rule.id})"))
    if parts.condition:
        out.append(QA(f"Under {ctx.label}, what happens if {parts.when}?", f"{parts.then_unless} (rule {rule.id})"))
        if "fee" in parts.then.lower():
            out.append(QA(f"Which fee applies {where} when {parts.when}?", f"{parts.then_unless} (rule {rule.id})"))
    if parts.default:
        out.append(QA(f"What does rule {rule.id} of {ctx.label} do when no nested condition holds?",
                      f"{parts.default} ({_strip_end(parts.head)}.)"))
    return out
