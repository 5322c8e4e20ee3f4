"""Scripted policies and a scripted value function for `WebShop-v0` that read only the conversation.

`ShopPolicy(goals, eps)` is the `Shopper` as a function of the messages (so `collect` may share it across envs
and tree search may call it on any branch): for the goal in the opening message a fresh `Shopper` reads every
page shown so far, in order, and answers for the last one as a BrowserGym call string. With probability `eps`
the answer is replaced by a click on a random other element of the page (an epsilon-noisy policy).

`shop_value(catalog, goals)` scores a state for tree search from the page text and the goal's fields:

- 1.0 on the "Thank you" page when the purchase it shows (the product looked up by its title in the catalogue,
  with the options and price shown) has WebShop reward 1 for the goal;
- 0.0 on that page for any other purchase, after a `send_msg_to_user` without such a purchase (the episode is
  over and failed), and on a product page where an option group the goal names is set to another value;
- 0.5 on every other page (nothing wrong done yet).

It is a privileged verifier: it knows the goal's structured fields (type, attributes, options, budget) that the
agent reads only as an instruction.

    env = agentgym.make("WebShop-v0")
    goals = goals_for(env.unwrapped, ["test-0", "test-1"])
    agent = FunctionAgent(ShopPolicy(goals, eps=0.3))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from agentgym.envs.web.actions import format_action_call
from agentgym.envs.web.shop.catalog import Catalog, Product
from agentgym.envs.web.shop.reward import Goal, get_reward
from agentgym.envs.web.shop.shopper import Shopper, parse_page

__all__ = ["ShopPolicy", "goal_text", "goals_for", "pages_of", "shop_value"]

PAGE_MARK = "# Current page\n"
_BID = re.compile(r"^\t*\[([^\]]+)\] ", re.MULTILINE)
_PRICE = re.compile(r"\$([\d,]+\.\d{2})")


def goal_text(messages: Sequence[dict[str, Any]]) -> str:
    """The goal shown in the opening user message (`Goal: ...` before the page)."""
    for m in messages:
        content = m.get("content")
        if m.get("role") == "user" and isinstance(content, str) and content.startswith("Goal: "):
            return content[len("Goal: "):].split("\n\n" + PAGE_MARK, 1)[0].strip()
    raise ValueError("no goal in the conversation")


def pages_of(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The page texts the env showed, in order."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if m.get("role") in ("user", "tool") and isinstance(content, str) and PAGE_MARK in content:
            out.append(content.rsplit(PAGE_MARK, 1)[1])
    return out


def goals_for(env: Any, task_ids: Sequence[str]) -> dict[str, Goal]:
    """Goal text -> `Goal` for `task_ids` of a `WebShopEnv` (what `ShopPolicy` and `shop_value` look up)."""
    return {env.tasks.get(t).prompt: env.goal(env.tasks.get(t)) for t in task_ids}


class ShopPolicy:
    """The scripted shopper as a policy of the conversation alone, optionally epsilon-noisy.

    Args:
        goals: goal text (the task prompt) -> `Goal` (see `goals_for`).
        eps: the probability that an answer is replaced by a click on a random other element of the page.
        seed: the random generator's seed.

    Attributes:
        calls: how many times it was called (policy calls, for equal-budget comparisons).
    """

    def __init__(self, goals: dict[str, Goal], eps: float = 0.0, seed: int = 0) -> None:
        self.goals = goals
        self.eps = eps
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def __call__(self, messages: Sequence[dict[str, Any]]) -> str:
        self.calls += 1
        pages = pages_of(messages)
        shopper = Shopper(self.goals[goal_text(messages)])
        for page in pages[:-1]:
            shopper.next_action(page)  # rebuild what it remembers
        action = shopper.next_action(pages[-1]) if pages else None
        if action is None:
            text = format_action_call("send_msg_to_user", {"text": "Done: I bought the product."})
        else:
            text = format_action_call(action.name, dict(action.args))
        if self.eps and pages and self.rng.random() < self.eps:
            target = str((action.args if action is not None else {}).get("bid"))
            others = [b for b in _BID.findall(pages[-1]) if b != target]
            if others:
                text = format_action_call("click", {"bid": str(self.rng.choice(others))})
        return text


def shop_value(catalog: Catalog, goals: dict[str, Goal]) -> Callable[[list[dict[str, Any]], Any], float]:
    """The scripted value function described in the module docstring, for `TreeSearchAgent(value=...)`."""
    by_title: dict[str, list[Product]] = {}
    for p in catalog.products:
        by_title.setdefault(p.title, []).append(p)

    def value(messages: list[dict[str, Any]], task: Any) -> float:
        pages = pages_of(messages)
        if not pages:
            return 0.5
        goal = goals[goal_text(messages)]
        header, nodes = parse_page(pages[-1])
        path = urlsplit(header.get("URL", "")).path
        texts = [n.name for n in nodes if n.role == "StaticText"]
        last = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
        ended = last is not None and str(last.get("content") or "").lstrip().startswith("send_msg_to_user(")
        if path.endswith("/done") or ended:
            bought = next((t.removeprefix("You bought: ") for t in texts if t.startswith("You bought: ")), None)
            if bought is None:
                return 0.0 if ended else 0.5  # ended without buying / "nothing bought yet"
            opts_line = next((t.removeprefix("Options: ") for t in texts if t.startswith("Options: ")), "none")
            options = dict(o.split(": ", 1) for o in opts_line.split(", ") if ": " in o)
            m = _PRICE.search(next((t for t in texts if t.startswith("Price: ")), ""))
            price = float(m.group(1).replace(",", "")) if m else None
            best = max((get_reward(p, goal, price, options).reward for p in by_title.get(bought, [])), default=0.0)
            return 1.0 if best >= 1.0 else 0.0
        if "/item/" in path:
            for i, n in enumerate(nodes):
                if n.role == "group" and n.name in goal.options:
                    for radio in nodes[i + 1:]:
                        if radio.depth <= n.depth:
                            break
                        if radio.role == "radio" and radio.prop("checked") == "true" and radio.name != goal.options[n.name]:
                            return 0.0
                if n.role in ("combobox", "listbox") and n.name in goal.options:
                    chosen = n.prop("value") or ""
                    if chosen and not chosen.startswith("Select ") and chosen != goal.options[n.name]:
                        return 0.0
        return 0.5

    return value
