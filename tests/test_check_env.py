"""Every registered environment passes Gymnasium's checker, with warnings treated as errors."""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import agentgym


def test_registry_is_not_empty():
    assert "agentgym/Arithmetic-v0" in agentgym.list_envs()


@pytest.mark.parametrize("env_id", agentgym.list_envs())
def test_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        try:
            check_env(env.unwrapped)
        finally:
            env.close()
