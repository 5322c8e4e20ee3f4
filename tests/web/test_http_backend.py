"""HTTPBackend: links, forms (GET/POST, radios, checkboxes, selects, textareas), history, tabs, errors, and a
purchase on the real shop server end to end."""

from __future__ import annotations

import html
import json
import re
import socket
from urllib.parse import parse_qsl

import httpx
import numpy as np
import pytest
from agentgym.envs.web.http_backend import HTTPBackend, HTTPSession
from agentgym.envs.web.shop import Catalog, Goal, ShopServer, ShopSite, get_reward, make_goal
from agentgym.tools.browser.axtext import render
from agentgym.tools.browser.base import AGID_ATTR, ActionError, BackendCrashed, PageState, WebAction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

FORM = """<html><head><title>Form</title></head><body>
<a href="/page2">Page two</a> <a href="/page2" target="_blank">New tab</a> <a href="#top">Anchor</a>
<a href="javascript:void(0)">JS link</a>
<form action="/echo" method="{method}">
<input type="text" name="q" value="start">
<input type="hidden" name="token" value="t1">
<label><input type="checkbox" name="wp" value="yes"> Waterproof</label>
<input type="checkbox" name="vegan" checked>
<fieldset><legend>color</legend><label><input type="radio" name="color" value="black"> black</label>
<label><input type="radio" name="color" value="red" checked> red</label></fieldset>
<select name="size"><option value="">Pick</option><option value="9">nine</option><option>10</option></select>
<textarea name="note">hi</textarea>
<input type="text" name="off" value="x" disabled>
<input type="number" name="n" value="1">
<button type="submit" name="go" value="buy">Buy</button>
<button type="reset">Reset</button>
<button type="button">Does nothing</button>
</form>
<div style="display:none"><button>Hidden</button></div>
<p>cookie={cookie}</p>
</body></html>"""


async def _form(request: Request) -> Response:
    method = request.query_params.get("method", "get")
    resp = HTMLResponse(FORM.format(method=method, cookie=request.cookies.get("visit", "none")))
    resp.set_cookie("visit", "yes")
    return resp


async def _echo(request: Request) -> Response:
    if request.method == "POST":
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    else:
        pairs = list(request.query_params.multi_items())
    body = html.escape(json.dumps({"method": request.method, "data": pairs}))
    return HTMLResponse(f"<html><head><title>Echo</title></head><body><pre id='out'>{body}</pre>"
                        f"<a href='/'>Back home</a></body></html>")


async def _page2(request: Request) -> Response:
    return HTMLResponse("<html><head><title>Two</title></head><body><p>second page</p></body></html>")


async def _redirect(request: Request) -> Response:
    return RedirectResponse("/page2", status_code=302)


APP = Starlette(routes=[Route("/", _form), Route("/echo", _echo, methods=["GET", "POST"]),
                        Route("/page2", _page2), Route("/redirect", _redirect)])
BASE = "http://testserver"


def _bid(state: PageState, marker: str) -> str:
    """The data-agid of the element whose opening tag contains `marker`."""
    i = state.html.index(marker)
    tag = state.html[state.html.rindex("<", 0, i): state.html.index(">", i)]
    return re.search(rf'{AGID_ATTR}="([^"]+)"', tag).group(1)


def _echoed(state: PageState) -> dict:
    m = re.search(r"<pre id=\"out\">(.*?)</pre>", state.html, re.S)
    assert m, state.html
    return json.loads(html.unescape(m.group(1)))


async def _session(**kw: object) -> HTTPSession:
    backend = HTTPBackend(base_url=BASE, transport=httpx.ASGITransport(APP), **kw)
    return await backend.new_session()


async def _act(s: HTTPSession, name: str, **args: object) -> PageState:
    return await s.act(WebAction(name, args))


@pytest.mark.parametrize("method", ["get", "post"])
async def test_form_submission_sends_the_session_form_state(method: str) -> None:
    s = await _session()
    st = await s.goto(f"{BASE}/?method={method}")
    st = await _act(s, "fill", bid=_bid(st, 'name="q"'), value="boots & more")
    st = await _act(s, "click", bid=_bid(st, 'name="wp"'))  # checkbox toggles on
    st = await _act(s, "click", bid=_bid(st, 'name="vegan"'))  # ... and off
    st = await _act(s, "click", bid=_bid(st, 'value="black"'))  # radio: red unchecks
    st = await _act(s, "select_option", bid=_bid(st, 'name="size"'), options=["nine"])  # by label
    st = await _act(s, "fill", bid=_bid(st, 'name="note"'), value="a <b> note")
    text = render(st)
    assert "textbox value='boots & more'" in text
    assert "checkbox 'Waterproof' checked=true" in text
    assert "radio 'black' checked=true" in text and "radio 'red' checked=false" in text
    assert "combobox value='nine'" in text and "option 'nine' selected" in text
    assert "value='a <b> note'" in text
    st = await _act(s, "click", bid=_bid(st, ">Buy<"))
    got = _echoed(st)
    assert got["method"] == method.upper()
    assert got["data"] == [["q", "boots & more"], ["token", "t1"], ["wp", "yes"], ["color", "black"],
                           ["size", "9"], ["note", "a <b> note"], ["n", "1"], ["go", "buy"]]
    assert st.url.startswith(f"{BASE}/echo")
    await s.close()


async def test_enter_in_a_text_field_submits_with_the_default_button() -> None:
    s = await _session()
    st = await s.goto(BASE + "/")
    q = _bid(st, 'name="q"')
    await _act(s, "fill", bid=q, value="x")
    st = await _act(s, "press", key="Enter", bid=q)
    assert ["go", "buy"] in _echoed(st)["data"] and ["q", "x"] in _echoed(st)["data"]
    # without a bid, press acts on the focused element
    st = await _act(s, "go_back")
    st = await _act(s, "fill", bid=q, value="y")
    assert st.focused == q
    st = await _act(s, "press", key="Enter")
    assert ["q", "y"] in _echoed(st)["data"]


async def test_reset_label_defaults_and_no_js_buttons() -> None:
    s = await _session()
    st = await s.goto(BASE + "/")
    st = await _act(s, "click", bid=_bid(st, 'name="wp"'))
    st = await _act(s, "fill", bid=_bid(st, 'name="q"'), value="changed")
    st = await _act(s, "click", bid=_bid(st, ">Reset<"))
    text = render(st)
    assert "value='start'" in text and "checkbox 'Waterproof' checked=false" in text
    # clicking the label toggles its checkbox
    label = re.search(rf'<label {AGID_ATTR}="(\d+)"><input type="checkbox" name="wp"', st.html).group(1)
    st = await _act(s, "click", bid=label)
    assert "checkbox 'Waterproof' checked=true" in render(st)
    before = st.html
    st = await _act(s, "click", bid=_bid(st, ">Does nothing<"))
    assert st.html == before and "JavaScript" in st.extra["note"]
    st = await _act(s, "click", bid=_bid(st, "javascript:"))
    assert st.title == "Form" and "JavaScript" in st.extra["note"]


async def test_links_history_tabs_and_cookies() -> None:
    s = await _session()
    st = await s.goto(BASE + "/")
    assert "cookie=none" in render(st)
    st = await _act(s, "click", bid=_bid(st, '>Page two<'))
    assert (st.title, st.url) == ("Two", BASE + "/page2")
    st = await _act(s, "go_back")
    assert st.title == "Form"
    st = await _act(s, "go_forward")
    assert st.title == "Two"
    with pytest.raises(ActionError, match="no next page"):
        await _act(s, "go_forward")
    st = await _act(s, "goto", url="/")  # relative to the current page; the cookie came back
    assert "cookie=yes" in render(st)
    st = await _act(s, "click", bid=_bid(st, 'target="_blank"'))
    assert st.tabs == [BASE + "/", BASE + "/page2"] and st.active_tab == 1
    assert "Tabs: [0] http://testserver/, [1] (active) http://testserver/page2" in render(st)
    st = await _act(s, "tab_focus", index=0)
    assert st.title == "Form"
    with pytest.raises(ActionError, match="no tab 5"):
        await _act(s, "tab_focus", index=5)
    st = await _act(s, "click", bid=_bid(st, '"#top"'))
    assert st.url == BASE + "/#top" and st.title == "Form"
    st = await _act(s, "tab_close")
    assert st.tabs == [BASE + "/page2"]
    st = await _act(s, "goto", url="/redirect")
    assert st.url == BASE + "/page2"
    st = await _act(s, "new_tab")
    assert st.url == "about:blank" and len(st.tabs) == 2


async def test_errors_are_action_errors_and_page_stays() -> None:
    s = await _session()
    st = await s.goto(BASE + "/")
    cases = [
        (WebAction("click", {"bid": "999"}), "no element"),
        (WebAction("fill", {"bid": _bid(st, ">Buy<"), "value": "x"}), "not a text field"),
        (WebAction("fill", {"bid": _bid(st, 'name="size"'), "value": "x"}), "select_option"),
        (WebAction("fill", {"bid": _bid(st, 'name="wp"'), "value": "x"}), "cannot be filled"),
        (WebAction("fill", {"bid": _bid(st, 'name="off"'), "value": "x"}), "disabled"),
        (WebAction("fill", {"bid": _bid(st, 'name="n"'), "value": "abc"}), "number"),
        (WebAction("select_option", {"bid": _bid(st, 'name="size"'), "options": ["11"]}), "no option '11'"),
        (WebAction("select_option", {"bid": _bid(st, 'name="q"'), "options": ["x"]}), "not a <select>"),
        (WebAction("click", {"bid": _bid(st, ">Hidden<")}), "not visible"),
        (WebAction("go_back", {}), "no previous page"),
        (WebAction("goto", {"url": "ftp://x/"}), "only http"),
        (WebAction("fly", {}), "cannot 'fly'"),
        (WebAction("click", {}), "bad arguments"),
        (WebAction("press", {"key": "NotAKey", "bid": _bid(st, 'name="q"')}), "unknown key"),
    ]
    for action, message in cases:
        with pytest.raises(ActionError, match=message):
            await s.act(action)
        assert (await s.state()).html == st.html
    with pytest.raises(ActionError, match="no JavaScript"):
        await s.evaluate("1 + 1")
    st = await _act(s, "scroll", dx=0, dy=300)
    assert st.html == (await s.state()).html and "scrolling" in st.extra["note"]
    st = await _act(s, "hover", bid=_bid(st, ">Buy<"))
    assert st.title == "Form"


async def test_unreachable_own_server_is_a_crash_elsewhere_an_action_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    dead = f"http://127.0.0.1:{port}"
    backend = HTTPBackend(base_url=dead, timeout=5)
    s = await backend.new_session()
    with pytest.raises(BackendCrashed):
        await s.goto(dead + "/")
    other = HTTPBackend(timeout=5)
    s2 = await other.new_session()
    with pytest.raises(ActionError, match="could not load"):
        await s2.goto(dead + "/")
    await backend.aclose()
    await other.aclose()
    assert backend.open_sessions == 0 and other.open_sessions == 0


async def test_purchase_end_to_end_on_the_shop_server() -> None:
    catalog = Catalog.generate(seed=3, n_products=600)
    site = ShopSite(catalog)
    product = next(p for p in catalog.products if "size" in p.options and "color" in p.options)
    goal: Goal = make_goal(np.random.default_rng(0), product)
    with ShopServer(site) as server:
        backend = HTTPBackend(base_url=server.base_url)
        sid = site.new_session()
        s = await backend.new_session()
        st = await s.goto(server.session_url(sid))
        box = _bid(st, 'name="q"')
        await _act(s, "fill", bid=box, value=product.title)
        st = await _act(s, "press", key="Enter", bid=box)
        assert st.url.startswith(server.url(f"/s/{sid}/search?q="))
        st = await _act(s, "click", bid=_bid(st, f"/item/{product.id}?"))
        assert st.title == product.title
        size, color = goal.options["size"], goal.options["color"]
        st = await _act(s, "select_option", bid=_bid(st, 'name="size"'), options=[size])
        st = await _act(s, "click", bid=_bid(st, f'name="color" value="{color}"'))
        assert site.purchase(sid) is None
        st = await _act(s, "click", bid=_bid(st, ">Buy Now<"))
        assert st.url == server.url(f"/s/{sid}/done")
        assert f"You bought: {product.title}" in render(st)
        bought = site.purchase(sid)
        assert bought is not None and bought.product_id == product.id
        assert bought.options == {"size": size, "color": color}
        assert get_reward(product, goal, bought.price, bought.options).reward == 1.0
        await backend.aclose()
