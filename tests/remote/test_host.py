"""`EpisodeHost` without HTTP (a fake clock, a slow env), the wire codec, and `serve-env`'s argument checks."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from agentgym.cli import main
from agentgym.records import FormatVerdict, TaskRecord
from agentgym.remote.client import split_url
from agentgym.remote.codec import decode, encode
from agentgym.remote.host import EnvFailed, EpisodeEvicted, EpisodeHost, EpisodeNotFound, TooManyEpisodes


class SlowEnv:
    """Each step sleeps; the env records how many of its steps overlap (must be 1: calls are serialized)."""

    made = 0

    def __init__(self) -> None:
        SlowEnv.made += 1
        self.inside = 0
        self.most_inside = 0
        self.closed = False
        self.log: list[str] = []

    async def areset(self, *, seed=None, options=None):
        return [{"role": "user", "content": "hi"}], {"seed": seed}

    async def astep(self, action):
        if action == "boom":
            raise ValueError("boom")
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        await asyncio.sleep(0.05)
        self.log.append(action)
        self.inside -= 1
        return [], 0.0, False, False, {}

    async def aclose(self):
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_calls_on_one_episode_are_serialized_and_episodes_interleave():
    async def main_() -> None:
        host = EpisodeHost(SlowEnv, max_episodes=4)
        a, b = await host.create(), await host.create()
        t0 = asyncio.get_running_loop().time()
        await asyncio.gather(*(host.step(a, f"a{i}") for i in range(5)), *(host.step(b, f"b{i}") for i in range(5)))
        elapsed = asyncio.get_running_loop().time() - t0
        env_a, env_b = host._episodes[a].env, host._episodes[b].env
        assert env_a.most_inside == 1 and env_b.most_inside == 1
        assert env_a.log == [f"a{i}" for i in range(5)]  # in arrival order
        assert elapsed < 0.45  # a and b ran side by side (10 serial steps would take >= 0.5 s)

    asyncio.run(main_())


def test_limits_eviction_and_errors():
    async def main_() -> None:
        clock = Clock()
        host = EpisodeHost(SlowEnv, max_episodes=2, idle_timeout=10, clock=clock)
        a, b = await host.create(), await host.create()
        with pytest.raises(TooManyEpisodes, match=r"server holds 2 episodes \(max 2\)"):
            await host.create()
        with pytest.raises(EnvFailed, match="step failed: ValueError: boom"):
            await host.step(a, "boom")
        await host.step(a, "x")  # the episode survives its env's error
        clock.now = 8
        await host.step(b, "y")
        clock.now = 12
        env_a = host._episodes[a].env
        assert await host.evict_idle() == [a] and env_a.closed and len(host) == 1
        with pytest.raises(EpisodeEvicted, match="evicted after 10 s idle"):
            await host.step(a, "x")
        with pytest.raises(EpisodeNotFound, match="unknown episode nope"):
            await host.reset("nope")
        await host.close(b)
        assert len(host) == 0
        await host.create()  # room again
        await host.aclose()
        assert len(host) == 0

    asyncio.run(main_())


def test_bad_host_arguments():
    with pytest.raises(ValueError, match="max_episodes"):
        EpisodeHost(SlowEnv, max_episodes=0)
    with pytest.raises(ValueError, match="idle_timeout"):
        EpisodeHost(SlowEnv, idle_timeout=0)


def test_codec_restores_records_and_flattens_the_rest():
    info = {"task": TaskRecord("t-1", ("4", "four"), "math"),
            "nested": [{"format": FormatVerdict(False, "resp", ("no answer tag",))}],
            "n": np.int64(3), "x": np.float32(0.5), "arr": np.arange(3), "tags": ("a", "b"), "obj": object}
    out = decode(encode(info))
    assert out["task"] == info["task"] and type(out["task"]) is TaskRecord
    assert out["nested"][0]["format"] == info["nested"][0]["format"]
    assert out["n"] == 3 and type(out["n"]) is int and out["x"] == 0.5 and out["arr"] == [0, 1, 2]
    assert out["tags"] == ["a", "b"] and out["obj"] == str(object)


@pytest.mark.parametrize(("url", "base", "env_id"), [
    ("remote:http://h:1/Arithmetic-v0", "http://h:1", "Arithmetic-v0"),
    ("http://h:1/agentgym/Arithmetic-v0/", "http://h:1", "agentgym/Arithmetic-v0"),
    ("http://h:1/prefix/Arithmetic-v0", "http://h:1/prefix", "Arithmetic-v0"),
    ("http://h:1", "http://h:1", None),
])
def test_split_url(url, base, env_id):
    assert split_url(url) == (base, env_id)


def test_serve_env_checks_its_arguments(capsys):
    assert main(["serve-env", "NoSuchEnv-v0", "--port", "1"]) == 2
    assert "unknown environment 'NoSuchEnv-v0'" in capsys.readouterr().err
    assert main(["serve-env", "Arithmetic-v0", "--env-arg", "difficulty=9", "--port", "1"]) == 2
    assert "difficulty must be between 1 and 6" in capsys.readouterr().err
    assert main(["serve-env", "Arithmetic-v0", "--max-episodes", "0", "--port", "1"]) == 2
    assert "--max-episodes must be >= 1" in capsys.readouterr().err


def test_eval_takes_remote_ids_and_reports_an_unreachable_server(capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"remote:http://127.0.0.1:{port}/Arithmetic-v0"
    assert main(["eval", url, "--agent", "openai:m", "--base-url", "http://127.0.0.1:1/v1", "--api-key", "k"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment" not in err and f"cannot reach the env server at http://127.0.0.1:{port}" in err
