"""`HTTPBackend`: a browserless `WebBackend` that fetches pages with httpx and acts on them itself.

It runs no JavaScript: it serves sites made of links and HTML forms (such as the project's shop,
`envs/web/shop`), where it behaves as a browser would, at a fraction of a browser's cost. Each
`HTTPSession` has its own cookie jar, tabs and back/forward history. A page's `PageState.html` is the served
HTML with `data-agid` ids from `axtext.assign_ids`, so `axtext.render` shows it exactly as it shows the same
page from the Playwright backend.

Actions:
- `click(bid)`: a link is followed (GET its href; `target="_blank"` opens a tab); a submit button (or
  `input type=submit|image`) submits its form with the form's fields as they are in this session (GET or
  POST per the form's method); a checkbox toggles and a radio button is checked (its group unchecked), kept
  in the page so the next observation shows it; a label clicks its control; a `<summary>` opens or closes
  its `<details>`; a reset button restores its form; other elements only take the focus (without JavaScript
  nothing else would happen).
- `fill(bid, value)`: text inputs, textareas and contenteditable elements; the value shows as `value=`.
- `select_option(bid, options)`: by option value or label, as Playwright matches them.
- `press(key, bid=None)`: Enter in a text field submits its form (a browser's implicit submission), Enter or
  Space on a link or button clicks it, Backspace and single characters edit a text field; other keys change
  nothing.
- `goto(url)`, `go_back()`, `go_forward()`, `new_tab(url=None)`, `tab_focus(index)`, `tab_close()`.
- `scroll(...)` and `hover(bid)` change nothing (the whole page is always in the observation).
Anything else raises `ActionError`, as does a missing, hidden or disabled target. A failed request to the
backend's own `base_url` host raises `BackendCrashed` (its server is gone); elsewhere it is an `ActionError`.
"""

from __future__ import annotations

import html as html_lib
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from agentgym.tools.browser.axtext import assign_ids, is_hidden, parse, text_of
from agentgym.tools.browser.base import (
    AGID_ATTR,
    ActionError,
    BackendCrashed,
    PageSession,
    PageState,
    WebAction,
    WebBackend,
)
from selectolax.lexbor import LexborHTMLParser, LexborNode

BLANK_URL = "about:blank"
BLANK_HTML = "<html><head></head><body></body></html>"
TEXT_INPUT_TYPES = frozenset({"", "text", "search", "email", "password", "url", "tel", "number", "date",
                              "datetime-local", "month", "week", "time"})
SUBMIT_INPUT_TYPES = frozenset({"submit", "image"})
NO_OP_KEYS = frozenset({"Tab", "Shift+Tab", "Escape", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home",
                        "End", "PageUp", "PageDown", "Shift", "Control", "Alt", "Meta", "Control+a", "Meta+a",
                        "Control+A", "Meta+A", "Control+c", "Meta+c"})


@dataclass
class _Doc:
    """One loaded page: its URL, status and DOM (with ids and this session's form state)."""

    url: str
    status: int
    tree: LexborHTMLParser
    source: str  # the HTML with ids as loaded, for form resets
    focused: str | None = None

    @property
    def title(self) -> str:
        node = self.tree.css_first("title")
        return text_of(node) if node is not None else ""


@dataclass
class _Tab:
    history: list[_Doc] = field(default_factory=list)
    index: int = -1

    @property
    def doc(self) -> _Doc:
        return self.history[self.index]


def _blank() -> _Doc:
    return _Doc(BLANK_URL, 200, parse(BLANK_HTML), BLANK_HTML)


def _kind(node: LexborNode) -> str:
    return (node.attributes.get("type") or "").strip().lower()


class HTTPSession(PageSession):
    """One episode's pages over plain HTTP (see the module docstring for what each action does).

    Args:
        backend: the backend that made it (its client settings and crash host).
    """

    def __init__(self, backend: HTTPBackend) -> None:
        self._backend = backend
        self._client = httpx.AsyncClient(transport=backend.transport, follow_redirects=True,
                                         timeout=backend.timeout, headers=backend.headers,
                                         verify=backend.ssl_context)
        self._tabs: list[_Tab] = [_Tab([_blank()], 0)]
        self._active = 0
        self._closed = False
        self._note: str | None = None

    # ------------------------------------------------------------------ PageSession API

    @property
    def _doc(self) -> _Doc:
        return self._tabs[self._active].doc

    async def goto(self, url: str) -> PageState:
        await self._navigate("GET", self._resolve(url))
        return await self.state()

    async def state(self, screenshot: bool = False) -> PageState:
        if screenshot:
            raise ActionError("the HTTP backend renders no screenshots")
        doc = self._doc
        extra: dict[str, Any] = {"status": doc.status}
        if self._note:
            extra["note"] = self._note
        return PageState(url=doc.url, title=doc.title, html=doc.tree.html or "",
                         tabs=[t.doc.url for t in self._tabs], active_tab=self._active, focused=doc.focused,
                         extra=extra)

    async def act(self, action: WebAction) -> PageState:
        if self._closed:
            raise ActionError("the session is closed")
        handler = getattr(self, f"_do_{action.name}", None)
        if handler is None:
            raise ActionError(f"the HTTP backend cannot {action.name!r}")
        self._note = None
        try:
            await handler(**dict(action.args or {}))
        except TypeError as e:
            raise ActionError(f"bad arguments for {action.name}: {e}") from None
        return await self.state()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.aclose()
            self._backend._sessions.discard(self)

    # ------------------------------------------------------------------ loading pages

    def _resolve(self, url: str) -> str:
        url = str(url).strip()
        base = self._doc.url
        node = self._doc.tree.css_first("base[href]")
        if node is not None and base != BLANK_URL:
            base = urljoin(base, node.attributes.get("href") or "")
        if base == BLANK_URL:
            if urlsplit(url).scheme in ("http", "https") or url == BLANK_URL:
                return url
            if self._backend.base_url:
                return urljoin(self._backend.base_url, url)
            raise ActionError(f"cannot open {url!r}: a relative URL needs a page to be relative to")
        return urljoin(base, url)

    def _push(self, doc: _Doc, new_tab: bool = False) -> None:
        if new_tab:
            self._tabs.append(_Tab([doc], 0))
            self._active = len(self._tabs) - 1
            return
        tab = self._tabs[self._active]
        if len(tab.history) == 1 and tab.doc.url == BLANK_URL:
            tab.history = []  # a new tab's first page replaces its initial blank page, as in Chromium
        del tab.history[tab.index + 1:]
        tab.history.append(doc)
        if len(tab.history) > self._backend.max_history:
            del tab.history[: len(tab.history) - self._backend.max_history]
        tab.index = len(tab.history) - 1

    async def _fetch(self, method: str, url: str, body: str | None = None) -> _Doc:
        if url == BLANK_URL:
            return _blank()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            if parts.scheme == "javascript":
                raise ActionError("this backend runs no JavaScript")
            raise ActionError(f"cannot open {url!r}: only http(s) URLs are supported")
        headers = {"content-type": "application/x-www-form-urlencoded"} if body is not None else None
        try:
            resp = await self._client.request(method, urldefrag(url)[0], content=body, headers=headers)
        except httpx.TransportError as e:
            msg = f"could not load {url}: {type(e).__name__}: {e}"
            if self._backend.owns(url):
                raise BackendCrashed(msg) from None
            raise ActionError(msg) from None
        except httpx.HTTPError as e:
            raise ActionError(f"could not load {url}: {e}") from None
        final = str(resp.url)
        fragment = urlsplit(url).fragment
        if fragment and not urlsplit(final).fragment:
            final += "#" + fragment
        ctype = resp.headers.get("content-type", "text/html").lower()
        raw = resp.content[: self._backend.max_bytes]
        if "html" in ctype or "xml" in ctype:
            text = raw.decode(resp.encoding or "utf-8", "replace")
        elif ctype.startswith("text/") or "json" in ctype:
            text = f"<html><head></head><body><pre>{html_lib.escape(raw.decode(resp.encoding or 'utf-8', 'replace'))}</pre></body></html>"
        else:
            text = f"<html><head></head><body><p>({ctype or 'binary'} content, {len(resp.content)} bytes)</p></body></html>"
        source = assign_ids(text)
        return _Doc(final, resp.status_code, parse(source), source)

    async def _navigate(self, method: str, url: str, body: str | None = None, new_tab: bool = False) -> None:
        current = self._doc.url
        if (method == "GET" and body is None and not new_tab and "#" in url
                and urldefrag(url)[0] == urldefrag(current)[0] and current != BLANK_URL):
            self._doc.url = url  # a same-page anchor: the document stays
            return
        self._push(await self._fetch(method, url, body), new_tab)

    # ------------------------------------------------------------------ elements

    def _find(self, bid: Any) -> LexborNode:
        if bid is None or str(bid).strip() == "":
            raise ActionError("an element id (bid) is needed")
        key = str(bid).strip().strip("[]")
        quoted = key.replace("\\", "\\\\").replace('"', '\\"')
        node = self._doc.tree.css_first(f'[{AGID_ATTR}="{quoted}"]')
        if node is None:
            raise ActionError(f"no element with id {key!r} on this page")
        cur: LexborNode | None = node
        while cur is not None and cur.tag not in (None, "-document", "html"):
            if is_hidden(cur) and cur.tag != "head":
                raise ActionError(f"element {key!r} is not visible")
            if cur.tag == "details" and "open" not in cur.attributes and cur is not node \
                    and not _is_summary_of(node, cur):
                raise ActionError(f"element {key!r} is not visible (inside a closed <details>)")
            cur = cur.parent
        return node

    def _by_id(self, elem_id: str) -> LexborNode | None:
        for n in self._doc.tree.css("[id]"):
            if n.attributes.get("id") == elem_id:
                return n
        return None

    def _form_of(self, node: LexborNode) -> LexborNode | None:
        owner = node.attributes.get("form")
        if owner:
            found = self._by_id(owner)
            return found if found is not None and found.tag == "form" else None
        cur = node.parent
        while cur is not None and cur.tag not in (None, "-document"):
            if cur.tag == "form":
                return cur
            cur = cur.parent
        return None

    def _controls(self, form: LexborNode) -> list[LexborNode]:
        root = self._doc.tree.root
        if root is None:
            return []
        out = []
        for n in root.traverse():
            if n.tag in ("input", "select", "textarea", "button"):
                owner = self._form_of(n)
                if owner is not None and owner.mem_id == form.mem_id:
                    out.append(n)
        return out

    @staticmethod
    def _disabled(node: LexborNode) -> bool:
        if "disabled" in node.attributes:
            return True
        cur = node.parent
        while cur is not None and cur.tag not in (None, "-document"):
            if cur.tag == "fieldset" and "disabled" in cur.attributes:
                return True
            cur = cur.parent
        return False

    def _label_control(self, label: LexborNode) -> LexborNode | None:
        target = label.attributes.get("for")
        if target:
            found = self._by_id(target)
            return found if found is not None and found.tag in ("input", "select", "textarea", "button") else None
        return label.css_first("input, select, textarea, button")

    # ------------------------------------------------------------------ forms

    def _form_data(self, form: LexborNode, submitter: LexborNode | None) -> list[tuple[str, str]]:
        data: list[tuple[str, str]] = []
        for n in self._controls(form):
            name = n.attributes.get("name")
            if not name or self._disabled(n):
                continue
            kind = _kind(n)
            if n.tag == "button" or (n.tag == "input" and kind in ("submit", "image", "reset", "button")):
                if submitter is not None and n.mem_id == submitter.mem_id:
                    if kind == "image":
                        data += [(f"{name}.x", "0"), (f"{name}.y", "0")]
                    else:
                        data.append((name, n.attributes.get("value") or ""))
                continue
            if n.tag == "input" and kind in ("checkbox", "radio"):
                if "checked" in n.attributes:
                    data.append((name, n.attributes.get("value") or "on"))
            elif n.tag == "input" and kind == "file":
                continue
            elif n.tag == "select":
                options = [o for o in n.css("option") if "disabled" not in o.attributes]
                chosen = [o for o in options if "selected" in o.attributes]
                if not chosen and "multiple" not in n.attributes and options:
                    chosen = options[:1]
                data += [(name, _option_value(o)) for o in chosen]
            elif n.tag == "textarea":
                data.append((name, n.text(deep=True) or ""))
            else:
                data.append((name, n.attributes.get("value") or ""))
        return data

    async def _submit(self, form: LexborNode, submitter: LexborNode | None) -> None:
        attrs = submitter.attributes if submitter is not None else {}
        method = (attrs.get("formmethod") or form.attributes.get("method") or "get").strip().lower()
        if method == "dialog":
            return
        action = attrs.get("formaction") or form.attributes.get("action") or ""
        url = self._resolve(action) if action else urldefrag(self._doc.url)[0]
        data = self._form_data(form, submitter)
        target = (attrs.get("formtarget") or form.attributes.get("target") or "").lower()
        new_tab = target == "_blank"
        self._doc.focused = None
        if method == "post":
            await self._navigate("POST", url, urlencode(data), new_tab=new_tab)
        else:
            parts = urlsplit(url)
            await self._navigate("GET", urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(data), "")),
                                 new_tab=new_tab)

    def _reset(self, form: LexborNode) -> None:
        original = LexborHTMLParser(self._doc.source)
        for n in self._controls(form):
            agid = n.attributes.get(AGID_ATTR)
            if not agid:
                continue
            src = original.css_first(f'[{AGID_ATTR}="{agid}"]')
            if src is None:
                continue
            if n.tag == "textarea":
                n.inner_html = html_lib.escape(src.text(deep=True) or "")
            elif n.tag == "select":
                for mine, theirs in zip(n.css("option"), src.css("option"), strict=False):
                    _set_flag(mine, "selected", "selected" in theirs.attributes)
            else:
                for attr in ("value", "checked"):
                    if attr in src.attributes:
                        n.attrs[attr] = src.attributes[attr] or ""
                    elif attr in n.attributes:
                        del n.attrs[attr]

    def _default_button(self, form: LexborNode) -> LexborNode | None:
        for n in self._controls(form):
            if (n.tag == "button" and _kind(n) in ("", "submit")) or (n.tag == "input" and _kind(n) in SUBMIT_INPUT_TYPES):
                return n
        return None

    # ------------------------------------------------------------------ actions

    async def _activate(self, node: LexborNode) -> None:
        """What a click on `node` does, bubbling to the link, button, label or summary that holds it."""
        cur: LexborNode | None = node
        while cur is not None and cur.tag not in (None, "-document", "html", "body"):
            tag, kind = cur.tag, _kind(cur)
            if tag == "a" and "href" in cur.attributes:
                href = (cur.attributes.get("href") or "").strip()
                if href.lower().startswith("javascript:"):
                    self._note = "this backend runs no JavaScript: the link did nothing"
                    return
                new_tab = (cur.attributes.get("target") or "").lower() == "_blank"
                await self._navigate("GET", self._resolve(href), new_tab=new_tab)
                return
            if tag == "button" or (tag == "input" and kind in ("submit", "image", "reset", "button")):
                if self._disabled(cur):
                    raise ActionError(f"element {cur.attributes.get(AGID_ATTR)!r} is disabled")
                btype = kind or ("submit" if tag == "button" else kind)
                form = self._form_of(cur)
                if btype in ("submit", "image") and form is not None:
                    await self._submit(form, cur)
                elif btype == "reset" and form is not None:
                    self._reset(form)
                else:
                    self._note = "this backend runs no JavaScript: the button did nothing"
                return
            if tag == "input":
                if self._disabled(cur):
                    raise ActionError(f"element {cur.attributes.get(AGID_ATTR)!r} is disabled")
                if kind == "checkbox":
                    _set_flag(cur, "checked", "checked" not in cur.attributes)
                elif kind == "radio":
                    self._check_radio(cur)
                elif kind == "file":
                    raise ActionError("file inputs are not supported by the HTTP backend")
                self._doc.focused = cur.attributes.get(AGID_ATTR)
                return
            if tag in ("select", "textarea"):
                self._doc.focused = cur.attributes.get(AGID_ATTR)
                return
            if tag == "label":
                control = self._label_control(cur)
                if control is not None and control.mem_id != node.mem_id:
                    await self._activate(control)
                return
            if tag == "summary":
                details = cur.parent
                if details is not None and details.tag == "details":
                    _set_flag(details, "open", "open" not in details.attributes)
                return
            cur = cur.parent
        agid = node.attributes.get(AGID_ATTR)
        if agid and ("tabindex" in node.attributes or "contenteditable" in node.attributes):
            self._doc.focused = agid
        self._note = "without JavaScript, clicking this element does nothing"

    def _check_radio(self, node: LexborNode) -> None:
        name = node.attributes.get("name")
        if name:
            form = self._form_of(node)
            group = self._controls(form) if form is not None else [
                n for n in self._doc.tree.css("input") if self._form_of(n) is None]
            for other in group:
                if other.tag == "input" and _kind(other) == "radio" and other.attributes.get("name") == name:
                    _set_flag(other, "checked", False)
        _set_flag(node, "checked", True)

    async def _do_click(self, bid: Any, button: str = "left", modifiers: Any = None) -> None:
        if button != "left" or modifiers:
            raise ActionError("only plain left clicks are supported")
        await self._activate(self._find(bid))

    def _text_target(self, bid: Any) -> LexborNode:
        node = self._find(bid)
        if node.tag == "input":
            kind = _kind(node)
            if kind not in TEXT_INPUT_TYPES:
                raise ActionError(f'element {bid!r} is an input of type "{kind}", which cannot be filled')
        elif node.tag != "textarea" and ("contenteditable" not in node.attributes
                                         or node.attributes.get("contenteditable") == "false"):
            what = "a <select>: use select_option" if node.tag == "select" else f"a <{node.tag}>"
            raise ActionError(f"element {bid!r} is {what}, not a text field")
        if self._disabled(node):
            raise ActionError(f"element {bid!r} is disabled")
        if "readonly" in node.attributes:
            raise ActionError(f"element {bid!r} is read-only")
        return node

    def _set_text(self, node: LexborNode, value: str) -> None:
        if node.tag == "input":
            if _kind(node) == "number" and value.strip():
                try:
                    float(value)
                except ValueError:
                    raise ActionError("cannot type text into a number field") from None
            node.attrs["value"] = value
        else:
            node.inner_html = html_lib.escape(value)
        self._doc.focused = node.attributes.get(AGID_ATTR)

    @staticmethod
    def _get_text(node: LexborNode) -> str:
        return (node.attributes.get("value") or "") if node.tag == "input" else (node.text(deep=True) or "")

    async def _do_fill(self, bid: Any, value: Any) -> None:
        self._set_text(self._text_target(bid), str(value))

    async def _do_select_option(self, bid: Any, options: Any) -> None:
        node = self._find(bid)
        if node.tag != "select":
            raise ActionError(f"element {bid!r} is not a <select> element")
        if self._disabled(node):
            raise ActionError(f"element {bid!r} is disabled")
        wanted = [str(o) for o in options] if isinstance(options, (list, tuple)) else [str(options)]
        multiple = "multiple" in node.attributes
        if len(wanted) > 1 and not multiple:
            raise ActionError(f"element {bid!r} takes one option, got {len(wanted)}")
        opts = list(node.css("option"))
        chosen = []
        for w in wanted:
            match = next((o for o in opts if _option_value(o) == w), None) or \
                next((o for o in opts if text_of(o) == " ".join(w.split())), None)
            if match is None:
                labels = ", ".join(repr(text_of(o)) for o in opts)
                raise ActionError(f"no option {w!r} in element {bid!r}; its options are {labels}")
            if "disabled" in match.attributes:
                raise ActionError(f"option {w!r} is disabled")
            chosen.append(match.mem_id)
        for o in opts:
            _set_flag(o, "selected", o.mem_id in chosen)
        # the focus stays where it was, as with Playwright's select_option

    async def _do_press(self, key: str, bid: Any = None) -> None:
        node = self._find(bid) if bid not in (None, "") else None
        if node is None and self._doc.focused:
            node = self._doc.tree.css_first(f'[{AGID_ATTR}="{self._doc.focused}"]')
        key = str(key)
        if key in ("Enter", "NumpadEnter"):
            if node is None:
                return
            if node.tag == "input" and _kind(node) in TEXT_INPUT_TYPES | {"checkbox", "radio"}:
                form = self._form_of(node)
                if form is not None:
                    button = self._default_button(form)
                    if button is not None and self._disabled(button):
                        return
                    await self._submit(form, button)
                return
            if node.tag == "textarea":
                self._set_text(node, self._get_text(node) + "\n")
                return
            await self._activate(node)
            return
        if key in (" ", "Space"):
            if node is not None and (node.tag in ("button", "summary")
                                     or (node.tag == "input" and _kind(node) in ("checkbox", "radio", "submit",
                                                                                   "button", "reset", "image"))):
                await self._activate(node)
            elif node is not None and (node.tag == "textarea" or (node.tag == "input" and _kind(node) in TEXT_INPUT_TYPES)):
                self._set_text(node, self._get_text(node) + " ")
            return
        text_field = node is not None and (node.tag == "textarea" or (node.tag == "input" and _kind(node) in TEXT_INPUT_TYPES))
        if key == "Backspace":
            if text_field:
                assert node is not None
                self._set_text(node, self._get_text(node)[:-1])
            return
        if len(key) == 1:
            if text_field:
                assert node is not None
                self._set_text(node, self._get_text(node) + key)
            return
        if key in NO_OP_KEYS or key.startswith(("F", "Shift+", "Control+", "Alt+", "Meta+")):
            self._note = f"pressing {key} changes nothing on this page"
            return
        raise ActionError(f"unknown key {key!r}")

    async def _do_hover(self, bid: Any) -> None:
        self._find(bid)
        self._note = "hovering changes nothing without JavaScript"

    async def _do_scroll(self, dx: float = 0, dy: float = 0, **_: Any) -> None:
        self._note = "the whole page is in the observation; scrolling changes nothing"

    async def _do_goto(self, url: str) -> None:
        await self._navigate("GET", self._resolve(url))

    async def _do_go_back(self) -> None:
        tab = self._tabs[self._active]
        if tab.index <= 0:
            raise ActionError("there is no previous page")
        tab.index -= 1

    async def _do_go_forward(self) -> None:
        tab = self._tabs[self._active]
        if tab.index >= len(tab.history) - 1:
            raise ActionError("there is no next page")
        tab.index += 1

    async def _do_new_tab(self, url: str | None = None) -> None:
        doc = await self._fetch("GET", self._resolve(url)) if url else _blank()
        self._push(doc, new_tab=True)

    async def _do_tab_focus(self, index: int) -> None:
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise ActionError(f"tab index must be a number, got {index!r}") from None
        if not 0 <= i < len(self._tabs):
            raise ActionError(f"no tab {i}; there are {len(self._tabs)} tabs (0-{len(self._tabs) - 1})")
        self._active = i

    async def _do_tab_close(self) -> None:
        del self._tabs[self._active]
        if not self._tabs:
            self._tabs.append(_Tab([_blank()], 0))
        self._active = min(self._active, len(self._tabs) - 1)


def _is_summary_of(node: LexborNode, details: LexborNode) -> bool:
    cur: LexborNode | None = node
    while cur is not None and cur.mem_id != details.mem_id:
        if cur.tag == "summary" and cur.parent is not None and cur.parent.mem_id == details.mem_id:
            return True
        cur = cur.parent
    return False


def _set_flag(node: LexborNode, attr: str, on: bool) -> None:
    if on:
        node.attrs[attr] = ""
    elif attr in node.attributes:
        del node.attrs[attr]


def _option_value(option: LexborNode) -> str:
    value = option.attributes.get("value")
    return value if value is not None else text_of(option)


class HTTPBackend(WebBackend):
    """Browserless pages over HTTP (httpx): cheap on CPU, no JavaScript.

    Args:
        base_url: the site's root; relative `goto` URLs from a blank tab resolve against it, and a failed
            request to its host is a `BackendCrashed` (the server is gone) rather than an `ActionError`.
        transport: an httpx transport, e.g. `httpx.ASGITransport(app)` to serve an ASGI app in process.
        timeout: seconds a request may take.
        headers: headers sent with every request.
        max_history: pages kept per tab for go_back.
        max_bytes: a response's bytes beyond this are dropped.
    """

    def __init__(self, base_url: str | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 15.0, headers: dict[str, str] | None = None, max_history: int = 50,
                 max_bytes: int = 5_000_000) -> None:
        self.base_url = base_url
        self.transport = transport
        self.timeout = timeout
        self.headers = headers
        self.max_history = max_history
        self.max_bytes = max_bytes
        self._sessions: set[HTTPSession] = set()
        self._ssl: ssl.SSLContext | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """One TLS context for all sessions (making one reads the CA bundle: ~60 ms)."""
        if self._ssl is None:
            import certifi

            self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    def owns(self, url: str) -> bool:
        """Whether `url` is on the backend's own server (`base_url`'s scheme and host)."""
        if not self.base_url:
            return False
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    async def new_session(self) -> HTTPSession:
        session = HTTPSession(self)
        self._sessions.add(session)
        return session

    async def aclose(self) -> None:
        for session in list(self._sessions):
            await session.close()
