"""Scripted solutions for MiniWoB++ tasks: read the instruction and the page, act through element ids.

Each solver is `async def solve(session, utterance) -> None`. It finds its targets' `data-agid` ids in the
current page (a CSS selector plus the element's text) and does every step as a `WebAction`, so a solved
episode shows that the backend's ids, actions and the task's own reward all work together. They are test
oracles and demonstrations, not agents: `SOLUTIONS` maps a task name to its solver.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

from agentgym.tools.browser.base import AGID_ATTR, ActionError, PageSession, PageState, WebAction

Solver = Callable[[PageSession, str], Awaitable[None]]

_FIND = r"""(function (css, text, mode, attr) {
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  for (const el of document.querySelectorAll(css)) {
    const t = norm(el.textContent);
    const ok = text === null || (mode === 'exact' ? t === text : mode === 'end' ? t.endsWith(text) : t.includes(text));
    if (ok && el.getAttribute(attr)) return el.getAttribute(attr);
  }
  return null;
})(%s)"""


async def find_bid(session: PageSession, css: str, text: str | None = None, mode: str = "exact") -> str:
    """The id of the first element matching `css` whose whitespace-normalized text equals (`mode="exact"`),
    contains ("contains") or ends with ("end") `text`; raises `ActionError` when there is none."""
    await session.state()  # number elements that appeared since the last action
    args = ", ".join(json.dumps(a) for a in (css, text, mode, AGID_ATTR))
    bid = await session.evaluate(_FIND % args)
    if not bid:
        raise ActionError(f"no element {css!r} with text {text!r}")
    return str(bid)


async def click(session: PageSession, css: str, text: str | None = None, mode: str = "exact") -> PageState:
    return await session.act(WebAction("click", {"bid": await find_bid(session, css, text, mode)}))


async def fill(session: PageSession, css: str, value: str) -> PageState:
    return await session.act(WebAction("fill", {"bid": await find_bid(session, css), "value": value}))


def _quoted(utterance: str) -> list[str]:
    return re.findall(r'"([^"]*)"', utterance)


async def click_button(session: PageSession, utterance: str) -> None:
    await click(session, "#area button", _quoted(utterance)[0])


async def click_link(session: PageSession, utterance: str) -> None:
    await click(session, "#area span.alink", _quoted(utterance)[0])


async def _select_labels(session: PageSession, names: list[str]) -> None:
    for name in names:
        bid = await find_bid(session, "#boxes label", name)
        # the label's own input: clicking the label toggles it too, but the input is the control itself
        inner = await session.evaluate(
            f'document.querySelector(\'[{AGID_ATTR}="{bid}"] input\').getAttribute("{AGID_ATTR}")')
        await session.act(WebAction("click", {"bid": str(inner)}))


async def click_checkboxes(session: PageSession, utterance: str) -> None:
    m = re.match(r"Select (.*) and click Submit\.", utterance)
    listed = m.group(1) if m else ""
    names = [] if listed == "nothing" else [n.strip() for n in listed.split(",") if n.strip()]
    await _select_labels(session, names)
    await click(session, "#subbtn")


async def click_option(session: PageSession, utterance: str) -> None:
    m = re.match(r"Select (.*) and click Submit\.", utterance)
    await _select_labels(session, [m.group(1).strip()] if m else [])
    await click(session, "#subbtn")


async def enter_text(session: PageSession, utterance: str) -> None:
    await fill(session, "#tt", _quoted(utterance)[0])
    await click(session, "#subbtn")


async def focus_text(session: PageSession, utterance: str) -> None:
    await click(session, "#tt")


async def click_dialog(session: PageSession, utterance: str) -> None:
    await click(session, "button.ui-dialog-titlebar-close")


async def click_tab(session: PageSession, utterance: str) -> None:
    m = re.search(r"Tab #(\d+)", utterance)
    await click(session, "#area ul a", f"Tab #{m.group(1) if m else 1}")


async def login_user(session: PageSession, utterance: str) -> None:
    user, password = _quoted(utterance)[:2]
    await fill(session, "#username", user)
    await fill(session, "#password", password)
    await click(session, "#subbtn")


async def enter_password(session: PageSession, utterance: str) -> None:
    password = _quoted(utterance)[0]
    await fill(session, "#password", password)
    await fill(session, "#verify", password)
    await click(session, "#subbtn")


async def choose_list(session: PageSession, utterance: str) -> None:
    m = re.match(r"Select (.*) from the list and click Submit\.", utterance)
    item = m.group(1) if m else ""
    await session.act(WebAction("select_option", {"bid": await find_bid(session, "#options"), "options": item}))
    await click(session, "#area button", "Submit")


async def use_autocomplete(session: PageSession, utterance: str) -> None:
    parts = _quoted(utterance)
    start, end = parts[0], (parts[1] if len(parts) > 1 else "")
    bid = await find_bid(session, "#tags")
    # type the prefix key by key so the widget's keyboard handlers fire, then pick a suggestion
    await session.act(WebAction("click", {"bid": bid}))
    for ch in start:
        await session.act(WebAction("press", {"bid": bid, "key": ch}))
    for _ in range(40):
        try:
            await click(session, "ul.ui-autocomplete .ui-menu-item-wrapper", end, mode="end")
            break
        except ActionError:
            await asyncio.sleep(0.05)
    else:
        raise ActionError(f"no suggestion for {start!r} ... {end!r}")
    await click(session, "#subbtn")


async def click_collapsible(session: PageSession, utterance: str) -> None:
    await click(session, "#area h3")
    await click(session, "#subbtn")


async def click_test(session: PageSession, utterance: str) -> None:
    await click(session, "#subbtn")


SOLUTIONS: dict[str, Solver] = {
    "click-button": click_button,
    "click-link": click_link,
    "click-checkboxes": click_checkboxes,
    "click-option": click_option,
    "enter-text": enter_text,
    "focus-text": focus_text,
    "click-dialog": click_dialog,
    "click-tab": click_tab,
    "login-user": login_user,
    "enter-password": enter_password,
    "choose-list": choose_list,
    "use-autocomplete": use_autocomplete,
    "click-collapsible": click_collapsible,
    "click-test": click_test,
}
