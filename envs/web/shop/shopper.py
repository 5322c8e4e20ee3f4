"""A scripted shopper: reads the page text an agent reads and buys a product that meets the goal.

`Shopper(goal).next_action(page_text)` returns the next `WebAction` (or None when the purchase is done)
from the axtext observation alone: on the home page it searches for the product type and the goal's
attributes; on a results page it opens, in order, results whose title names the product type and whose
price is within budget (then "Next >"); on a product page it checks the price, attributes and offered
options, goes back when one is missing, otherwise picks the options and clicks "Buy Now". It knows the goal
(the task's metadata) but never the target product, so reaching reward 1 checks that the shop's search,
pages and forms let an agent do the task.

`ShopOracle(env)` wraps it as a policy for `FunctionAgent` over `WebShopEnv` (tool calls in the env's
protocol: `click`, `fill`, `select_option`, `go_back`, `send_msg_to_user`); `drive(session, goal)` runs it
directly on a `PageSession`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agentgym.envs.web.shop.catalog import tokens
from agentgym.envs.web.shop.reward import Goal
from agentgym.tools.browser.axtext import render
from agentgym.tools.browser.base import PageSession, WebAction

_QUOTED = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_LINE = re.compile(rf"^(?P<indent>\t*)(?:\[(?P<bid>[^\]]+)\] )?(?P<role>\S+)(?: (?P<name>{_QUOTED}))?(?P<props>.*)$")
_PRICE = re.compile(r"\$([\d,]+\.\d{2})")


@dataclass
class Node:
    """One line of the page text."""

    depth: int
    bid: str | None
    role: str
    name: str
    props: str

    def prop(self, key: str) -> str | None:
        m = re.search(rf"(?:^| ){key}=({_QUOTED}|\S+)", self.props)
        if m is None:
            return None
        value = m.group(1)
        return _unquote(value) if value[:1] in "'\"" else value


def parse_page(text: str) -> tuple[dict[str, str], list[Node]]:
    """The header fields (`URL`, `Title`, ...) and outline lines of an axtext page."""
    header: dict[str, str] = {}
    nodes: list[Node] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines) and lines[i].strip():
        key, _, value = lines[i].partition(": ")
        header[key.strip()] = value.strip()
        i += 1
    for line in lines[i:]:
        if not line.strip() or line.startswith("RootWebArea") or line.startswith("[page cut"):
            continue
        m = _LINE.match(line)
        if m:
            nodes.append(Node(len(m["indent"]), m["bid"], m["role"], _unquote(m["name"]) if m["name"] else "",
                              (m["props"] or "").strip()))
    return header, nodes


def _unquote(quoted: str) -> str:
    """The text of a quoted name as axtext writes it (Python's repr of a string)."""
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted[1:-1]
    return value if isinstance(value, str) else quoted[1:-1]


def _price(text: str) -> float | None:
    m = _PRICE.search(text)
    return float(m.group(1).replace(",", "")) if m else None


@dataclass
class Shopper:
    """The scripted shopper for one goal (one episode).

    Args:
        goal: what to buy.
        max_pages: result pages to look through before searching for the type alone.
    """

    goal: Goal
    max_pages: int = 5
    visited: set[str] = field(default_factory=set)
    broad: bool = False
    done: bool = False

    @property
    def query(self) -> str:
        if self.broad:
            return self.goal.type_name
        return " ".join([*self.goal.attributes, self.goal.type_name, *self.goal.options.values()])

    def _type_ok(self, title: str) -> bool:
        return set(tokens(self.goal.type_name)) <= set(tokens(title))

    def next_action(self, page_text: str) -> WebAction | None:
        """The next action for the page shown by `page_text` (an `axtext.render` output); None when done."""
        header, nodes = parse_page(page_text)
        path = urlsplit(header.get("URL", "")).path
        if self.done or path.endswith("/done"):
            self.done = True
            return None
        if re.search(r"/item/[^/]+/(description|features)$", path):
            return WebAction("go_back")
        if "/item/" in path:
            return self._product(nodes)
        if path.endswith("/search"):
            return self._results(nodes)
        return self._search(nodes)

    def _search(self, nodes: list[Node]) -> WebAction:
        box = next((n for n in nodes if n.role in ("textbox", "searchbox") and n.bid), None)
        if box is None:
            return WebAction("go_back")
        if (box.prop("value") or "") != self.query:
            return WebAction("fill", {"bid": box.bid, "value": self.query})
        button = next((n for n in nodes if n.role == "button" and n.name == "Search" and n.bid), None)
        if button is None:
            return WebAction("press", {"key": "Enter", "bid": box.bid})
        return WebAction("click", {"bid": button.bid})

    def _results(self, nodes: list[Node]) -> WebAction:
        box = next((n for n in nodes if n.role in ("textbox", "searchbox") and n.bid), None)
        if box is not None and (box.prop("value") or "") != self.query:
            return self._search(nodes)
        # the box holds the query but the results are another search's (it was typed, not submitted): submit
        shown = next((n.name for n in nodes if n.role == "heading" and n.name.startswith("Results for ")), None)
        if box is not None and shown is not None and shown != f'Results for "{self.query}"':
            return self._search(nodes)
        for i, n in enumerate(nodes):
            if n.role != "link" or not n.bid or n.name in self.visited:
                continue
            after = nodes[i + 1] if i + 1 < len(nodes) else None
            price = _price(after.name) if after is not None and after.role == "StaticText" else None
            if price is None or not self._type_ok(n.name) or price > self.goal.price_upper:
                continue
            self.visited.add(n.name)
            return WebAction("click", {"bid": n.bid})
        nxt = next((n for n in nodes if n.role == "link" and n.name == "Next >" and n.bid), None)
        page = next((n.name for n in nodes if n.role == "StaticText" and n.name.startswith("Page ")), "")
        m = re.match(r"Page (\d+)", page)
        if nxt is not None and (not m or int(m.group(1)) < self.max_pages):
            return WebAction("click", {"bid": nxt.bid})
        if not self.broad:
            self.broad = True
            return self._search(nodes)
        self.done = True
        return WebAction("send_msg_to_user", {"text": "I could not find a matching product."})

    def _product(self, nodes: list[Node]) -> WebAction:
        title = next((n.name for n in nodes if n.role == "heading"), "")
        self.visited.add(title)
        texts = [n.name for n in nodes if n.role == "StaticText"]
        price = next((_price(t) for t in texts if t.startswith("Price:")), None)
        attrs_line = next((t for t in texts if t.startswith("Attributes:")), "")
        have = {a.strip().lower() for a in attrs_line.removeprefix("Attributes:").split(",")}
        ok = self._type_ok(title) and price is not None and price <= self.goal.price_upper
        ok = ok and all(a.lower() in have for a in self.goal.attributes)
        steps: list[WebAction] = []
        for group, value in self.goal.options.items():
            step = self._option_step(nodes, group, value)
            if step is False:
                ok = False
                break
            if isinstance(step, WebAction):
                steps.append(step)
        if not ok:
            return WebAction("go_back")
        if steps:
            return steps[0]
        buy = next((n for n in nodes if n.role == "button" and n.name == "Buy Now" and n.bid), None)
        return WebAction("click", {"bid": buy.bid}) if buy is not None else WebAction("go_back")

    @staticmethod
    def _option_step(nodes: list[Node], group: str, value: str) -> WebAction | bool:
        """The action that sets option `group` to `value`, True when it is set, False when not offered."""
        for i, n in enumerate(nodes):
            if n.role == "group" and n.name == group:
                for m in nodes[i + 1:]:
                    if m.depth <= n.depth:
                        break
                    if m.role == "radio" and m.name == value and m.bid:
                        return True if m.prop("checked") == "true" else WebAction("click", {"bid": m.bid})
                return False
            if n.role in ("combobox", "listbox") and n.name == group and n.bid:
                labels = [m.name for m in nodes[i + 1:] if m.role == "option" and m.depth > n.depth]
                if value not in labels:
                    return False
                if n.prop("value") == value:
                    return True
                return WebAction("select_option", {"bid": n.bid, "options": [value]})
        return False


async def drive(session: PageSession, goal: Goal, start_url: str, max_steps: int = 40) -> list[WebAction]:
    """Run a `Shopper` on `session` from `start_url` until it buys or gives up; returns its actions."""
    shopper = Shopper(goal)
    state = await session.goto(start_url)
    actions = []
    for _ in range(max_steps):
        action = shopper.next_action(render(state))
        if action is None or action.name == "send_msg_to_user":
            break
        actions.append(action)
        state = await session.act(action)
    return actions


class ShopOracle:
    """Policy callable for `FunctionAgent` over a `WebShopEnv`: the `Shopper` for the current task's goal,
    reading the page from the latest observation and answering with one tool call in the env's protocol."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._task_id: str | None = None
        self._shopper: Shopper | None = None
        self._n = 0

    def _call(self, name: str, **arguments: Any) -> str | dict[str, Any]:
        self._n += 1
        return self.env.protocol.action(name, arguments, f"oracle_{self._n}")

    def __call__(self, messages: Sequence[dict[str, Any]]) -> str | dict[str, Any]:
        task = self.env.state.task
        if self._shopper is None or self._task_id != task.id or not any(m.get("role") == "assistant" for m in messages):
            self._task_id, self._shopper = task.id, Shopper(Goal.from_dict(task.metadata["goal"]))
        page = ""
        for m in reversed(messages):
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if m.get("role") in ("user", "tool") and isinstance(content, str) and "# Current page\n" in content:
                page = content.rsplit("# Current page\n", 1)[1]
                break
        action = self._shopper.next_action(page)
        if action is None:
            return self._call("send_msg_to_user", text="Done: I bought the product.")
        args = dict(action.args)
        if action.name == "press":
            return self._call("press", key=args["key"], bid=args.get("bid"))
        return self._call(action.name, **args)
