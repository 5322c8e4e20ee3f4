"""The Playwright backend on Debian Chromium: ids, every action, errors that change nothing, the context limit,
and a killed browser (by the PID our backend launched) that ends the episode at once and is relaunched."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from agentgym.tools.browser.base import AGID_ATTR, HIDDEN_ATTR, ActionError, BackendCrashed, WebAction
from agentgym.tools.browser.chromium import ChromiumNotFound, find_chromium

INDEX = """<!doctype html><html><head><title>Index</title></head><body>
<h1>Shop</h1>
<a href="/page2.html">Next page</a>
<button id="b" onclick="document.getElementById('out').textContent='clicked'">Press</button>
<input id="q" name="q">
<select id="s"><option value="r">red</option><option value="g">green</option></select>
<label><input type="checkbox" id="c"> agree</label>
<span id="js">js target</span>
<div id="hov">hover me</div>
<div id="gone" style="display:none"><button>Hidden</button></div>
<div style="height:3000px">tall</div>
<span id="out"></span>
<script>
document.getElementById('js').addEventListener('click', () => { document.getElementById('out').textContent = 'js'; });
document.getElementById('hov').addEventListener('mouseover', () => { document.getElementById('out').textContent = 'hovered'; });
document.getElementById('q').addEventListener('keydown', e => { if (e.key === 'Enter') document.getElementById('out').textContent = 'enter:' + e.target.value; });
</script></body></html>"""
FORM = """<!doctype html><html><head><title>Form</title></head><body><form action="/index.html">
<input name="t" aria-label="Name" value="preset">
<textarea name="a" aria-label="Notes">old notes</textarea>
<label><input type="checkbox" name="c1" checked> first</label>
<label><input type="checkbox" name="c2"> second</label>
<label>Size <select name="s"><option value="">Pick</option><option value="m">M</option><option value="l" selected>L</option></select></label>
<fieldset><legend>color</legend><label><input type="radio" name="r" value="red"> red</label>
<label><input type="radio" name="r" value="blue" checked> blue</label></fieldset>
<button type="submit">Send</button></form></body></html>"""
PAGE2 = "<!doctype html><html><head><title>Second</title></head><body><p>page two</p><a href='/'>home</a></body></html>"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(INDEX)
    (root / "page2.html").write_text(PAGE2)
    (root / "form.html").write_text(FORM)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _bid(html: str, marker: str) -> str:
    """The data-agid of the element whose opening tag contains `marker`."""
    i = html.index(marker)
    start = html.rindex("<", 0, i)
    tag = html[start: html.index(">", i)]
    key = f'{AGID_ATTR}="'
    j = tag.index(key) + len(key)
    return tag[j: tag.index('"', j)]


def test_find_chromium_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTGYM_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(ChromiumNotFound, match="apt-get install -y chromium"):
        find_chromium()
    exe = tmp_path / "chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("AGENTGYM_CHROMIUM", str(exe))
    assert find_chromium() == str(exe)


@pytest.mark.browser
def test_ids_and_actions(site: str) -> None:
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    async def main() -> None:
        async with PlaywrightBackend(max_contexts=2, action_timeout=3) as backend:
            s = await backend.new_session()
            st = await s.goto(site)
            assert st.title == "Index" and st.url == site and st.tabs == [site]
            html = st.html
            # document order: link, button, input, select, label, checkbox, then the script-handled span
            ids = [_bid(html, m) for m in ('href="/page2.html"', 'id="b"', 'id="q"', 'id="s"', "<label",
                                            'id="c"', 'id="js"', 'id="hov"')]
            assert ids == ["1", "2", "3", "4", "5", "6", "7", "8"]
            assert HIDDEN_ATTR in html[html.index('id="gone"') - 5: html.index('id="gone"') + 80]
            again = await s.state()
            assert [_bid(again.html, 'id="b"'), _bid(again.html, 'id="js"')] == ["2", "7"]  # stable

            st = await s.act(WebAction("click", {"bid": "2"}))
            assert '<span id="out">clicked</span>' in st.html
            st = await s.act(WebAction("click", {"bid": "7"}))
            assert '<span id="out">js</span>' in st.html
            st = await s.act(WebAction("fill", {"bid": "3", "value": "boots"}))
            assert st.focused == "3"
            st = await s.act(WebAction("press", {"bid": "3", "key": "Enter"}))
            assert '<span id="out">enter:boots</span>' in st.html
            await s.act(WebAction("select_option", {"bid": "4", "options": ["green"]}))
            assert await s.evaluate("document.getElementById('s').value") == "g"
            await s.act(WebAction("click", {"bid": "6"}))
            assert await s.evaluate("document.getElementById('c').checked") is True
            st = await s.act(WebAction("hover", {"bid": "8"}))
            assert '<span id="out">hovered</span>' in st.html
            await s.act(WebAction("scroll", {"dx": 0, "dy": 500}))
            assert await s.evaluate("window.scrollY") > 0
            shot = await s.state(screenshot=True)
            assert shot.screenshot is not None and shot.screenshot[:8] == b"\x89PNG\r\n\x1a\n"

            # errors: clear messages, nothing changes
            before = (await s.state()).html
            for action, match in [(WebAction("click", {"bid": "999"}), "no element with id '999'"),
                                  (WebAction("fill", {"bid": "2", "value": "x"}), "fill 2"),
                                  (WebAction("fly", {}), "unknown action"),
                                  (WebAction("click", {}), "bad arguments"),
                                  (WebAction("tab_close", {}), "only open tab"),
                                  (WebAction("tab_focus", {"index": 3}), "no tab 3")]:
                with pytest.raises(ActionError, match=match):
                    await s.act(action)
            assert (await s.state()).html == before

            # navigation and history
            st = await s.act(WebAction("click", {"bid": "1"}))
            assert st.title == "Second" and st.url.endswith("/page2.html")
            st = await s.act(WebAction("go_back", {}))
            assert st.title == "Index"
            st = await s.act(WebAction("go_forward", {}))
            assert st.title == "Second"
            st = await s.act(WebAction("goto", {"url": site}))
            assert st.title == "Index"
            with pytest.raises(ActionError, match="goto"):
                await s.act(WebAction("goto", {"url": "http://127.0.0.1:9/nothing"}))
            assert (await s.state()).title == "Index"  # back where it was

            # tabs
            st = await s.act(WebAction("new_tab", {"url": site + "page2.html"}))
            assert st.active_tab == 1 and len(st.tabs) == 2 and st.title == "Second"
            st = await s.act(WebAction("tab_focus", {"index": 0}))
            assert st.active_tab == 0 and st.title == "Index"
            await s.act(WebAction("tab_focus", {"index": 1}))
            st = await s.act(WebAction("tab_close", {}))
            assert st.tabs == [site] and st.active_tab == 0
            await s.close()
            assert backend.open_sessions == 0

    asyncio.run(main())


@pytest.mark.browser
def test_context_limit_and_recycling(site: str) -> None:
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    async def main() -> None:
        async with PlaywrightBackend(max_contexts=2) as backend:
            a, b = await backend.new_session(), await backend.new_session()
            await a.goto(site)
            await b.goto(site + "page2.html")  # contexts are separate: separate tabs and histories
            assert (await a.state()).title == "Index" and (await b.state()).title == "Second"
            waiting = asyncio.ensure_future(backend.new_session())
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the third waits for a free context
            await a.close()
            c = await asyncio.wait_for(waiting, 10)
            assert (await c.goto(site)).title == "Index"
            await b.close()
            await c.close()
            assert backend.open_sessions == 0 and backend.launches == 1

    asyncio.run(main())


@pytest.mark.browser
def test_killed_browser_raises_backend_crashed_and_relaunches(site: str) -> None:
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    async def main() -> None:
        async with PlaywrightBackend(max_contexts=2, action_timeout=60) as backend:
            s = await backend.new_session()
            await s.goto(site)
            pid = backend.browser_pid
            assert pid is not None and s.browser_pid == pid
            assert "chrom" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").lower()
            # an in-flight call that would never finish on its own
            hanging = asyncio.ensure_future(s.evaluate("new Promise(() => {})"))
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)  # only the browser our backend launched
            with pytest.raises(BackendCrashed):
                await asyncio.wait_for(hanging, 10)
            assert time.monotonic() - t0 < 5
            t1 = time.monotonic()
            with pytest.raises(BackendCrashed):
                await s.act(WebAction("click", {"bid": "2"}))
            with pytest.raises(BackendCrashed):
                await s.state()
            assert time.monotonic() - t1 < 1
            await s.close()  # releases its slot even though the browser is gone

            s2 = await backend.new_session()
            assert backend.browser_pid not in (None, pid) and backend.launches == 2
            st = await s2.goto(site)
            assert st.title == "Index"
            st = await s2.act(WebAction("click", {"bid": "2"}))
            assert '<span id="out">clicked</span>' in st.html
            await s2.close()

    asyncio.run(main())


@pytest.mark.browser
def test_live_form_state_reads_as_in_the_http_backend(site: str) -> None:
    """Typed text, a textarea, ticked and unticked boxes, radios and a select: the browser's HTML carries the
    live state as attributes, so the page text equals the HTTP backend's after every action."""
    from agentgym.envs.web.http_backend import HTTPBackend
    from agentgym.tools.browser.axtext import render
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    async def main() -> None:
        http = HTTPBackend(base_url=site)
        async with PlaywrightBackend(max_contexts=1, action_timeout=3) as browser:
            a, b = await http.new_session(), await browser.new_session()
            ta, tb = render(await a.goto(site + "form.html")), render(await b.goto(site + "form.html"))
            assert ta == tb and "value='preset'" in ta and "value='L'" in ta
            ids = {name: line.split("]")[0].strip("\t[") for line in ta.splitlines() if "] " in line
                   for name in ("Name", "Notes", "first", "second", "Size", "red", "blue") if f"'{name}'" in line}
            steps = [("fill", {"bid": ids["Name"], "value": "Ada"}, "textbox 'Name' value='Ada'"),
                     ("fill", {"bid": ids["Notes"], "value": "new notes"}, "textbox 'Notes' value='new notes'"),
                     ("click", {"bid": ids["first"]}, "checkbox 'first' checked=false"),
                     ("click", {"bid": ids["second"]}, "checkbox 'second' checked=true"),
                     ("select_option", {"bid": ids["Size"], "options": ["M"]}, "combobox 'Size' value='M'"),
                     ("click", {"bid": ids["red"]}, "radio 'red' checked=true"),
                     ("fill", {"bid": ids["Name"], "value": ""}, "] textbox 'Name' focused\n")]
            for name, args, expected in steps:
                ta = render(await a.act(WebAction(name, args)))
                tb = render(await b.act(WebAction(name, args)))
                assert ta == tb, (name, args)
                assert expected in ta + "\n", (name, ta)
            assert "radio 'blue' checked=false" in ta and "option 'L'\n" in ta + "\n"
            await a.close()
            await b.close()
        await http.aclose()

    asyncio.run(main())
