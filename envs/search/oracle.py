"""An oracle policy for `MultiHopQAEnv`: it knows the relation chain and searches hop by hop.

It searches for the name of the entity reached so far (the gold document's title), finds that document
among the results, reads the next fact out of its text and either searches again or answers. It never
reads the gold answer, so its exact match measures whether the documents and the index carry every hop.
It plays through any protocol of the env (tags, Hermes, native calls, TAPO's tags) and through the Markovian
workspace, where each round sees only the last result and the oracle writes the facts found so far as its
`<report>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentgym.envs.search.kb import extract_fact

from agentgym.agents.scripted import last_observation
from agentgym.protocols.workspace import REPORT_TAG, WorkspaceProtocol

_RESULT = re.compile(r"(?:^|>)Doc \d+ \[id: (?P<id>[^\]]*)\] \(Title: (?P<title>.*?)\) (?P<text>[^\n<]*)", re.MULTILINE)


def parse_results(text: str) -> list[tuple[str, str, str]]:
    """(id, title, text) of each result in a `search` observation."""
    return [(m["id"], m["title"], m["text"]) for m in _RESULT.finditer(text)]


class OraclePolicy:
    """Policy callable for `FunctionAgent` (or a manual loop) over a `MultiHopQAEnv`.

    Args:
        env: the environment; the oracle reads the current task's relation chain and first entity from
            `env.state.task.metadata` (never its answer).
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self._subject: str | None = None
        self._hop = 0
        self._facts: list[str] = []

    def _call(self, name: str, **arguments: str) -> str | dict[str, Any]:
        action = self.env.protocol.action(name, arguments, f"oracle_{self._hop}_{name}")
        if isinstance(self.env.protocol, WorkspaceProtocol) and isinstance(action, str):
            report = "; ".join(self._facts) or "nothing found yet"
            return f"<{REPORT_TAG}>{report}</{REPORT_TAG}>{action}"
        return action

    def __call__(self, messages: Sequence[dict[str, Any]]) -> str | dict[str, Any]:
        state = self.env.state
        meta = state.task.metadata
        relations, titles = meta["relations"], meta["gold_titles"]
        if state.turn == 0:  # the env's own turn count: a workspace round shows no earlier assistant message
            self._subject, self._hop, self._facts = titles[0], 0, []
            return self._call("search", query=self._subject)
        value = None
        for _doc_id, title, text in parse_results(last_observation(messages)):
            if title == self._subject:
                value = extract_fact(text, self._subject, relations[self._hop])
                break
        if value is None:
            return self._call("answer", answer="unknown")
        self._facts.append(f"{relations[self._hop]} of {self._subject}: {value}")
        self._hop += 1
        if self._hop == len(relations):
            return self._call("answer", answer=value)
        self._subject = value
        return self._call("search", query=value)


def oracle_policy(env: Any) -> OraclePolicy:
    """The oracle policy for `env` (see `OraclePolicy`)."""
    return OraclePolicy(env)
