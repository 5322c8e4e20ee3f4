"""`agentgym/WebShop-v0`: shopping tasks on the project's own shop, through plain HTTP or a real browser.

The shop (`envs/web/shop`) is served by uvicorn on a free loopback port (started at the first reset); each episode
gets its own shop session (`/s/<id>/`). By default every `WebShopEnv` of a process over the same catalogue uses
one shop server, and every browser-backed one on the same event loop one Chromium (a context per episode), so a
`collect` pool of 8 envs runs one server and one browser; the last env to close stops them (`shared=False`:
each env its own). The
agent reads an instruction such as "I need a waterproof hiking boot, size 10, in black, under $80", searches,
opens products, picks options and clicks "Buy Now"; the purchase ends the episode with WebShop's reward
(`shop.reward.get_reward`: product type, attributes, options and price), and success is reward 1.

`backend="http"` (the default) drives the pages with the browserless `HTTPBackend`; `backend="browser"`
with Playwright on Chromium (`agentgym.tools.browser.playwright_backend`, imported only then). Both show the
agent the same page text. `ShopOracle(env)` (`shop.shopper`) is a scripted policy that reaches reward 1.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from agentgym.envs.web.env import WebEnv
from agentgym.envs.web.http_backend import HTTPBackend
from agentgym.envs.web.shop.catalog import Catalog
from agentgym.envs.web.shop.goals import shop_tasks
from agentgym.envs.web.shop.reward import Goal, get_reward
from agentgym.envs.web.shop.server import ShopServer
from agentgym.envs.web.shop.site import ShopSite
from agentgym.tools.browser.base import PageSession, PageState, WebBackend
from agentgym.tools.shared import SharedPool

from agentgym.protocols import ToolProtocol
from agentgym.state import EpisodeState
from agentgym.tasks import Task

SYSTEM_PROMPT = (
    "You are shopping on a web shop for a customer. You see each page as accessibility text in which every "
    "element you can act on has an id in brackets. Search for what the customer asks for, open products, check "
    "their price, attributes and options, select the options asked for and click 'Buy Now' on the right "
    "product. Buying ends the task."
)
SESSION_KEY = "shop_session"
# one shop server per catalogue, one browser per (event loop, browser settings), for the whole process
SHOP_SERVERS: SharedPool[ShopServer] = SharedPool("shop servers")
SHOP_BROWSERS: SharedPool[WebBackend] = SharedPool("shop browsers")


class WebShopEnv(WebEnv):
    """WebShop-style shopping on a local site.

    Args:
        backend: "http" (browserless, default) or "browser" (Playwright + Chromium).
        split: "test" (default) or "train"; task ids are `test-N` / `train-N`.
        sizes: nominal number of tasks per split.
        n_products: catalogue size; `catalog_seed` picks the catalogue.
        show_instruction: also show the instruction at the top of every shop page (as WebShop does).
        browser_kwargs: arguments for `PlaywrightBackend` when `backend="browser"` (`max_contexts`: episodes
            open at once in the shared browser).
        shared: share the shop server with every `WebShopEnv` of the process over the same catalogue, and the
            browser with those on the same event loop and `browser_kwargs` (the default); False: this env
            starts and stops its own.
        protocol, max_turns, obs_max_chars, **kwargs: as for `WebEnv`.
    """

    def __init__(
        self,
        backend: str = "http",
        split: str = "test",
        sizes: dict[str, int] | None = None,
        n_products: int = 4_800,
        catalog_seed: int = 0,
        show_instruction: bool = False,
        browser_kwargs: dict[str, Any] | None = None,
        protocol: str | ToolProtocol = "browsergym",
        max_turns: int = 20,
        obs_max_chars: int | None = 12_000,
        shared: bool = True,
        **kwargs: Any,
    ) -> None:
        if backend not in ("http", "browser"):
            raise ValueError(f"backend must be 'http' or 'browser', got {backend!r}")
        self.backend_kind = backend
        self.browser_kwargs = dict(browser_kwargs or {})
        self.catalog = Catalog.generate(catalog_seed, n_products)
        self.shared = shared
        self._server_key: tuple[Any, ...] | None = (catalog_seed, n_products, show_instruction) if shared else None
        self._browser_key: tuple[Any, ...] | None = None
        if self._server_key is not None:
            self.server = SHOP_SERVERS.acquire(
                self._server_key, lambda: ShopServer(ShopSite(self.catalog, show_instruction=show_instruction)))
        else:
            self.server = ShopServer(ShopSite(self.catalog, show_instruction=show_instruction))
        self.site = self.server.site
        self._sid: str | None = None
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(shop_tasks(self.catalog, sizes, salt=f"webshop{catalog_seed}:{n_products}"),
                         self._make_backend, start_url=self._start_url, reward=self._reward,
                         protocol=protocol, max_turns=max_turns, obs_max_chars=obs_max_chars, split=split,
                         **kwargs)
        # a shared browser is closed by its last holder (aclose), not by WebEnv
        self._own_backend = not (shared and backend == "browser")

    def _make_backend(self) -> WebBackend:
        """Called by `WebEnv` at the first reset, inside the episode's event loop."""
        self.server.start()
        if self.backend_kind == "http":
            return HTTPBackend(base_url=self.server.base_url)
        from agentgym.tools.browser.playwright_backend import PlaywrightBackend

        if not self.shared:
            return PlaywrightBackend(**self.browser_kwargs)
        # Playwright's objects belong to one event loop, so a browser is shared per loop
        self._browser_key = (asyncio.get_running_loop(), tuple(sorted(self.browser_kwargs.items(), key=str)))
        return SHOP_BROWSERS.acquire(self._browser_key, lambda: PlaywrightBackend(**self.browser_kwargs))

    def _start_url(self, task: Task) -> str:
        if self._sid is None:
            raise RuntimeError("no shop session: the episode was not set up")
        return self.server.session_url(self._sid)

    def goal(self, task: Task) -> Goal:
        """The goal of `task`."""
        return Goal.from_dict(task.metadata["goal"])

    async def setup_episode(self, state: EpisodeState) -> None:
        """A new shop session for the episode (the server starts at the first one), then the page."""
        self.server.start()
        # the id comes from the env's seeded generator, so reset(seed=...) shows the same page (and URL)
        sid = f"{int(self.np_random.integers(2**48)):012x}"
        while self.site.has_session(sid):
            sid = f"{int(self.np_random.integers(2**48)):012x}"
        self._sid = self.site.new_session(state.task.prompt, sid=sid)
        state.data[SESSION_KEY] = self._sid
        await super().setup_episode(state)

    async def teardown_episode(self, state: EpisodeState) -> None:
        await super().teardown_episode(state)
        sid = state.data.get(SESSION_KEY)
        if sid:
            self.site.end_session(sid)

    def _reward(self, page: PageState, task: Task, session: PageSession | None) -> tuple[float, bool]:
        """(reward, done): 0 and not done before a purchase; WebShop's reward and done after it."""
        state = self.state
        sid = state.data.get(SESSION_KEY) if state is not None else None
        bought = self.site.purchase(sid) if sid else None
        if bought is None:
            return 0.0, False
        result = get_reward(self.catalog.get(bought.product_id), self.goal(task), bought.price, bought.options)
        if state is not None:
            state.data["purchase"] = {"product_id": bought.product_id, "title": bought.title,
                                      "options": dict(bought.options), "price": bought.price}
            state.data["reward_parts"] = {"r_type": result.r_type, "r_att": result.r_att,
                                          "r_option": result.r_option, "r_price": result.r_price}
        return result.reward, True

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        """`WebEnv`'s info, plus the purchase and the reward's parts once bought."""
        info = super().episode_info(state)
        if "purchase" in state.data:
            info["purchase"] = state.data["purchase"]
            info["reward_parts"] = state.data["reward_parts"]
        return info

    async def aclose(self) -> None:
        """End the episode; stop the server and browser when this env is their last holder."""
        try:
            await super().aclose()
        finally:
            browser_key, self._browser_key = self._browser_key, None
            if browser_key is not None:
                self._backend = None
                last = SHOP_BROWSERS.release(browser_key)
                if last is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(last.aclose(), self.action_timeout)
            server_key, self._server_key = self._server_key, None
            if server_key is not None:
                last_server = SHOP_SERVERS.release(server_key)
                if last_server is not None:
                    last_server.close()
            elif not self.shared:
                self.server.close()


def make_webshop_env(**kwargs: Any) -> WebShopEnv:
    """`agentgym/WebShop-v0`'s entry point (see `WebShopEnv` for the arguments)."""
    return WebShopEnv(**kwargs)
