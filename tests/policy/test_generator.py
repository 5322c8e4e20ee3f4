"""The PolicyDoc generator: determinism, dials, policy rules, tools that check their input, and gold that
replays cleanly with the domain's own tools at every level of every dial."""

from __future__ import annotations

import itertools
import re

import pytest
from agentgym.envs.policy import PolicyTask, RuleCategory, ToolKind
from agentgym.envs.policy.generator import (
    DIAL_NAMES,
    DOMAIN_KINDS,
    MISMATCH_PHRASE,
    TEMPLATES,
    Dials,
    generate_domain,
    matters,
    parse_version,
    verify_gold,
)
from agentgym.envs.policy.scripted_user import ScriptedUser


def one_dial_grid() -> list[tuple[str, dict[str, int]]]:
    """Every level of every dial, for every domain kind; the other dials vary with it."""
    grid = []
    for d, domain in enumerate(DOMAIN_KINDS):
        for i, dial in enumerate(DIAL_NAMES):
            for level in range(1, 5):
                dials = {name: 1 + (d + i + level + j) % 4 for j, name in enumerate(DIAL_NAMES)}
                dials[dial] = level
                grid.append((domain, dials))
    return grid


def _by_id(domain, task: PolicyTask) -> dict:
    return {"actions": [(a.name, a.kwargs) for a in task.actions], "outputs": task.outputs, "meta": task.metadata,
            "goal": task.goal, "instruction": task.instruction}


def test_same_arguments_same_domain_and_seed_changes_it():
    a = generate_domain("mixed", env_level=3, task_level=2, workflow_level=4, query_level=4, num_tasks=6, seed=3)
    b = generate_domain("mixed", env_level=3, task_level=2, workflow_level=4, query_level=4, num_tasks=6, seed=3)
    c = generate_domain("mixed", env_level=3, task_level=2, workflow_level=4, query_level=4, num_tasks=6, seed=4)
    assert a.data == b.data and a.policy == b.policy
    assert [_by_id(a, t) for t in a.tasks] == [_by_id(b, t) for t in b.tasks]
    assert a.data != c.data


def test_task_i_does_not_depend_on_num_tasks():
    small = generate_domain("bank", workflow_level=3, query_level=2, num_tasks=3, seed=1)
    large = generate_domain("bank", workflow_level=3, query_level=2, num_tasks=9, seed=1)
    assert [_by_id(small, t) for t in small.tasks] == [_by_id(large, t) for t in large.tasks[:3]]


@pytest.mark.parametrize("bad", [0, 5, True, 2.0])
def test_dials_are_checked(bad):
    with pytest.raises(ValueError, match="from 1 to 4"):
        Dials(env_level=bad)
    with pytest.raises(ValueError, match="unknown domain"):
        generate_domain("zoo")


@pytest.mark.parametrize(("domain", "dials"), one_dial_grid())
def test_gold_replays_and_tasks_follow_the_dials(domain, dials):
    gen = generate_domain(domain, **dials, num_tasks=6, seed=sum(dials.values()))
    tools = {t.name: t for t in gen.tools}
    writes = {n for n, t in tools.items() if t.kind is ToolKind.WRITE}
    assert parse_version(gen.policy) == ([t.name for t in TEMPLATES.values()] if domain == "mixed" else [domain],
                                         dials["workflow_level"])
    for task in gen.tasks:
        verify_gold(gen, task)  # every gold call succeeds on a fresh copy
        meta, goal = task.metadata, task.goal
        assert {k: meta[k] for k in DIAL_NAMES} == dials
        requests = meta["requests"]
        forbidden = [r for r in requests if r["forbidden"]]
        assert len(requests) == dials["task_level"] + len(forbidden)
        assert len(forbidden) == (dials["query_level"] == 4)
        assert len(goal.requests) + 1 == len(requests) == len(goal.request_facts)
        gold_writes = [a for a in task.actions if a.name in writes]
        acted = [r for r in requests if not (r["forbidden"] or r["mismatch"] or r["declined"])]
        assert len(gold_writes) <= len(acted)
        assert not any(r["mismatch"] for r in requests) or dials["query_level"] <= 2
        if any(r["mismatch"] for r in requests):
            assert MISMATCH_PHRASE in task.outputs
        for r in forbidden:
            assert TEMPLATES[r["template"]].forbidden.phrase in task.outputs
        assert not any(a.name == t.forbidden.trap_tool for a in task.actions for t in TEMPLATES.values())
        assert all("," not in o for o in task.outputs)
        # what the user says up front, by query level
        ids = [r["record_id"] for r in requests if r["record_id"]]
        said = " ".join([goal.opening, *goal.requests])
        if dials["query_level"] == 1:
            assert all(i in said for i in ids) and any(v in said for v in goal.facts.values())
        else:
            assert not any(v in said for v in goal.facts.values())
            assert not re.search(r"\b[A-Z]{3}-\d{5}\b", said)
        if dials["query_level"] >= 3:
            assert not any(re.search(r"\b[A-Z]{3}-\d{5}\b", v) for f in goal.request_facts for v in f.values())
        # the rules the task exercises, with their categories
        rules = {r.id: r for r in gen.rules}
        assert all(r["id"] in rules and rules[r["id"]].category.value == r["category"] for r in meta["rules"])
        assert {"behavioral"} <= {r["category"] for r in meta["rules"]}


def test_policy_rules_are_numbered_categorized_and_nested_to_the_workflow_level():
    for level in range(1, 5):
        gen = generate_domain("mixed", workflow_level=level, num_tasks=1)
        categories = {r.category for r in gen.rules}
        assert categories == {RuleCategory.FACTUAL, RuleCategory.BEHAVIORAL, RuleCategory.CONDITIONAL}
        assert max(r.depth for r in gen.rules) == level
        for rule in gen.rules:
            assert f"{rule.id}. " in gen.policy or f"- {rule.id} " in gen.policy
        nested = [r for r in gen.rules if r.depth > 1]
        assert len(nested) == 8 * (level - 1)  # four templates, two request kinds each


def test_env_level_grows_tables_records_and_tools():
    sizes = []
    for level in range(1, 5):
        gen = generate_domain("retail", env_level=level, num_tasks=1)
        sizes.append((len(gen.data), len(gen.data["orders"]), len(gen.tools)))
    for a, b in itertools.pairwise(sizes):
        assert all(x < y for x, y in zip(a, b, strict=True))


def test_tools_refuse_bad_input():
    gen = generate_domain("retail", env_level=2, num_tasks=1)
    tools = {t.name: t for t in gen.tools}
    data = gen.data
    pending = next(o for o in data["orders"].values() if o["status"] == "pending")
    delivered = next(o for o in data["orders"].values() if o["status"] == "delivered")
    with pytest.raises(ValueError, match="not found"):
        tools["get_order_details"].invoke(data, order_id="ORD-00000")
    with pytest.raises(ValueError, match="missing"):
        tools["get_order_details"].invoke(data)
    with pytest.raises(ValueError, match="unexpected"):
        tools["get_order_details"].invoke(data, order_id=pending["id"], extra=1)
    with pytest.raises(ValueError, match="only delivered"):
        tools["return_order"].invoke(data, order_id=pending["id"], refund_method="store_credit", amount=1.0)
    with pytest.raises(ValueError, match="must be one of"):
        tools["return_order"].invoke(data, order_id=delivered["id"], refund_method="cash", amount=1.0)
    with pytest.raises(ValueError, match="at most the price"):
        tools["return_order"].invoke(data, order_id=delivered["id"], refund_method="store_credit",
                                     amount=delivered["price"] + 1)
    with pytest.raises(ValueError, match="must be a number"):
        tools["cancel_order"].invoke(data, order_id=pending["id"], refund_amount="10")
    with pytest.raises(ValueError, match="user not found"):
        tools["find_user_id_by_email"].invoke(data, email="nobody@example.com")
    schema = tools["return_order"].schema["function"]
    assert schema["parameters"]["required"] == ["order_id", "refund_method", "amount"]
    assert tools["return_order"].kind is ToolKind.WRITE and tools["transfer_to_human_agents"].kind is ToolKind.TERMINATE


def test_each_skippable_category_matters_for_some_tasks_and_not_others():
    seen = {c: set() for c in ("authenticate", "confirm", "nested_conditions")}
    for q, w in [(1, 4), (2, 3), (3, 4)]:
        gen = generate_domain("mixed", env_level=2, task_level=2, workflow_level=w, query_level=q, num_tasks=20)
        for task in gen.tasks:
            for c in seen:
                seen[c].add(matters(task, c))
    assert all(v == {True, False} for v in seen.values())
    with pytest.raises(ValueError):
        matters(gen.tasks[0], "be_polite")


async def test_scripted_user_answers_from_the_goal():
    gen = generate_domain("airline", task_level=2, query_level=2, num_tasks=10, seed=2)
    task = next(t for t in gen.tasks if t.goal.accepts and not any(r["mismatch"] for r in t.metadata["requests"]))
    user = ScriptedUser()
    opening = await user.start(task)
    assert opening == task.goal.opening and not any(v in opening for v in task.goal.facts.values())
    # questions get only the facts asked for; reasoning blocks are not read
    reply = await user.reply("<think>I need the reservation id and email</think>What is your email address?")
    assert reply == f"email: {task.goal.facts['email']}"  # env level 1: users authenticate by email
    rid = task.goal.request_facts[0]["reservation_id"]
    assert await user.reply("Which reservation is it? Please give me the reservation id.") == f"reservation id: {rid}"
    tool = task.goal.accepts[0]
    assert (await user.reply(f"Do you confirm {tool} for {rid}? (yes/no)")).startswith("Yes")
    assert (await user.reply(f"Do you confirm upgrade_cabin for {rid}? (yes/no)")).startswith("No")
    assert await user.reply("Done. Is there anything else I can help you with?") == task.goal.requests[0]
    assert (await user.reply("Done. Anything else?")).endswith("###STOP###")


async def test_scripted_user_without_a_goal_reads_the_instruction_and_stops():
    user = ScriptedUser()
    task = PolicyTask(id="t", instruction="You want to cancel reservation ABC.")
    assert await user.start(task) == task.instruction
    assert await user.reply("How can I help?") == "###STOP###"
