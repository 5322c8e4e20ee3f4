"""`PolicyOracleAgent`: a scripted agent that follows a generated domain's policy (PolicyDoc-v0).

It knows the policy, not the gold: it reads which templates and workflow depth are in force from the
policy's version line, authenticates the user, asks for what it needs, looks records up (scanning the
user's records when only a description is given), checks ownership, decides with the template's ladder,
asks for confirmation before each write, makes it, and states the amounts; forbidden requests and other
users' records get the policy's exact refusal. Every message starts with a `<think>` block saying which
rules applied (rule ids only, never amounts), for SFT exports.

`skip=` makes a rule-skipping variant, identical except for one rule category:

- "authenticate": never authenticates and never checks ownership (it reads the record's owner directly);
  with only a description of a record it cannot find it;
- "confirm": makes writes without asking the user;
- "nested_conditions": decides with each rule's outermost condition only.

The agent is stateless: each turn replays its procedure over the conversation so far, so it works with any
session (`run_episode`, `MessageSession`) and either tool protocol: Hermes `<tool_call>` text by default,
native OpenAI `tool_calls` when the env passes tool schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.envs.policy.generator import (
    MISMATCH_PHRASE,
    SKIPPABLE,
    TEMPLATES,
    Deny,
    Dials,
    RequestKind,
    Template,
    Write,
    decide,
    outer_depth,
    parse_version,
    render_policy,
)

from agentgym.agents.base import Agent, AgentOutput

__all__ = ["ASK_IDENTITY", "PolicyOracleAgent", "Step"]

ANYTHING_ELSE = " Is there anything else I can help you with?"
ASK_IDENTITY = ("Before I can help, I need to verify your identity. Could you please give me your email address, "
                "or, if you don't know it, your first name, last name and zip code?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_FIRST = re.compile(r"first name:\s*([A-Za-z]+)", re.I)
_LAST = re.compile(r"last name:\s*([A-Za-z]+)", re.I)
_FULL = re.compile(r"my name is ([A-Za-z]+) ([A-Za-z]+)", re.I)
_ZIP = re.compile(r"zip(?: code)?(?::| is)\s*(\d{5})", re.I)
_RESPONSE = re.compile(r"</?tool_response>")


@dataclass
class Step:
    """One assistant turn: a tool call (`tool` set) or a message to the user, with the reasoning."""

    why: str
    say: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


Procedure = Generator[Step, str, None]


def _identity(text: str) -> tuple[str, dict[str, str]] | None:
    """("email", {...}) or ("name_zip", {...}) from what the user has said, or None."""
    email = _EMAIL.search(text)
    if email:
        return "email", {"email": email.group(0).rstrip(".")}
    first, last, full, zip_code = _FIRST.search(text), _LAST.search(text), _FULL.search(text), _ZIP.search(text)
    if full and not (first and last):
        first_name, last_name = full.group(1), full.group(2)
    elif first and last:
        first_name, last_name = first.group(1), last.group(1)
    else:
        return None
    if not zip_code:
        return None
    return "name_zip", {"first_name": first_name, "last_name": last_name, "zip": zip_code.group(1)}


def _record_id(template: Template, text: str) -> str | None:
    found = re.search(rf"\b{template.id_prefix}-\d{{5}}\b", text)
    return found.group(0) if found else None


def _parse(result: str) -> Any:
    try:
        return json.loads(result)
    except (json.JSONDecodeError, TypeError):
        return None


def _failed(result: str) -> bool:
    return not isinstance(result, str) or result.strip().lower().startswith("error")


class _Policy:
    """The policy's decision procedure over one conversation, as a generator of steps."""

    def __init__(self, system: str, skip: str | None) -> None:
        version = parse_version(system)
        if version is None:
            raise ValueError("the system prompt has no PolicyDoc version line; this agent follows generated policies")
        names, self.depth = version
        self.templates = [TEMPLATES[n] for n in names]
        self.skip = skip
        self.keys = render_policy(self.templates, Dials(workflow_level=self.depth)).keys
        self.user_texts: list[str] = []
        self.user_id: str | None = None
        self.profile: dict[str, Any] | None = None

    def _match(self, text: str) -> tuple[Template, RequestKind | None] | None:
        low = text.lower()
        for t in self.templates:
            if all(k in low for k in t.forbidden.keywords):
                return t, None
        for t in self.templates:
            for kind in t.kinds:
                if all(k in low for k in kind.keywords):
                    return t, kind
        return None

    def run(self, opening: str) -> Procedure:
        text = opening
        while True:
            self.user_texts.append(text)
            match = self._match(text)
            if match is None:
                text = yield Step("No request I can act on yet.", say="How can I help you today?")
                continue
            template, kind = match
            if kind is None:
                rule = self.keys[f"{template.name}/forbidden"]
                text = yield Step(f"Rule {rule} forbids this request; I refuse with the prescribed words.",
                                  say=template.forbidden.phrase + ANYTHING_ELSE)
                continue
            text = yield from self._handle(template, kind, text)

    def _ask(self, step: Step) -> Generator[Step, str, str]:
        reply = yield step
        self.user_texts.append(reply)
        return reply

    def _authenticate(self) -> Generator[Step, str, bool]:
        found = _identity(" ".join(self.user_texts))
        tries = 0
        while found is None and tries < 2:
            yield from self._ask(Step(f"Rule {self.keys['authenticate']}: I must authenticate the user before "
                                      "looking up their records.", say=ASK_IDENTITY))
            found = _identity(" ".join(self.user_texts))
            tries += 1
        if found is None:
            return False
        how, args = found
        tool = "find_user_id_by_email" if how == "email" else "find_user_id_by_name_zip"
        given = "email" if how == "email" else "name and zip code"
        result = yield Step(f"Rule {self.keys['authenticate']}: authenticating with the user's {given}.",
                            tool=tool, arguments=args)
        if _failed(result):
            return False
        self.user_id = result.strip().strip('"')
        profile = yield Step("Reading the authenticated user's profile.", tool="get_user_details",
                             arguments={"user_id": self.user_id})
        self.profile = _parse(profile)
        return isinstance(self.profile, dict)

    def _find(self, template: Template, request_texts: list[str]) -> Generator[Step, str, dict[str, Any] | None]:
        rid = _record_id(template, " ".join(request_texts))
        if rid is None:
            reply = yield from self._ask(Step(f"I need to know which {template.noun} this is about.",
                                              say=f"Which {template.noun} is it? Please give me the {template.noun} id."))
            request_texts.append(reply)
            rid = _record_id(template, reply)
        if rid is not None:
            record = _parse((yield Step(f"Looking up {template.noun} {rid}.", tool=template.lookup_tool,
                                        arguments={template.id_slot: rid})))
            return record if isinstance(record, dict) else None
        if self.profile is None:
            return None
        said = " ".join(request_texts).lower()
        for candidate in self.profile.get(template.table, []):
            record = _parse((yield Step(f"Rule {self.keys['lookup']}: checking the user's {template.noun}s for the "
                                        "one described.", tool=template.lookup_tool,
                                        arguments={template.id_slot: candidate})))
            if isinstance(record, dict) and template.describe(record).lower() in said:
                return record
        return None

    def _explain(self, template: Template, kind: RequestKind, record: dict[str, Any], user: dict[str, Any],
                 depth: int) -> str:
        decision = decide(kind, record, user, depth)
        parts = []
        for level in range(1, decision.tested + 1):
            holds = level <= decision.taken
            parts.append(f"rule {self.keys[f'{template.name}/{kind.name}/{level}']} {'holds' if holds else 'does not hold'}")
        deciding = self.keys[f"{template.name}/{kind.name}/{decision.taken}"]
        checked = "; ".join(parts) if parts else "no nested conditions apply"
        return f"{kind.title}: {checked}; so rule {deciding} decides."

    def _handle(self, template: Template, kind: RequestKind, request: str) -> Generator[Step, str, str]:
        request_texts = [request]
        if self.skip != "authenticate" and self.user_id is None:
            ok = yield from self._authenticate()
            if not ok:
                yield Step("I could not authenticate the user.", tool="transfer_to_human_agents",
                           arguments={"summary": "The user could not be authenticated."})
                return ""
        record = yield from self._find(template, request_texts)
        if record is None:
            return (yield Step(f"I could not find the {template.noun}.",
                               say=f"I'm sorry, I could not find that {template.noun}." + ANYTHING_ELSE))
        if self.skip != "authenticate" and record.get("user_id") != self.user_id:
            return (yield Step(f"Rule {self.keys['ownership']}: this {template.noun} belongs to another user.",
                               say=MISMATCH_PHRASE + ANYTHING_ELSE))
        owner = self.profile if self.profile is not None and record.get("user_id") == self.user_id else None
        if owner is None:
            owner = _parse((yield Step(f"Reading the {template.noun} owner's tiers.", tool="get_user_details",
                                       arguments={"user_id": record.get("user_id", "")})))
        depth = outer_depth(self.depth) if self.skip == "nested_conditions" else self.depth
        why = self._explain(template, kind, record, owner or {}, depth)
        outcome = decide(kind, record, owner or {}, depth).outcome
        if isinstance(outcome, Deny):
            return (yield Step(why + " The policy says to refuse.", say=outcome.phrase + ANYTHING_ELSE))
        assert isinstance(outcome, Write)
        amount = " ".join(outcome.facts)
        if self.skip != "confirm":
            answer = yield Step(f"{why} Rule {self.keys['confirm']}: I must get a yes before writing.",
                                say=f"I can {outcome.summary}. Amount: {amount}. Do you confirm {outcome.tool} for "
                                    f"{record['id']}? (yes/no)")
            if not answer.strip().lower().startswith("yes"):
                return (yield Step("The user declined; I make no change.",
                                   say="Understood, I will not make that change." + ANYTHING_ELSE))
        result = yield Step(why if self.skip == "confirm" else "The user confirmed; making the change.",
                            tool=outcome.tool, arguments=dict(outcome.kwargs))
        if _failed(result):
            return (yield Step("The tool refused the change.",
                               say="I'm sorry, that change could not be made." + ANYTHING_ELSE))
        fact = self.keys[f"{template.name}/{kind.name}/fact"]
        return (yield Step(f"Rule {fact}: I tell the user the amount.",
                           say=f"Done: {outcome.summary}. Amount: {amount}." + ANYTHING_ELSE))


def _observations(messages: Sequence[dict[str, Any]]) -> tuple[str, str, list[str]]:
    """(system prompt, opening user message, the observation after each assistant message)."""
    system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
    start = next(i for i, m in enumerate(messages) if m.get("role") == "user")
    opening = messages[start].get("content") or ""
    observations: list[str] = []
    for m in messages[start + 1:]:
        if m.get("role") == "assistant":
            observations.append("")
        elif observations:
            content = _RESPONSE.sub("", m.get("content") or "").strip()
            observations[-1] = f"{observations[-1]}\n{content}".strip() if observations[-1] else content
    return system, opening, observations


class PolicyOracleAgent(Agent):
    """Follows a generated policy (see the module docstring); `skip` names one rule category to leave out."""

    def __init__(self, skip: str | None = None, *, name: str | None = None) -> None:
        if skip is not None and skip not in SKIPPABLE:
            raise ValueError(f"skip must be None or one of {list(SKIPPABLE)}, got {skip!r}")
        self.skip = skip
        self.name = name or ("policy-oracle" if skip is None else f"policy-skip-{skip}")

    def next_step(self, messages: Sequence[dict[str, Any]]) -> Step:
        """The step after `messages`, found by replaying the procedure over the conversation."""
        system, opening, observations = _observations(messages)
        procedure = _Policy(system, self.skip).run(opening)
        step = next(procedure)
        for obs in observations:
            step = procedure.send(obs)
        return step

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        step = self.next_step(messages)
        think = f"<think>{step.why}</think>\n"
        if step.tool is None:
            return AgentOutput(message={"role": "assistant", "content": think + step.say})
        arguments = json.dumps(step.arguments, ensure_ascii=False)
        if tools is not None:
            call = {"id": f"call_{len(messages)}", "type": "function",
                    "function": {"name": step.tool, "arguments": arguments}}
            return AgentOutput(message={"role": "assistant", "content": think.strip(), "tool_calls": [call]})
        body = json.dumps({"name": step.tool, "arguments": step.arguments}, ensure_ascii=False)
        return AgentOutput(message={"role": "assistant", "content": f"{think}<tool_call>\n{body}\n</tool_call>"})
