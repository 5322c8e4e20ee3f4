"""What every internalization text names: which policy it is about (its title and version), and the
policy-free system prompt that replaces the policy in SFT conversations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentgym.envs.policy.types import PolicyDomain

__all__ = ["PolicyContext", "policy_free_prompt"]

_HEADING = re.compile(r"^#\s+(.+?)\s*$", re.M)
_VERSION = re.compile(r"Policy version:\s*(\S+)")
_TODAY = re.compile(r"Today is [^.]+\.")


@dataclass(frozen=True)
class PolicyContext:
    """A policy's title ("ShopRight customer service policy"), version ("PD-retail-W3", or "") and the
    sentence that dates it ("Today is 2025-06-15 and the time is 09:00.", or "")."""

    domain: str
    title: str
    version: str = ""
    today: str = ""

    @classmethod
    def from_domain(cls, domain: PolicyDomain) -> PolicyContext:
        heading = _HEADING.search(domain.policy)
        version = _VERSION.search(domain.policy)
        today = _TODAY.search(domain.policy)
        return cls(domain=domain.name, title=heading.group(1) if heading else f"{domain.name} policy",
                   version=version.group(1) if version else "", today=today.group(0) if today else "")

    @property
    def label(self) -> str:
        """"the ShopRight customer service policy (PD-retail-W3)"."""
        return f"the {self.title}" + (f" ({self.version})" if self.version else "")


def policy_free_prompt(domain: PolicyDomain) -> str:
    """A system prompt that names the policy (title, version line, date) without any of its rules: what a
    model that has internalized the policy is prompted with instead of the document."""
    ctx = PolicyContext.from_domain(domain)
    lines = [f"# {ctx.title}", ""]
    if ctx.version:
        lines += [f"Policy version: {ctx.version}", ""]
    lines.append(f"You are a customer service agent. {ctx.today} Follow {ctx.label}: you have learned its rules, "
                 "so they are not repeated here.".replace("  ", " "))
    return "\n".join(lines)
