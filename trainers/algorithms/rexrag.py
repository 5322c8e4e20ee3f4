"""REX-RAG (Jiang et al. 2025, arXiv 2508.08149): probe sampling with a revision-prompt pool and the mixture
policy correction, as pure functions.

Mixed sampling. A failed trajectory is cloned with probability p; the clone's final answer is cut, a
revision prompt drawn uniformly from a pool is inserted, and the policy continues from there (a *probe*).
The probe process is a policy of its own, pi_eps: it follows pi_old on the prefix, the prompt pool's
distribution mu on the inserted tokens, and pi_old again on the continuation. A batch then comes from the
mixture

    pi_mix(y_t | s_t) = (1 - alpha) * pi_old(y_t | s_t) + alpha * pi_eps(y_t | s_t),
    alpha = (#probe trajectories) / (#trajectories),

which equals pi_old wherever pi_eps = pi_old (every token but the inserted ones) and differs on the
inserted tokens, where pi_eps = mu.

Policy correction. The importance ratio of the clipped surrogate divides by pi_mix instead of pi_old:

    rho_t = pi_theta(y_t | s_t) / pi_mix(y_t | s_t)                                   (token level)

and, since inserted tokens are not the policy's own actions and stay out of the loss here, their part of
the trajectory ratio is carried by a per-trajectory weight on the probe's advantages,

    w_i = prod_{t in inserted(i)} pi_old(y_t | s_t) / pi_mix(y_t | s_t)  <=  (1 - alpha)^(-|inserted(i)|)

(the importance weight P_old(tau_i) / P_mix(tau_i) of the trajectory, all other factors being 1; w = 1 on
trajectories that are not probes). A probe whose revision prompt the policy itself finds unlikely counts
less.

mu (`PromptPool`): the empirical next-token distribution of the pool's token sequences (a trie): with N(s)
the number of pool prompts whose ids start with the sequence s,

    mu(x | s) = N(s + [x]) / sum_x' N(s + [x']),

for s any proper prefix of a pool prompt (s = [] included: the first token, N([x]) / N). The authors' code
(`PrefixIndex` in verl/workers/actor/exploration_distribution.py) builds the same counts from non-empty
prefixes only; the empty prefix is our addition so that the first inserted token has a probability too.

Probe filter: of several probe candidates, keep the ones whose inserted prompt has the highest mean
old log-prob, (1/|I|) sum_{t in I} log pi_old(y_t | s_t) (`select_probes`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.losses import ppo_clip_loss

__all__ = ["PromptPool", "inserted_weights", "mixture_logprob", "mixture_logprobs", "probe_share",
           "rexrag_policy_loss", "select_probes"]


class PromptPool:
    """The revision-prompt pool as token sequences, and mu: its empirical next-token distribution (a trie).

    Args:
        prompts: each prompt's token ids (duplicates count twice, as drawing uniformly from the pool would).
    """

    def __init__(self, prompts: Sequence[Sequence[int]]) -> None:
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("the prompt pool needs at least one non-empty prompt")
        self.prompts = [tuple(int(t) for t in p) for p in prompts]
        # counts[prefix][next] = number of prompts whose ids start with prefix + [next]
        self.counts: dict[tuple[int, ...], dict[int, int]] = {}
        for p in self.prompts:
            for i in range(len(p)):
                nxt = self.counts.setdefault(p[:i], {})
                nxt[p[i]] = nxt.get(p[i], 0) + 1

    def prob(self, prefix: Sequence[int], token: int) -> float:
        """mu(token | prefix): the share of pool prompts continuing `prefix` with `token` (0 off the trie)."""
        nxt = self.counts.get(tuple(int(t) for t in prefix))
        if not nxt:
            return 0.0
        return nxt.get(int(token), 0) / sum(nxt.values())

    def logprobs(self, ids: Sequence[int]) -> list[float]:
        """log mu(ids[t] | ids[:t]) for each t (-inf where the sequence leaves the trie)."""
        out = []
        for t in range(len(ids)):
            p = self.prob(ids[:t], ids[t])
            out.append(math.log(p) if p > 0 else -math.inf)
        return out


def mixture_logprob(old_logprobs: torch.Tensor, mu_logprobs: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """log pi_mix = log((1 - alpha) exp(log pi_old) + alpha exp(log mu)), elementwise and stable
    (`logsumexp` of `log(1 - alpha) + log pi_old` and `log(alpha) + log mu`; alpha = 0 gives log pi_old,
    alpha = 1 gives log mu, mu = 0 (-inf) gives log(1 - alpha) + log pi_old)."""
    alpha_t = torch.as_tensor(alpha, dtype=old_logprobs.dtype, device=old_logprobs.device)
    if bool(((alpha_t < 0) | (alpha_t > 1)).any()):
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    a = torch.log1p(-alpha_t).expand_as(old_logprobs) + old_logprobs  # log(0) = -inf at alpha = 1
    b = torch.log(alpha_t).expand_as(mu_logprobs) + mu_logprobs
    # -inf + -inf stays -inf (both terms impossible); logsumexp handles one -inf term exactly
    return torch.logsumexp(torch.stack([a, b]), dim=0)


def mixture_logprobs(old_logprobs: torch.Tensor, mu_logprobs: torch.Tensor, inserted_mask: torch.Tensor,
                     alpha: float) -> torch.Tensor:
    """log pi_mix on every token of `(B, T)` rows: the mixture on inserted tokens (`inserted_mask` 1), where
    the probe policy is mu, and log pi_old elsewhere (there pi_eps = pi_old, so pi_mix = pi_old exactly)."""
    ins = inserted_mask.bool()
    mu = torch.where(ins, mu_logprobs, torch.zeros_like(mu_logprobs))  # keep -inf off non-inserted tokens
    mixed = mixture_logprob(old_logprobs, mu, alpha)
    return torch.where(ins, mixed, old_logprobs)


def inserted_weights(old_logprobs: torch.Tensor, mix_logprobs: torch.Tensor, inserted_mask: torch.Tensor) -> torch.Tensor:
    """w_i = exp(sum over row i's inserted tokens of (log pi_old - log pi_mix)), shape `(B,)`; 1 for a row
    with no inserted token. Bounded by (1 - alpha)^(-#inserted), since pi_mix >= (1 - alpha) pi_old."""
    m = inserted_mask.to(old_logprobs.dtype)
    diff = torch.where(inserted_mask.bool(), old_logprobs - mix_logprobs, torch.zeros_like(old_logprobs))
    return torch.exp((diff * m).sum(dim=-1))


def probe_share(is_probe: Sequence[bool] | torch.Tensor) -> float:
    """alpha: the share of probe trajectories among the trajectories sampled (0 for none)."""
    flags = torch.as_tensor(is_probe, dtype=torch.float32)
    return float(flags.mean()) if flags.numel() else 0.0


def select_probes(inserted_logprob_means: Sequence[float], groups: Sequence[Hashable], keep: int | None) -> list[int]:
    """The probe filter: per group, the indices of the `keep` candidates with the highest mean old log-prob
    of their inserted prompt (ties: the earlier candidate); `keep=None` keeps all. Returns sorted indices."""
    if keep is None:
        return list(range(len(inserted_logprob_means)))
    by_group: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    kept: list[int] = []
    for members in by_group.values():
        ranked = sorted(members, key=lambda i: (-inserted_logprob_means[i], i))
        kept += ranked[:keep]
    return sorted(kept)


def rexrag_policy_loss(
    logprobs: torch.Tensor,
    mix_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor | None = None,
    clip_low: float = 0.2,
    clip_high: float | None = None,
    dual_clip: float | None = None,
    agg: str = "token-mean",
    **agg_kwargs: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate (`ppo_clip_loss`, with its dual clip) under REX-RAG's corrected ratio:

        L = agg_t max(-A'_t rho_t, -A'_t clip(rho_t, 1 - e_low, 1 + e_high)),
        rho_t = pi_theta(y_t | s_t) / pi_mix(y_t | s_t),   A'_t = w_i A_t  (w: `weights`, (B,), default 1).

    `mix_logprobs` is log pi_mix on every token (log pi_old wherever the mixture equals it, so rows that are
    not probes get PPO's ratio unchanged)."""
    if weights is not None:
        advantages = advantages * weights.to(advantages.dtype)[:, None]
    return ppo_clip_loss(logprobs, mix_logprobs, advantages, mask, clip_low, clip_high, dual_clip, agg, **agg_kwargs)
