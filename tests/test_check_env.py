"""Every registered environment passes Gymnasium's checker, with warnings treated as errors."""

import warnings

import pytest
from gymnasium.utils.env_checker import check_env

import agentgym


def test_registry_is_not_empty():
    assert "agentgym/Arithmetic-v0" in agentgym.list_envs()


@pytest.mark.parametrize("env_id", agentgym.list_envs())
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
