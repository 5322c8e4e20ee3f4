"""axtext: the page text from HTML (roles, names, states, hidden content, ids, header, budget cut)."""

from __future__ import annotations

import re

from agentgym.tools.browser.axtext import assign_ids, page_lines, render
from agentgym.tools.browser.base import AGID_ATTR, HIDDEN_ATTR, PageState

PAGE = f"""<!DOCTYPE html><html><head><title>Boots</title><style>.x {{ color: red }}</style>
<script>var secret = "script text";</script></head><body>
<nav><a href="/">Home</a></nav>
<h1>Results for <b>boots</b></h1>
<form action="/search"><label for="q">Search</label><input id="q" name="q" value="boots">
<button type="submit">Go</button></form>
<p>Price: <b>$79.99</b></p>
<div hidden><a href="/hidden-attr">hidden attr</a></div>
<span style="color: red; display: none">display none</span>
<div aria-hidden="true">aria hidden</div>
<template><button>template button</button></template>
<noscript>noscript text</noscript>
<div {HIDDEN_ATTR}=""><button>unrendered</button></div>
<ul><li><a href="/item/1">Trail Boot</a> <span>$10.00</span></li><li>second item</li></ul>
<img src="a.png" alt="A boot"><img src="spacer.png" alt="">
<fieldset><legend>color</legend>
<label><input type="radio" name="c" value="black" checked> black</label>
<label><input type="radio" name="c" value="red"> red</label></fieldset>
<label>size <select name="size"><option value="">Select size</option><option selected>10</option></select></label>
<input type="checkbox" id="w" checked><label for="w">Waterproof</label>
<textarea name="note" aria-label="Note">hello there</textarea>
<input type="hidden" name="pid" value="B1">
<details><summary>More</summary><p>inside closed details</p></details>
<div role="button" tabindex="0">Custom button</div>
</body></html>"""


def _page(html: str, **kw: object) -> PageState:
    return PageState(url=str(kw.pop("url", "http://shop/")), title=str(kw.pop("title", "")), html=html, **kw)


def test_roles_names_values_and_states() -> None:
    text = render(_page(assign_ids(PAGE)))
    assert text.splitlines()[:2] == ["URL: http://shop/", "Title: Boots"]
    assert "RootWebArea 'Boots'" in text
    for line in [
        "\tnavigation",
        "\t\t[1] link 'Home'",
        "\theading 'Results for boots'",
        "[3] textbox 'Search' value='boots'",
        "[4] button 'Go'",
        "StaticText 'Price: $79.99'",
        "\tlist",
        "\t\tlistitem",
        "\t\t\t[7] link 'Trail Boot'",
        "\t\t\tStaticText '$10.00'",
        "StaticText 'second item'",
        "img 'A boot'",
        "group 'color'",
        "radio 'black' checked=true",
        "radio 'red' checked=false",
        "combobox 'size' value='10'",
        "option 'Select size'",
        "option '10' selected",
        "checkbox 'Waterproof' checked=true",
        "textbox 'Note' value='hello there'",
        "DisclosureTriangle 'More' expanded=false",
        "button 'Custom button'",
    ]:
        assert line in text, (line, text)


def test_hidden_content_is_skipped() -> None:
    text = render(_page(assign_ids(PAGE)))
    for gone in ("hidden attr", "display none", "aria hidden", "template button", "noscript text",
                 "unrendered", "script text", "color: red", "inside closed details", "spacer", "B1"):
        assert gone not in text, gone
    opened = PAGE.replace("<details>", "<details open>")
    assert "inside closed details" in render(_page(assign_ids(opened)))


def test_ids_come_from_the_attribute_in_document_order() -> None:
    html = assign_ids(PAGE)
    ids = re.findall(rf'{AGID_ATTR}="(\d+)"', html)
    assert ids == [str(i) for i in range(1, len(ids) + 1)]
    rendered = [int(m) for m in re.findall(r"\[(\d+)\]", render(_page(html)))]
    assert rendered == sorted(rendered)
    # the text shows whatever ids the HTML carries
    text = render(_page('<a href="/x" data-agid="a51">x</a><button data-agid="7">b</button>'))
    assert "[a51] link 'x'" in text and "[7] button 'b'" in text
    assert "[" not in render(_page('<a href="/x">no id</a>')).split("RootWebArea")[1]


def test_assign_ids_keeps_ids_renumbers_duplicates_and_is_idempotent() -> None:
    html = '<a href="/a">a</a><a href="/b" data-agid="5">b</a><button data-agid="5">dup</button><p>x</p><input>'
    out = assign_ids(html)
    got = re.findall(rf'<(\w+)[^>]*{AGID_ATTR}="(\d+)"', out)
    assert got == [("a", "6"), ("a", "5"), ("button", "7"), ("input", "8")]
    assert assign_ids(out) == out
    assert 'data-agid' not in assign_ids("<p>plain <b>text</b></p>")


def test_pure_function_of_html() -> None:
    html = assign_ids(PAGE)
    assert render(_page(html)) == render(_page(html))
    # serialization differences that do not change the tree do not change the text
    reserialized = html.replace('"', "'").replace("<b>boots</b>", "<b>boots</b>")
    assert render(_page(reserialized)) == render(_page(html))


def test_header_tabs_focus_and_error() -> None:
    html = assign_ids(PAGE)
    text = render(_page(html, tabs=["http://shop/", "http://shop/2"], active_tab=1, focused="3",
                        last_action_error="no element with id '99'"))
    header = text.split("\n\n")[0].splitlines()
    assert header[2] == "Tabs: [0] http://shop/, [1] (active) http://shop/2"
    assert header[3] == "Focused element: [3]"
    assert header[4] == "Last action error: no element with id '99'"
    assert "[3] textbox 'Search' value='boots' focused" in text
    one_tab = render(_page(html, tabs=["http://shop/"]))
    assert "Tabs:" not in one_tab and "Focused" not in one_tab and "error" not in one_tab


def test_cut_to_budget_with_note() -> None:
    html = "<ul>" + "".join(f"<li>item number {i}</li>" for i in range(200)) + "</ul>"
    full = render(_page(html))
    cut = render(_page(html), max_chars=600)
    assert len(cut) <= 600
    note = cut.splitlines()[-1]
    m = re.fullmatch(r"\[page cut: (\d+) more lines\]", note)
    assert m is not None
    shown = cut.splitlines()[:-1]
    assert full.splitlines()[: len(shown)] == shown
    assert len(shown) + int(m.group(1)) == len(full.splitlines())
    assert render(_page(html), max_chars=10**6) == full


def test_labels_names_and_text_runs() -> None:
    title, lines = page_lines(
        "<title>T</title><p>one <i>two</i> three</p><div>four</div>"
        '<input placeholder="Email" data-agid="1"><input aria-label="Zip" placeholder="x" data-agid="2">'
        '<span id="lbl">Quantity</span><input aria-labelledby="lbl" data-agid="3" type="number" value="2">'
        '<a href="/p" data-agid="4"><img alt="Logo"> shop</a>')
    assert title == "T"
    assert lines == [
        "\tStaticText 'one two three'",
        "\tStaticText 'four'",
        "\t[1] textbox 'Email'",
        "\t[2] textbox 'Zip'",
        "\tStaticText 'Quantity'",
        "\t[3] spinbutton 'Quantity' value='2'",
        "\t[4] link 'Logo shop'",
    ]
