"""Sampling a conversation and turning it into a `PolicyTask`: the user's goal, the gold, the metadata.

A task is sampled as a `TaskSpec` (who, how they authenticate, which requests on which records), aiming
each request at a random branch of its ladder. Then:

- at query level <= 2 a task may give a record of another user (`mismatch`: the gold is to refuse);
- a task may have the user decline one write when asked to confirm it (its tool is left out of
  `goal.accepts`, so the gold has no such write);
- at query level 4 one forbidden request is slipped in after the first.

The gold comes from `solve` on the database; `nested_decisive` records whether an agent that only reads the
outermost condition of each rule would end with another database or miss a required output.
"""

from __future__ import annotations

import numpy as np
from agentgym.envs.policy.database import database_hash
from agentgym.envs.policy.generator.ladder import RequestKind, Write, decide, outer_depth
from agentgym.envs.policy.generator.policy_doc import PolicyText
from agentgym.envs.policy.generator.solver import (
    GenerationError,
    RequestSpec,
    Solution,
    TaskSpec,
    apply,
    solve,
)
from agentgym.envs.policy.generator.template import Template
from agentgym.envs.policy.generator.world import World
from agentgym.envs.policy.types import PolicyTask, UserGoal

__all__ = ["DECLINE_RATE", "MISMATCH_RATE", "build_task", "sample_spec"]

MISMATCH_RATE = 0.3
DECLINE_RATE = 0.3


def _pick(rng: np.random.Generator, items: list) -> object:
    return items[int(rng.integers(len(items)))]


def _eligible(world: World, user_id: str, template: Template, kind: RequestKind, used: set[str]) -> list[str]:
    """The user's records a request kind applies to (by status), less those already used."""
    table = world.data[template.table]
    return [r for r in world.data["users"][user_id][template.table]
            if table[r]["status"] == kind.status and r not in used]


def sample_spec(world: World, rng: np.random.Generator) -> TaskSpec:
    """A random conversation: a user with enough eligible records, one request per task level."""
    d, data = world.dials, world.data
    pairs = [(t, k) for t in world.templates for k in t.kinds]
    user_ids = sorted(data["users"])
    for _ in range(500):
        uid = str(_pick(rng, user_ids))
        user = data["users"][uid]
        used: set[str] = set()
        requests: list[RequestSpec] = []
        for _ in range(d.task_level):
            options = [(t, k) for t, k in pairs if _eligible(world, uid, t, k, used)]
            if not options:
                break
            t, k = _pick(rng, options)
            candidates = _eligible(world, uid, t, k, used)
            target = int(rng.integers(d.workflow_level))
            hits = [r for r in candidates if decide(k, data[t.table][r], user, d.workflow_level).taken == target]
            rid = str(_pick(rng, hits or candidates))
            used.add(rid)
            requests.append(RequestSpec(t.name, k.name, rid))
        if len(requests) < d.task_level:
            continue
        identity = "email" if d.env_level == 1 or rng.random() < 0.6 else "name_zip"
        if d.query_level <= 2 and rng.random() < MISMATCH_RATE:
            i = int(rng.integers(len(requests)))
            t = world.template(requests[i].template)
            k = t.kind(requests[i].kind)
            others = sorted(r for r, rec in data[t.table].items() if rec["user_id"] != uid and rec["status"] == k.status)
            if others:
                requests[i] = RequestSpec(t.name, k.name, str(_pick(rng, others)), mismatch=True)
        if d.query_level == 4:
            t = _pick(rng, list(world.templates))
            requests.insert(int(rng.integers(1, len(requests) + 1)), RequestSpec(t.name, None, None))
        return TaskSpec(uid, identity, requests, d.query_level)
    raise GenerationError("no user has enough eligible records for this task level")


def _differs(world: World, gold: Solution, other: Solution) -> bool:
    """Whether `other`'s writes end in another database or its messages miss one of `gold`'s outputs."""
    if [(a.name, a.kwargs) for a in gold.writes] != [(a.name, a.kwargs) for a in other.writes]:
        ends = []
        for solution in (gold, other):
            data = dict(world.data)
            for action in solution.writes:
                data = apply(world, data, action)
            ends.append(data)
        if database_hash(ends[0]) != database_hash(ends[1]):
            return True
    said = [s.lower() for r in other.resolutions for s in [*r.outputs, r.summary] if s]
    return not all(any(o.lower() in s for s in said) for o in gold.outputs)


def _goal(world: World, spec: TaskSpec, accepts: list[str], declined: int | None) -> tuple[UserGoal, str]:
    """The scripted user's goal and the natural-language instruction for a model-played user."""
    data, q = world.data, spec.query_level
    user = data["users"][spec.user_id]
    first, last = user["name"]["first_name"], user["name"]["last_name"]
    if spec.identity == "email":
        facts = {"email": user["email"]}
        ident, who = f"My email is {user['email']}.", f"Your email is {user['email']}."
    else:
        facts = {"first_name": first, "last_name": last, "zip": user["address"]["zip"]}
        ident = f"My name is {first} {last} and my zip code is {user['address']['zip']}."
        who = f"You do not remember your email; your zip code is {user['address']['zip']}."
    aliases = {"email": ["email"], "first_name": ["first name"], "last_name": ["last name"], "zip": ["zip"]}
    texts, wishes, request_facts = [], [], []
    for req in spec.requests:
        t = world.template(req.template)
        aliases[t.id_slot] = [f"{t.noun} id", f"{t.noun} number"]
        if req.forbidden:
            texts.append(t.forbidden.request)
            wishes.append(t.forbidden.request)
            request_facts.append({})
            continue
        k, record = t.kind(req.kind), data[t.table][req.record_id]
        ref = f"{t.noun} {req.record_id}"
        texts.append(k.ask.format(ref=ref) if q == 1 else k.vague)
        if q <= 2:
            request_facts.append({t.id_slot: req.record_id})
            wishes.append(k.ask.format(ref=ref))
        else:
            request_facts.append({t.id_slot: f"I don't have it; it is {t.describe(record)}"})
            wishes.append(f"{k.vague} It is {t.describe(record)}; you do not know its id.")
    opening = f"Hi! {ident} {texts[0]}" if q == 1 else f"Hi! {texts[0]}"
    goal = UserGoal(opening=opening, requests=[f"One more thing: {x}" for x in texts[1:]], facts=facts,
                    fact_aliases=aliases, accepts=list(accepts), request_facts=request_facts)
    if declined is not None:
        wishes[declined] += " When the agent asks you to confirm this change, say no."
    steps = " ".join(f"({i + 1}) {w}" for i, w in enumerate(wishes))
    manner = ("You give each detail only when the agent asks for it. " if q >= 2 else
              "You give your details and the ids up front. ")
    consent = (f"When the agent asks you to confirm a change, agree only to changes made with "
               f"{', '.join(accepts) or 'no tool'}; refuse any other.")
    instruction = (f"You are {first} {last}. {who} {manner}You have these requests, one at a time, in this order: "
                   f"{steps} {consent}")
    return goal, instruction


def _rules(world: World, policy: PolicyText, spec: TaskSpec, gold: Solution) -> list[dict[str, str]]:
    keys = ["one_call"]
    if any(not r.forbidden for r in spec.requests):
        keys += ["authenticate", "ownership"]
    if spec.query_level >= 3:
        keys.append("lookup")
    for req, res in zip(spec.requests, gold.resolutions, strict=True):
        if req.forbidden:
            keys.append(f"{req.template}/forbidden")
        elif res.decision is not None:
            keys += [f"{req.template}/{req.kind}/{level}" for level in range(res.decision.tested + 1)]
            if isinstance(res.decision.outcome, Write):
                keys += ["confirm", "amounts", f"{req.template}/{req.kind}/fact"]
    category = {r.id: r.category.value for r in policy.rules}
    ids = list(dict.fromkeys(policy.keys[k] for k in keys))
    return [{"id": i, "category": category[i]} for i in ids]


def build_task(world: World, policy: PolicyText, spec: TaskSpec, rng: np.random.Generator, task_id: str
               ) -> PolicyTask:
    """The task for `spec`: gold by execution, maybe one declined write, goal, instruction and metadata."""
    depth = world.dials.workflow_level
    first = solve(world, spec, depth)
    writes = [r.write.name for r in first.resolutions if r.write is not None]
    declinable = [i for i, r in enumerate(first.resolutions) if r.write is not None and writes.count(r.write.name) == 1]
    declined = int(_pick(rng, declinable)) if declinable and rng.random() < DECLINE_RATE else None
    accepts = sorted({r.write.name for i, r in enumerate(first.resolutions) if r.write is not None and i != declined})
    gold = solve(world, spec, depth, accepts)
    if any("," in o for o in gold.outputs):  # the grader drops commas from messages, never from outputs
        raise GenerationError(f"an output of task {task_id} has a comma: {gold.outputs}")
    outer = solve(world, spec, outer_depth(depth), accepts)
    goal, instruction = _goal(world, spec, accepts, declined)
    requests = []
    for i, (req, res) in enumerate(zip(spec.requests, gold.resolutions, strict=True)):
        requests.append({"template": req.template, "kind": req.kind, "record_id": req.record_id,
                         "forbidden": req.forbidden, "mismatch": req.mismatch, "declined": i == declined,
                         "branch": None if res.decision is None else res.decision.taken})
    metadata = {"generator": "policydoc", **world.dials.as_dict(), "templates": [t.name for t in world.templates],
                "identity": spec.identity, "requests": requests, "rules": _rules(world, policy, spec, gold),
                "nested_decisive": _differs(world, gold, outer)}
    return PolicyTask(id=task_id, instruction=instruction, actions=gold.actions, outputs=gold.outputs,
                      user_id=spec.user_id, goal=goal, metadata=metadata)
