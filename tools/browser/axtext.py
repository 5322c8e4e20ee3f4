"""Accessibility text of a page: the observation web environments give the agent.

`render(state)` turns a `PageState`'s HTML into an indented outline of roles, names and states in the style
of BrowserGym's AXTree text::

    URL: http://127.0.0.1:8765/s/ab12/search?q=boots
    Title: Results for boots
    Focused element: [1]

    RootWebArea 'Results for boots'
    \t[1] textbox 'Search' value='boots' focused
    \t[2] button 'Search'
    \theading 'Results for boots'
    \tlist
    \t\tlistitem
    \t\t\t[3] link 'Trailcrest Waterproof Hiking Boot'
    \t\t\tStaticText '$79.99'

An element that actions may target carries its id (`data-agid`) in brackets. Hidden content (`hidden`,
inline `display:none` / `visibility:hidden`, `aria-hidden="true"`, `<script>`, `<style>`, `<template>`,
`<head>`, `type="hidden"` inputs, the body of a closed `<details>`, and elements a browser backend found
unrendered and marked with `HIDDEN_ATTR`) is left out. Form state is read from
attributes (`value`, `checked`, `selected`, a textarea's text), so a browser backend serializing its live DOM
must first copy those properties into attributes.

The text is a pure function of the HTML and the state's header fields (URL, title, tabs, focused element,
last action error): the browser backend and the browserless HTTP backend show an agent the same page the same
way. `assign_ids(html)` numbers the interactive elements (`INTERACTIVE_SELECTOR`) the way the Playwright
backend's page script does.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field

from agentgym.tools.browser.base import AGID_ATTR, HIDDEN_ATTR, INTERACTIVE_SELECTOR, PageState
from selectolax.lexbor import LexborHTMLParser, LexborNode

MAX_NAME_CHARS = 150
INDENT = "\t"

_WS = re.compile(r"\s+")
_LEADING_INT = re.compile(r"\s*[+-]?(\d+)")
_DISPLAY_NONE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important)?\s*(?:;|$)",
                           re.IGNORECASE)

_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "meta", "link", "title", "base",
                        "-comment", "iframe", "object", "embed", "svg", "canvas", "math"})
# elements that end a run of inline text (the text before and after becomes separate StaticText lines)
_BLOCK_TAGS = frozenset({"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
                         "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
                         "hr", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
                         "td", "tfoot", "th", "thead", "tr", "ul", "body", "html", "details", "summary",
                         "caption", "center", "menu", "option", "select", "textarea", "label"})
_TAG_ROLES = {"ul": "list", "ol": "list", "menu": "list", "li": "listitem", "nav": "navigation", "main": "main",
              "header": "banner", "footer": "contentinfo", "aside": "complementary", "table": "table",
              "tr": "row", "td": "cell", "th": "columnheader", "dl": "list", "dt": "term", "dd": "definition",
              "fieldset": "group", "figure": "figure", "hr": "separator", "textarea": "textbox",
              "article": "article", "dialog": "dialog", "progress": "progressbar", "summary": "DisclosureTriangle",
              "option": "option", "blockquote": "blockquote", "pre": "code"}
_INPUT_ROLES = {"button": "button", "submit": "button", "reset": "button", "image": "button", "checkbox": "checkbox",
                "radio": "radio", "search": "searchbox", "number": "spinbutton", "range": "slider",
                "file": "button", "color": "button"}
# roles whose accessible name is their text content: their text is not repeated as child lines
_NAME_FROM_CONTENT = frozenset({"button", "link", "heading", "option", "tab", "menuitem", "menuitemcheckbox",
                                "menuitemradio", "checkbox", "radio", "switch", "columnheader", "rowheader",
                                "DisclosureTriangle", "treeitem", "tooltip", "term", "LabelText"})
_CHECKABLE = frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"})
_TEXT_INPUT_TYPES = frozenset({"", "text", "search", "email", "password", "url", "tel", "number", "date",
                               "datetime-local", "month", "week", "time"})


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _quote(text: str, limit: int = MAX_NAME_CHARS) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)  # as BrowserGym quotes: 'text', or "text" when it holds a single quote


def parse(html: str) -> LexborHTMLParser:
    """Parse `html` with an HTML5 parser (lexbor)."""
    return LexborHTMLParser(html)


def is_hidden(node: LexborNode) -> bool:
    """Whether `node` itself hides its subtree (attributes only; CSS files are not read)."""
    tag = node.tag or ""
    if tag in _SKIP_TAGS:
        return True
    attrs = node.attributes
    if "hidden" in attrs or HIDDEN_ATTR in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    if tag == "input" and (attrs.get("type") or "").lower() == "hidden":
        return True
    style = attrs.get("style")
    return bool(style and _DISPLAY_NONE.search(style))


def assign_ids(html: str) -> str:
    """`html` with a `data-agid` id on every element matching `INTERACTIVE_SELECTOR`, numbered "1", "2", ...
    in document order, as the Playwright backend's page script numbers a live page: elements that already
    have an id keep it, new ids continue after the largest number present, and a repeated id is replaced by
    a new one. Returns the document serialized by the HTML5 parser."""
    tree = parse(html)
    if tree.root is None:
        return html
    matched = {n.mem_id for n in tree.css(INTERACTIVE_SELECTOR)}
    nodes = [n for n in tree.root.traverse() if n.mem_id in matched]
    nxt = 1
    for n in nodes:
        m = _LEADING_INT.match(n.attributes.get(AGID_ATTR) or "")
        if m:
            nxt = max(nxt, int(m.group(1)) + 1)
    seen: set[str] = set()
    for n in nodes:
        agid = n.attributes.get(AGID_ATTR)
        if not agid or agid in seen:
            agid = str(nxt)
            nxt += 1
            n.attrs[AGID_ATTR] = agid
        seen.add(agid)
    return tree.html or ""


@dataclass
class _Ctx:
    by_id: dict[str, LexborNode]
    label_for: dict[str, str]
    lines: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    text_depth: int = 0


def text_of(node: LexborNode) -> str:
    """Visible text of a subtree (hidden parts skipped, images by their alt text), whitespace-collapsed."""
    parts: list[str] = []
    _collect_text(node, parts)
    return _clean(" ".join(parts))


def _collect_text(node: LexborNode, parts: list[str]) -> None:
    child = node.child
    while child is not None:
        tag = child.tag
        if tag == "-text":
            parts.append(child.text_content or "")
        elif tag and not is_hidden(child):
            if tag == "img":
                parts.append(child.attributes.get("alt") or "")
            elif tag in ("select", "textarea", "input"):
                pass
            else:
                _collect_text(child, parts)
        child = child.next


def _role(node: LexborNode) -> str | None:
    tag = node.tag or ""
    attrs = node.attributes
    explicit = (attrs.get("role") or "").strip().split()
    if explicit and explicit[0] not in ("presentation", "none"):
        return explicit[0]
    if explicit:
        return None
    if tag == "a":
        return "link" if "href" in attrs else None
    if tag == "button":
        return "button"
    if tag == "input":
        kind = (attrs.get("type") or "").lower()
        return _INPUT_ROLES.get(kind, "textbox")
    if tag == "select":
        return "listbox" if "multiple" in attrs or int((attrs.get("size") or "1").strip() or 1) > 1 else "combobox"
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return "heading"
    if tag == "img":
        return None if attrs.get("alt") == "" else "img"
    if tag == "label":
        return "LabelText"
    if tag == "form":
        return "form" if attrs.get("aria-label") or attrs.get("name") else None
    if tag in ("section", "region") and attrs.get("aria-label"):
        return "region"
    return _TAG_ROLES.get(tag)


def _label_of_control(node: LexborNode, ctx: _Ctx) -> str:
    elem_id = node.attributes.get("id")
    if elem_id and elem_id in ctx.label_for:
        return ctx.label_for[elem_id]
    parent = node.parent
    while parent is not None and parent.tag not in (None, "-document"):
        if parent.tag == "label":
            return text_of(parent)
        parent = parent.parent
    return ""


def _name(node: LexborNode, role: str, ctx: _Ctx) -> str:
    attrs = node.attributes
    labelledby = attrs.get("aria-labelledby")
    if labelledby:
        names = [text_of(ctx.by_id[i]) for i in labelledby.split() if i in ctx.by_id]
        if any(names):
            return _clean(" ".join(names))
    if attrs.get("aria-label"):
        return _clean(attrs["aria-label"] or "")
    tag = node.tag
    if tag in ("input", "select", "textarea"):
        kind = (attrs.get("type") or "").lower()
        if tag == "input" and kind in ("submit", "reset", "button"):
            return _clean(attrs.get("value") or {"submit": "Submit", "reset": "Reset"}.get(kind, ""))
        if tag == "input" and kind == "image":
            return _clean(attrs.get("alt") or attrs.get("value") or "Submit")
        label = _label_of_control(node, ctx)
        if label:
            return label
        return _clean(attrs.get("placeholder") or attrs.get("title") or "")
    if tag == "img":
        return _clean(attrs.get("alt") or attrs.get("title") or "")
    if tag == "fieldset":
        legend = node.css_first("legend")
        return text_of(legend) if legend is not None else ""
    if tag == "table":
        caption = node.css_first("caption")
        return text_of(caption) if caption is not None else ""
    if role in _NAME_FROM_CONTENT:
        return text_of(node) or _clean(attrs.get("title") or "")
    return _clean(attrs.get("title") or "")


def _props(node: LexborNode, role: str) -> list[str]:
    attrs = node.attributes
    tag = node.tag
    props: list[str] = []
    if tag == "input":
        kind = (attrs.get("type") or "").lower()
        if kind in _TEXT_INPUT_TYPES or kind == "range":
            value = attrs.get("value") or ""
            if value:
                props.append(f"value={_quote(value)}")
    elif tag == "textarea":
        value = node.text(deep=True) or ""
        if value:
            props.append(f"value={_quote(value.strip())}")
    elif tag == "select":
        selected = [text_of(o) for o in _options(node) if "selected" in o.attributes]
        if not selected and "multiple" not in attrs:
            opts = _options(node)
            selected = [text_of(opts[0])] if opts else []
        if selected:
            props.append(f"value={_quote(', '.join(selected))}")
    elif "contenteditable" in attrs and attrs.get("contenteditable") != "false":
        value = text_of(node)
        if value:
            props.append(f"value={_quote(value)}")
    if role in _CHECKABLE:
        if tag == "input":
            checked = "checked" in attrs
        else:
            checked = (attrs.get("aria-checked") or "").lower() == "true"
        props.append(f"checked={'true' if checked else 'false'}")
    if role == "option" and ("selected" in attrs or (attrs.get("aria-selected") or "").lower() == "true"):
        props.append("selected")
    if role == "DisclosureTriangle":
        parent = node.parent
        props.append(f"expanded={'true' if parent is not None and 'open' in parent.attributes else 'false'}")
    if (attrs.get("aria-expanded") or "") in ("true", "false") and role != "DisclosureTriangle":
        props.append(f"expanded={attrs['aria-expanded']}")
    if "disabled" in attrs or (attrs.get("aria-disabled") or "") == "true":
        props.append("disabled")
    if "required" in attrs:
        props.append("required")
    if (attrs.get("aria-current") or "false") != "false":
        props.append("current")
    return props


def _options(select: LexborNode) -> list[LexborNode]:
    return [o for o in select.css("option") if not is_hidden(o)]


def _flush(ctx: _Ctx) -> None:
    if ctx.text:
        text = _clean(" ".join(ctx.text))
        if text:
            ctx.lines.append(INDENT * ctx.text_depth + "StaticText " + _quote(text, 400))
        ctx.text = []


def _walk_children(node: LexborNode, depth: int, ctx: _Ctx, only_ids: bool = False) -> None:
    child = node.child
    while child is not None:
        _walk(child, depth, ctx, only_ids)
        child = child.next


def _walk(node: LexborNode, depth: int, ctx: _Ctx, only_ids: bool = False) -> None:
    tag = node.tag
    if tag == "-text":
        if not only_ids:
            text = node.text_content or ""
            if text.strip():
                if not ctx.text:
                    ctx.text_depth = depth
                ctx.text.append(text)
        return
    if not tag or is_hidden(node):
        return
    if tag == "details" and "open" not in node.attributes:
        summary = node.css_first("summary")
        if tag in _BLOCK_TAGS:
            _flush(ctx)
        if summary is not None and not is_hidden(summary):
            _walk(summary, depth, ctx, only_ids)
        return
    agid = node.attributes.get(AGID_ATTR)
    role = _role(node)
    if tag == "label" and _label_controls(node, ctx):
        role = None  # its text names the control it labels; the control is shown instead
        if not only_ids:
            _flush(ctx)
            _walk_children(node, depth, ctx, only_ids=True)
            return
    if agid and role is None:
        role = "generic"
    if only_ids and not agid and tag not in ("input", "select", "textarea"):
        _walk_children(node, depth, ctx, only_ids=True)
        return
    if role is None:
        if tag in _BLOCK_TAGS:
            _flush(ctx)
        _walk_children(node, depth, ctx, only_ids)
        if tag in _BLOCK_TAGS:
            _flush(ctx)
        return
    _flush(ctx)
    name = _name(node, role, ctx)
    line = INDENT * depth + (f"[{agid}] " if agid else "") + role
    if name:
        line += " " + _quote(name)
    props = _props(node, role)
    if props:
        line += " " + " ".join(props)
    ctx.lines.append(line)
    if tag == "select":
        for opt in _options(node):
            mark = " selected" if "selected" in opt.attributes else ""
            ctx.lines.append(INDENT * (depth + 1) + "option " + _quote(text_of(opt)) + mark)
        return
    if tag in ("input", "textarea", "img"):
        return
    if role in _NAME_FROM_CONTENT:
        # the text is the name already; still show targetable elements nested inside
        _walk_children(node, depth + 1, ctx, only_ids=True)
        return
    if tag == "fieldset":
        child = node.child
        while child is not None:
            if child.tag != "legend":
                _walk(child, depth + 1, ctx, only_ids)
            child = child.next
        _flush(ctx)
        return
    _walk_children(node, depth + 1, ctx, only_ids)
    _flush(ctx)


def _label_controls(label: LexborNode, ctx: _Ctx) -> bool:
    target = label.attributes.get("for")
    if target:
        return target in ctx.by_id
    return label.css_first("input, select, textarea") is not None


def page_lines(html: str) -> tuple[str, list[str]]:
    """The document title and the outline lines (no header) of `html`."""
    tree = parse(html)
    title_node = tree.css_first("title")
    title = text_of(title_node) if title_node is not None else ""
    by_id: dict[str, LexborNode] = {}
    label_for: dict[str, str] = {}
    for n in tree.css("[id]"):
        by_id.setdefault(n.attributes.get("id") or "", n)
    for label in tree.css("label[for]"):
        target = label.attributes.get("for") or ""
        if target and target not in label_for and not is_hidden(label):
            label_for[target] = text_of(label)
    ctx = _Ctx(by_id=by_id, label_for=label_for)
    body = tree.body
    if body is not None and not is_hidden(body):
        _walk_children(body, 1, ctx)
        _flush(ctx)
    return title, ctx.lines


def render(state: PageState, max_chars: int | None = None) -> str:
    """The accessibility text of `state`: header lines, then the page outline.

    Header: URL, title, the open tabs (when more than one), the focused element and the last action's
    error (`state.last_action_error`). When the text is longer than `max_chars`, trailing outline lines are
    dropped and a note `[page cut: N more lines]` says how many.
    """
    doc_title, lines = page_lines(state.html)
    title = state.title or doc_title
    header = [f"URL: {state.url}", f"Title: {title}"]
    if len(state.tabs) > 1:
        tabs = ", ".join(f"[{i}]{' (active)' if i == state.active_tab else ''} {u}" for i, u in enumerate(state.tabs))
        header.append(f"Tabs: {tabs}")
    if state.focused:
        header.append(f"Focused element: [{state.focused}]")
    error = state.last_action_error
    if error:
        header.append(f"Last action error: {_clean(str(error))}")
    out = [*header, "", "RootWebArea " + _quote(title)]
    if state.focused:
        mark = f"[{state.focused}] "
        lines = [ln + " focused" if ln.lstrip(INDENT).startswith(mark) else ln for ln in lines]
    if max_chars is None:
        return "\n".join(out + lines)
    size = sum(len(s) + 1 for s in out)
    for i, line in enumerate(lines):
        note = f"[page cut: {len(lines) - i} more lines]"
        if size + len(line) + 1 + (len(note) + 1 if i < len(lines) - 1 else 0) > max_chars:
            return "\n".join([*out, note])
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def escape(text: str) -> str:
    """HTML-escape text for pages built by hand (quotes included)."""
    return html_lib.escape(text, quote=True)
