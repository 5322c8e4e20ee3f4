"""Environments as services: `agentgym serve-env` hosts episodes of one env family over HTTP, and
`RemoteEnv` (`agentgym.make("remote:http://HOST:PORT/ENV_ID")`) is a Gymnasium env that plays them."""

from agentgym.remote.client import PREFIX, RemoteEnv, RemoteEnvError, RemoteTasks, make_remote
from agentgym.remote.host import EpisodeHost

__all__ = ["PREFIX", "EpisodeHost", "RemoteEnv", "RemoteEnvError", "RemoteTasks", "make_remote"]
