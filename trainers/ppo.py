"""`PPOTrainer`: PPO with a learned critic and GAE over the policy's tokens of multi-turn episodes.

Per step, on top of `RLTrainer`'s loop::

    batch.values = critic(batch)                        # no grad, before the update: V at each policy token
    adv, returns = gae(token_rewards, values, mask)     # env tokens are skipped; rewards sit on turn ends
    loss = ppo_clip(...) + value_coef * clipped_value_loss(V, returns, values_at_rollout)

The value of a policy token is read from the hidden state that predicted it (the position before it), the
same position the LM head reads, so values and log-probs line up token for token. The critic is either a
scalar head on the policy's own hidden states (`critic="head"`, one forward pass serves both) or a separate
model with its own optimizer (`critic="separate"`).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import PPOConfig, RLConfig
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.modeling import TokenScores, autocast, body_and_head, score_tokens, unwrap_peft
from agentgym.trainers.optim import make_adamw, make_lr_scheduler


class ValueHead(torch.nn.Module):
    """A linear map from a hidden state to a scalar value, zero-initialized (every value starts at 0)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.to(self.linear.weight.dtype))


class Critic(torch.nn.Module):
    """A transformer body plus a `ValueHead`: values `(B, T)` at the policy-token positions of a batch."""

    def __init__(self, body: torch.nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.body = body
        self.head = ValueHead(hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        target = loss_mask[:, 1:].bool()
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1][target]
        values = self.head(hidden).float().squeeze(-1)
        out = torch.zeros(input_ids.shape, dtype=values.dtype, device=values.device)
        out[:, 1:][target] = values
        return out


def _hidden_size(model: Any) -> int:
    parts = body_and_head(model)
    if parts is not None and hasattr(parts[1], "weight"):
        return int(parts[1].weight.shape[1])
    return int(unwrap_peft(model).config.hidden_size)


class PPOTrainer(RLTrainer):
    """PPO with a value head (or a separate critic model) and GAE; see `PPOConfig`.

    Args:
        critic: with `critic="separate"`, a transformers model (causal LM or bare body) to train as the
            critic; default: `config.critic_model` loaded from its spec, else a copy of the initial policy.
        Other arguments as `RLTrainer`.
    """

    config_class: ClassVar[type[RLConfig]] = PPOConfig
    name: ClassVar[str] = "ppo"
    config: PPOConfig

    def __init__(self, *args: Any, critic: Any = None, **kwargs: Any) -> None:
        self._critic_arg = critic
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ modules

    def setup_models(self) -> None:
        cfg = self.config
        self.value_head: ValueHead | None = None
        self.critic: Critic | None = None
        if cfg.critic == "head":
            self.value_head = ValueHead(_hidden_size(self.model)).to(self.device)
            return
        source = self._critic_arg
        if source is None and cfg.critic_model is not None:
            from agentgym.models import load_model

            source, _ = load_model(cfg.critic_model, device=str(self.device))
        if source is None:
            source = copy.deepcopy(unwrap_peft(self.model))
        parts = body_and_head(source)
        body = parts[0] if parts is not None else source  # a causal LM's body, or a bare body as given
        self.critic = Critic(body, _hidden_size(source)).to(self.device).train().requires_grad_(True)
        self.critic_optimizer = make_adamw(self.critic, cfg, lr=cfg.critic_learning_rate)
        self.critic_scheduler = make_lr_scheduler(self.critic_optimizer, cfg)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        params = super().trainable_parameters()
        if self.value_head is not None:
            params += list(self.value_head.parameters())
        return params

    # ------------------------------------------------------------------ values and advantages

    def critic_mask(self, micro: TokenBatch) -> torch.Tensor:
        """Where the critic gives values: the policy tokens (T-PPO: also a finished response's earlier
        windows, which its value loss covers)."""
        return micro.loss_mask

    def value_mask(self, micro: TokenBatch) -> torch.Tensor:
        """The tokens the value loss trains on: every policy token (T-PPO: finished responses only)."""
        return micro.loss_mask

    def value_counts(self, counts: dict[str, float]) -> dict[str, float]:
        """What the value loss's aggregation divides by: the policy loss's counts (T-PPO: its own)."""
        return counts

    def values(self, micro: TokenBatch) -> torch.Tensor:
        """Critic values `(b, t)` of a micro-batch on the device (with gradients when enabled)."""
        cfg = self.config
        mask = self.critic_mask(micro)
        if self.critic is not None:
            with autocast(self.device, cfg.bf16):
                return self.critic(micro.input_ids, micro.attention_mask, mask).float()
        scores = score_tokens(self.model, micro.input_ids, micro.attention_mask, mask, cfg.temperature,
                              value_head=self.value_head, bf16=cfg.bf16)
        assert scores.values is not None
        return scores.values

    def score_batch(self, batch: TokenBatch) -> None:
        super().score_batch(batch)
        batch.values = self.score_rows(batch, self.values)

    # ------------------------------------------------------------------ loss

    def forward(self, micro: TokenBatch) -> TokenScores:
        cfg = self.config
        if self.critic is not None:
            scores = super().forward(micro)
            scores.values = self.values(micro)
            return scores
        entropy = "grad" if cfg.entropy_coef > 0 else ("detached" if cfg.log_entropy else None)
        return score_tokens(self.model, micro.input_ids, micro.attention_mask, self.critic_mask(micro),
                            cfg.temperature, entropy=entropy, value_head=self.value_head, bf16=cfg.bf16)

    def objective(self, scores: TokenScores, micro: TokenBatch,
                  counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Policy objective + `value_coef` * clipped value loss (values at rollout time as the anchor)."""
        cfg = self.config
        loss, metrics = super().objective(scores, micro, counts)
        assert scores.values is not None and micro.returns is not None and micro.values is not None
        clip = cfg.value_clip if cfg.value_clip is not None else float("inf")
        vmask = self.value_mask(micro)
        vf, vf_metrics = A.value_loss(scores.values, micro.returns, micro.values, vmask, clip,
                                      cfg.loss_agg, **self.value_counts(counts))
        loss = loss + cfg.value_coef * vf
        metrics.update(vf_metrics)
        metrics["vf_loss"] = vf.detach()
        metrics["value_mean"] = A.masked_mean(scores.values.detach(), vmask)
        metrics["loss"] = loss.detach()
        return loss, metrics

    def can_skip_zero_advantage_rows(self) -> bool:
        return False  # every row trains the critic

    # ------------------------------------------------------------------ optimizer steps

    def zero_grad(self) -> None:
        super().zero_grad()
        if self.critic is not None:
            self.critic_optimizer.zero_grad(set_to_none=True)

    def optimizer_step(self) -> dict[str, float]:
        out = super().optimizer_step()
        if self.critic is not None:
            limit = self.config.max_grad_norm
            norm = torch.nn.utils.clip_grad_norm_(self.critic.parameters(), limit if limit is not None else float("inf"))
            self.critic_optimizer.step()
            out["critic_grad_norm"] = float(norm)
        return out

    def scheduler_step(self) -> None:
        super().scheduler_step()
        if self.critic is not None:
            self.critic_scheduler.step()

    # ------------------------------------------------------------------ checkpoint

    def extra_state(self) -> dict[str, Any]:
        if self.critic is not None:
            return {"critic": self.critic.state_dict(), "critic_optimizer": self.critic_optimizer.state_dict(),
                    "critic_scheduler": self.critic_scheduler.state_dict()}
        assert self.value_head is not None
        return {"value_head": self.value_head.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
            self.critic_scheduler.load_state_dict(state["critic_scheduler"])
        else:
            assert self.value_head is not None
            self.value_head.load_state_dict(state["value_head"])
