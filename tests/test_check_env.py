"""Every registered environment passes Gymnasium's checker, with warnings treated as errors."""

import warnings

import pytest
from gymnasium.utils.env_checker import check_env

import agentgym


def test_registry_is_not_empty():
    assert "agentgym/Arithmetic-v0" in agentgym.list_envs()


# per-task variants of one env class that each drive a browser (MiniWoB++ and BrowserGym task ids: ~260, about 7 s
# each under the checker) are checked here through a sample of task types; `python scripts/check_envs.py --match
# agentgym/miniwob.` checks every one, and tests/web covers the tasks' pages and rewards
_BROWSER_VARIANTS = ("agentgym/miniwob.", "agentgym/browsergym.", "agentgym/BrowserGym-v0")
_BROWSER_SAMPLE = tuple(f"agentgym/miniwob.{t}-v0" for t in (
    "click-button", "enter-text", "click-checkboxes", "choose-list", "book-flight", "use-autocomplete",
    "click-tab-2", "social-media"))


def _env_params() -> list:
    params = []
    for env_id in agentgym.list_envs():
        if env_id in _BROWSER_SAMPLE:
            params.append(pytest.param(env_id, marks=[pytest.mark.browser]))
        elif not env_id.startswith(_BROWSER_VARIANTS):
            params.append(env_id)
    return params


@pytest.mark.parametrize("env_id", _env_params())
def test_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the one warning a wrapped env gets by design: agentgym.make returns wrappers (TAPO-*, EAPO-*)
        warnings.filterwarnings("ignore", message=".*is different from the unwrapped version")
        env = agentgym.make(env_id)
        assert env.spec is not None and env.spec.id == env_id
        try:
            check_env(env)
        finally:
            env.close()
