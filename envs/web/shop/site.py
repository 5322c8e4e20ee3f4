"""The shop's web pages: an ASGI app (Starlette) over a `Catalog`, with per-episode sessions.

Every page of a session lives under `/s/<session>/`: the home page with a search box, search results (10 per
page, "< Prev" / "Next >", each result a link), product pages (title, price, attributes, "Description" and
"Features" tabs, options as radio buttons or a drop-down, "Buy Now"), and the page after a purchase. Pages are
plain HTML forms and links: no JavaScript, so the browserless HTTP backend can drive them as a browser does.

`ShopSite` records the first purchase of each session; the env reads it with `purchase(session)` (in process,
not from the page). Sessions are made with `new_session()`; a URL with an unknown session answers 404 unless
`allow_unknown_sessions` is set (handy to browse the shop by hand).
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from agentgym.envs.web.shop.catalog import SELECT_OPTIONS, Catalog, Product
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESULTS_PER_PAGE = 10
MAX_RESULTS = 50


@dataclass
class Purchase:
    """What a session bought: the product, the chosen options (group -> value; groups left unchosen are
    absent) and the price paid."""

    product_id: str
    title: str
    options: dict[str, str]
    price: float


@dataclass
class _Session:
    instruction: str | None = None
    purchase: Purchase | None = None


def _page(title: str, body: str, sid: str | None = None, instruction: str | None = None) -> str:
    top = f'<header><a href="/s/{sid}/">WebShop home</a></header>\n' if sid else ""
    if instruction:
        top += f'<p id="instruction">Instruction: {escape(instruction)}</p>\n'
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>\n'
            f"<body>\n{top}<main>\n{body}\n</main>\n</body></html>\n")


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _search_form(sid: str, query: str = "") -> str:
    value = f' value="{escape(query)}"' if query else ""
    return (f'<form action="/s/{sid}/search" method="get" role="search">'
            f'<input type="text" name="q" aria-label="Search" placeholder="Search products"{value}>'
            f'<button type="submit">Search</button></form>')


class ShopSite:
    """The shop: catalogue, sessions, purchases and the ASGI app that serves them.

    Args:
        catalog: the products (default: `Catalog.generate()`).
        allow_unknown_sessions: serve any `/s/<session>/` URL, making the session on first use.
        show_instruction: show a session's instruction at the top of its pages (as WebShop does).
    """

    def __init__(self, catalog: Catalog | None = None, allow_unknown_sessions: bool = False,
                 show_instruction: bool = False) -> None:
        self.catalog = catalog or Catalog.generate()
        self.allow_unknown_sessions = allow_unknown_sessions
        self.show_instruction = show_instruction
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/", self._index),
            Route("/s/{sid}/", self._home),
            Route("/s/{sid}", self._home),
            Route("/s/{sid}/search", self._search),
            Route("/s/{sid}/item/{pid}", self._item),
            Route("/s/{sid}/item/{pid}/{tab}", self._item_tab),
            Route("/s/{sid}/buy", self._buy, methods=["POST"]),
            Route("/s/{sid}/done", self._done),
        ])

    # ------------------------------------------------------------------ sessions (in-process API)

    def new_session(self, instruction: str | None = None, sid: str | None = None) -> str:
        """A fresh session; its pages are under `/s/<id>/`. `sid` picks the id (letters, digits, '-' and
        '_'; `ValueError` when it is in use); by default it is random."""
        if sid is not None and not _SID.fullmatch(sid):
            raise ValueError(f"bad session id {sid!r}")
        with self._lock:
            if sid is None:
                sid = secrets.token_hex(6)
                while sid in self._sessions:
                    sid = secrets.token_hex(6)
            elif sid in self._sessions:
                raise ValueError(f"session {sid!r} is in use")
            self._sessions[sid] = _Session(instruction)
        return sid

    def has_session(self, sid: str) -> bool:
        with self._lock:
            return sid in self._sessions

    def purchase(self, sid: str) -> Purchase | None:
        """The session's purchase, None before it buys (or for an unknown session)."""
        with self._lock:
            session = self._sessions.get(sid)
            return session.purchase if session is not None else None

    def end_session(self, sid: str) -> None:
        """Forget a session (its URLs answer 404 afterwards)."""
        with self._lock:
            self._sessions.pop(sid, None)

    @property
    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    @staticmethod
    def home_path(sid: str) -> str:
        return f"/s/{sid}/"

    def _session(self, sid: str) -> _Session | None:
        with self._lock:
            session = self._sessions.get(sid)
            if session is None and self.allow_unknown_sessions:
                session = self._sessions[sid] = _Session()
            return session

    # ------------------------------------------------------------------ pages

    def _html(self, title: str, body: str, sid: str, session: _Session, status: int = 200) -> HTMLResponse:
        instruction = session.instruction if self.show_instruction else None
        return HTMLResponse(_page(title, body, sid, instruction), status_code=status)

    @staticmethod
    def _not_found(what: str) -> HTMLResponse:
        return HTMLResponse(_page("Not found", f"<h1>Not found</h1><p>{escape(what)}</p>"), status_code=404)

    async def _index(self, request: Request) -> Response:
        return HTMLResponse(_page("WebShop", "<h1>WebShop</h1><p>Open a session at /s/&lt;session&gt;/.</p>"))

    async def _home(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        session = self._session(sid)
        if session is None:
            return self._not_found(f"unknown session {sid}")
        body = f"<h1>WebShop</h1>\n{_search_form(sid)}"
        return self._html("WebShop", body, sid, session)

    async def _search(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        session = self._session(sid)
        if session is None:
            return self._not_found(f"unknown session {sid}")
        query = (request.query_params.get("q") or "").strip()
        try:
            page = max(1, int(request.query_params.get("page") or 1))
        except ValueError:
            page = 1
        results = self.catalog.search(query, MAX_RESULTS) if query else []
        n_pages = max(1, -(-len(results) // RESULTS_PER_PAGE))
        page = min(page, n_pages)
        shown = results[(page - 1) * RESULTS_PER_PAGE: page * RESULTS_PER_PAGE]
        nav = []
        if page > 1:
            nav.append(f'<a href="/s/{sid}/search?{urlencode({"q": query, "page": page - 1})}">&lt; Prev</a>')
        if page < n_pages:
            nav.append(f'<a href="/s/{sid}/search?{urlencode({"q": query, "page": page + 1})}">Next &gt;</a>')
        items = []
        for p in shown:
            href = f"/s/{sid}/item/{p.id}?{urlencode({'q': query, 'page': page})}"
            items.append(f'<li><a href="{escape(href)}">{escape(p.title)}</a> <span>{_money(p.price)}</span></li>')
        if results:
            summary = f"<p>Page {page} of {n_pages} ({len(results)} results)</p>"
        else:
            summary = "<p>No products match your search.</p>"
        body = "\n".join([
            _search_form(sid, query),
            f"<h1>Results for &quot;{escape(query)}&quot;</h1>",
            summary,
            f'<nav aria-label="Result pages">{" ".join(nav)}</nav>' if nav else "",
            f"<ul>\n{chr(10).join(items)}\n</ul>" if items else "",
        ])
        return self._html(f"Results for {query}", body, sid, session)

    def _back_link(self, sid: str, request: Request) -> str:
        query = request.query_params.get("q")
        if query:
            page = request.query_params.get("page") or "1"
            return f'<a href="/s/{sid}/search?{escape(urlencode({"q": query, "page": page}))}">&lt; Back to results</a>'
        return f'<a href="/s/{sid}/">&lt; Back to search</a>'

    def _product(self, request: Request) -> tuple[str, _Session | None, Product | None]:
        sid = request.path_params["sid"]
        return sid, self._session(sid), self.catalog.get(request.path_params["pid"])

    async def _item(self, request: Request) -> Response:
        sid, session, product = self._product(request)
        if session is None:
            return self._not_found(f"unknown session {sid}")
        if product is None:
            return self._not_found(f"no product {request.path_params['pid']}")
        keep = urlencode({k: v for k, v in request.query_params.items() if k in ("q", "page")})
        tabs = " ".join(f'<a href="/s/{sid}/item/{product.id}/{t}{"?" + escape(keep) if keep else ""}">{t.title()}</a>'
                        for t in ("description", "features"))
        groups = []
        for group, values in product.options.items():
            if group in SELECT_OPTIONS:
                opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
                groups.append(f'<p><label>{escape(group)} <select name="{escape(group)}">'
                              f'<option value="">Select {escape(group)}</option>{opts}</select></label></p>')
            else:
                radios = "".join(f'<label><input type="radio" name="{escape(group)}" value="{escape(v)}"> '
                                 f"{escape(v)}</label> " for v in values)
                groups.append(f"<fieldset><legend>{escape(group)}</legend>{radios.strip()}</fieldset>")
        body = "\n".join([
            f"<nav>{self._back_link(sid, request)}</nav>",
            f"<h1>{escape(product.title)}</h1>",
            f"<p>Price: {_money(product.price)}</p>",
            f"<p>Rating: {product.rating:.1f} out of 5</p>",
            f"<p>Attributes: {escape(', '.join(product.attributes))}</p>",
            f'<nav aria-label="Product details">{tabs}</nav>',
            f'<form action="/s/{sid}/buy" method="post">',
            f'<input type="hidden" name="pid" value="{product.id}">',
            *groups,
            '<button type="submit">Buy Now</button>',
            "</form>",
        ])
        return self._html(product.title, body, sid, session)

    async def _item_tab(self, request: Request) -> Response:
        sid, session, product = self._product(request)
        tab = request.path_params["tab"]
        if session is None:
            return self._not_found(f"unknown session {sid}")
        if product is None or tab not in ("description", "features"):
            return self._not_found(f"no page {request.url.path}")
        keep = urlencode({k: v for k, v in request.query_params.items() if k in ("q", "page")})
        back = f'<a href="/s/{sid}/item/{product.id}{"?" + escape(keep) if keep else ""}">&lt; Back to product</a>'
        if tab == "description":
            content = f"<p>{escape(product.description)}</p>"
        else:
            content = "<ul>" + "".join(f"<li>{escape(f)}</li>" for f in product.features) + "</ul>"
        body = f"<nav>{back}</nav>\n<h1>{escape(product.title)}</h1>\n<h2>{tab.title()}</h2>\n{content}"
        return self._html(f"{product.title}: {tab}", body, sid, session)

    async def _buy(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        session = self._session(sid)
        if session is None:
            return self._not_found(f"unknown session {sid}")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        product = self.catalog.get(form.get("pid", ""))
        if product is None:
            return self._not_found(f"no product {form.get('pid', '')}")
        options = {g: form[g] for g, values in product.options.items() if form.get(g) in values}
        with self._lock:
            if session.purchase is None:
                session.purchase = Purchase(product.id, product.title, options, product.price)
        return RedirectResponse(f"/s/{sid}/done", status_code=303)

    async def _done(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        session = self._session(sid)
        if session is None:
            return self._not_found(f"unknown session {sid}")
        bought = session.purchase
        if bought is None:
            body = '<h1>Nothing bought yet</h1>\n<p><a href="/s/{sid}/">Back to search</a></p>'
            return self._html("Nothing bought yet", body.format(sid=sid), sid, session)
        chosen = ", ".join(f"{g}: {v}" for g, v in bought.options.items()) or "none"
        body = "\n".join([
            "<h1>Thank you for shopping with us!</h1>",
            f"<p>You bought: {escape(bought.title)}</p>",
            f"<p>Options: {escape(chosen)}</p>",
            f"<p>Price: {_money(bought.price)}</p>",
        ])
        return self._html("Thank you for shopping", body, sid, session)

    def describe(self) -> dict[str, Any]:
        """Catalogue size and session count (for logs)."""
        return {"products": len(self.catalog), "sessions": self.session_count}
