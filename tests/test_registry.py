import subprocess
import sys
import textwrap

import gymnasium as gym
import pytest

import agentgym
from agentgym import LanguageEnv, Task, TaskDataset
from agentgym.registry import EnvNotFoundError


def _tiny_env(**kwargs):
    return LanguageEnv(TaskDataset([Task(id="a", prompt="hi", answer="x")]), [], **kwargs)


def test_register_then_make_both_ways():
    fid = agentgym.register("Tiny-v0", _tiny_env, kwargs={"max_turns": 3})
    assert fid == "agentgym/Tiny-v0" and fid in agentgym.list_envs()
    env = agentgym.make("Tiny-v0")
    assert isinstance(env, LanguageEnv) and env.max_turns == 3 and env.spec.id == fid
    assert agentgym.make("agentgym/Tiny-v0", max_turns=5).max_turns == 5
    wrapped = gym.make(fid)
    obs, _info = wrapped.reset(seed=0)
    assert obs[-1]["content"] == "hi"


def test_unknown_env_error_lists_known_ids():
    with pytest.raises(EnvNotFoundError, match="Arithmetic-v0"):
        agentgym.make("DoesNotExist-v0")


def test_gymnasium_make_vec_uses_our_vector_env():
    vec = gym.make_vec("agentgym/Arithmetic-v0", num_envs=2, vectorization_mode="vector_entry_point")
    obs, _infos = vec.reset(seed=3)
    assert len(obs) == 2 and obs[0] != obs[1]
    vec.close()


def test_third_party_entry_point_plugin(tmp_path):
    """A package exposing the `agentgym.envs` entry point is discovered without being imported by the user."""
    pkg = tmp_path / "myenvs_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        import agentgym
        from agentgym import LanguageEnv, Task, TaskDataset

        def make_echo(**kw):
            return LanguageEnv(TaskDataset([Task(id="e", prompt="echo", answer="echo")]), [], **kw)

        def register():
            agentgym.register("thirdparty/Echo-v0", make_echo)
    """))
    dist = tmp_path / "myenvs_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myenvs-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[agentgym.envs]\necho = myenvs_pkg:register\n")
    code = textwrap.dedent("""
        import agentgym
        assert "thirdparty/Echo-v0" in agentgym.list_envs(), agentgym.list_envs()
        env = agentgym.make("thirdparty/Echo-v0")
        obs, info = env.reset(seed=0)
        print(obs[-1]["content"])
    """)
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path), "PATH": ""},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "echo"
