"""Web environments: `WebEnv` over a `WebBackend` (browser or HTTP), BrowserGym action strings."""

from __future__ import annotations

from agentgym.envs.web.actions import BrowserGymProtocol, parse_action_calls
from agentgym.envs.web.env import WebEnv, WebObservations, page_reward

__all__ = ["BrowserGymProtocol", "WebEnv", "WebObservations", "page_reward", "parse_action_calls"]

# the browserless backend and the local shop (issue 14); imported on first use (the shop needs starlette/uvicorn)
_LAZY = {"HTTPBackend": "agentgym.envs.web.http_backend", "HTTPSession": "agentgym.envs.web.http_backend",
         "WebShopEnv": "agentgym.envs.web.webshop", "make_webshop_env": "agentgym.envs.web.webshop"}
__all__ += list(_LAZY)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
