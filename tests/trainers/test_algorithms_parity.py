"""Numerical parity of `agentgym.trainers.algorithms` with verl 0.9's `trainer/ppo/core_algos.py`.

verl is installed with `pip install --no-deps verl==0.9.*` plus the modules its import chain needs
(`ray`, `tensordict`, `omegaconf`, `hydra-core`, `codetiming`); nothing is stubbed.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from agentgym.trainers import algorithms as A

pytestmark = pytest.mark.parity

# installed by scripts/install.sh (`pip install --no-deps "verl==0.9.*"`). A reference that cannot be imported
# fails every test of this file with the reason, instead of interrupting the whole collection.
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import verl.trainer.ppo.core_algos as core
    REFERENCE_ERROR = ""
except Exception as e:  # ImportError, or anything else verl's import chain raises
    core = None
    REFERENCE_ERROR = f"{type(e).__name__}: {e}"


@pytest.fixture(autouse=True)
def _reference_importable():
    if REFERENCE_ERROR:
        pytest.fail(f"the parity reference verl.trainer.ppo.core_algos cannot be imported ({REFERENCE_ERROR}); "
                    "scripts/install.sh installs verl 0.9 and the modules its import chain needs", pytrace=False)

ATOL = 1e-6
SEEDS = range(5)


def _batch(seed: int, b: int = 12, t: int = 17, groups: int = 3, binary: bool = False):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, t + 1, (b,), generator=g)
    starts = torch.randint(0, 3, (b,), generator=g)
    mask = torch.zeros(b, t)
    for i in range(b):
        mask[i, starts[i]: min(t, starts[i] + lengths[i])] = 1
    # a multi-turn style hole in some rows (env tokens in the middle)
    mask[::3, t // 2: t // 2 + 2] = 0
    mask[:, 0] = torch.where(mask.sum(-1) == 0, torch.ones(b), mask[:, 0])
    scores = torch.randint(0, 2, (b,), generator=g).float() if binary else torch.randn(b, generator=g)
    last = (mask * torch.arange(t)).argmax(-1)
    rewards = torch.zeros(b, t)
    rewards[torch.arange(b), last] = scores
    index = np.array([f"task{i % groups}" for i in range(b)], dtype=object)
    # one singleton group exercises the n == 1 convention
    index[-1] = "alone"
    return rewards, mask, index, g


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a.float(), b.float(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("norm", [True, False])
def test_grpo_and_dr_grpo(seed: int, norm: bool) -> None:
    rewards, mask, index, _ = _batch(seed, binary=seed % 2 == 0)
    ref_adv, ref_ret = core.compute_grpo_outcome_advantage(rewards.clone(), mask, index, 1e-6, norm)
    adv, ret = A.grpo_advantages(rewards, mask, list(index), eps=1e-6, norm_by_std=norm)
    _close(adv, ref_adv)
    _close(ret, ref_ret)
    if not norm:
        _close(A.dr_grpo_advantages(rewards, mask, list(index))[0], ref_adv)


@pytest.mark.parametrize("seed", SEEDS)
def test_rloo(seed: int) -> None:
    rewards, mask, index, _ = _batch(seed)
    ref, _ = core.compute_rloo_outcome_advantage(rewards.clone(), mask, index)
    _close(A.rloo_advantages(rewards, mask, list(index))[0], ref)


@pytest.mark.parametrize("seed", SEEDS)
def test_reinforce_pp_baseline(seed: int) -> None:
    rewards, mask, index, _ = _batch(seed)
    ref, _ = core.compute_reinforce_plus_plus_baseline_outcome_advantage(rewards.clone(), mask, index)
    _close(A.reinforce_pp_baseline_advantages(rewards, mask, list(index))[0], ref)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_reinforce_pp(seed: int, gamma: float) -> None:
    rewards, mask, _, g = _batch(seed)
    rewards = rewards + torch.randn(rewards.shape, generator=g) * mask * 0.1  # dense token rewards too
    ref_adv, ref_ret = core.compute_reinforce_plus_plus_outcome_advantage(
        rewards.clone(), mask, config=SimpleNamespace(gamma=gamma))
    adv, ret = A.reinforce_pp_advantages(rewards, mask, gamma)
    _close(adv, ref_adv)
    _close(ret, ref_ret)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 1.0), (0.99, 0.95)])
def test_gae(seed: int, gamma: float, lam: float) -> None:
    rewards, mask, _, g = _batch(seed)
    values = torch.randn(rewards.shape, generator=g)
    ref_adv, ref_ret = core.compute_gae_advantage_return(rewards, values, mask, gamma, lam)
    adv, ret = A.gae_advantages(rewards, values, mask, gamma, lam)
    _close(adv, ref_adv)
    _close(ret, ref_ret)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", A.AGG_MODES)
def test_aggregation(seed: int, mode: str) -> None:
    _, mask, _, g = _batch(seed)
    loss_mat = torch.randn(mask.shape, generator=g)
    loss_mat[mask == 0] = float("nan")  # padding garbage must not leak in
    ref = core.agg_loss(torch.nan_to_num(loss_mat), mask, mode)
    _close(A.aggregate_loss(loss_mat, mask, mode), ref)
    _close(A.aggregate_loss(torch.nan_to_num(loss_mat), mask, mode), ref)


def _policy_inputs(seed: int):
    _, mask, _, g = _batch(seed)
    old = -torch.rand(mask.shape, generator=g) * 3
    new = old + torch.randn(mask.shape, generator=g) * 0.4
    adv = torch.randn(mask.shape, generator=g) * 2
    return old, new, adv, mask


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("low", "high", "c"), [(0.2, 0.2, 3.0), (0.2, 0.28, 3.0), (0.1, 0.3, 1.5)])
@pytest.mark.parametrize("mode", A.AGG_MODES)
def test_ppo_clip_dual_clip(seed: int, low: float, high: float, c: float, mode: str) -> None:
    old, new, adv, mask = _policy_inputs(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_loss, ref_clip, ref_kl, ref_lower = core.compute_policy_loss(
            old, new, adv, mask, cliprange=low, cliprange_low=low, cliprange_high=high, clip_ratio_c=c,
            loss_agg_mode=mode)
    loss, m = A.ppo_clip_loss(new, old, adv, mask, clip_low=low, clip_high=high, dual_clip=c, agg=mode)
    _close(loss, ref_loss)
    _close(m["clipfrac"], ref_clip)
    _close(m["approx_kl"], ref_kl)
    _close(m["clipfrac_lower"], ref_lower)


def _actor_config(low: float, high: float):
    from verl.workers.config import ActorConfig

    cfg = object.__new__(ActorConfig)  # skip __post_init__'s checks of unrelated trainer fields
    for k, v in {"clip_ratio": low, "clip_ratio_low": low, "clip_ratio_high": high, "global_batch_info": {}}.items():
        object.__setattr__(cfg, k, v)
    return cfg


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", ["seq-mean-token-mean", "token-mean"])
def test_gspo(seed: int, mode: str) -> None:
    old, new, adv, mask = _policy_inputs(seed)
    new = old + (new - old) * 0.01  # GSPO's clip range is ~1e-4: keep some ratios inside it
    seq_adv = adv[:, :1].expand_as(adv) * mask
    new_a, new_b = new.clone().requires_grad_(), new.clone().requires_grad_()
    ref_loss, ref_m = core.compute_policy_loss_gspo(old, new_a, seq_adv, mask, mode, config=_actor_config(3e-4, 4e-4))
    loss, m = A.gspo_loss(new_b, old, seq_adv, mask, clip_low=3e-4, clip_high=4e-4, agg=mode)
    _close(loss, ref_loss)
    assert abs(m["clipfrac"].item() - ref_m["actor/pg_clipfrac"]) < ATOL
    ref_loss.backward()
    loss.backward()
    _close(new_b.grad, new_a.grad)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", A.AGG_MODES)
def test_value_loss(seed: int, mode: str) -> None:
    _, mask, _, g = _batch(seed)
    vpred, ret, old = (torch.randn(mask.shape, generator=g) for _ in range(3))
    ref_loss, ref_frac = core.compute_value_loss(vpred, ret, old, mask, 0.3, mode)
    loss, m = A.value_loss(vpred, ret, old, mask, clip=0.3, agg=mode)
    _close(loss, ref_loss)
    _close(m["vf_clipfrac"], ref_frac)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("ours", "theirs"), [("k1", "k1"), ("k2", "k2"), ("k3", "low_var_kl"), ("abs", "abs")])
def test_kl_estimators(seed: int, ours: str, theirs: str) -> None:
    old, new, _, _ = _policy_inputs(seed)
    new = new.clone()
    new[0, :3] = torch.tensor([-40.0, 30.0, 0.0])  # exercise the clamps
    _close(A.kl_estimate(new, old, ours), core.kl_penalty(new, old, theirs))


@pytest.mark.parametrize("seed", SEEDS)
def test_kl_straight_through_gradient(seed: int) -> None:
    old, new, _, _ = _policy_inputs(seed)
    a, b = new.clone().requires_grad_(), new.clone().requires_grad_()
    ref = core.kl_penalty(a, old, "k3+")
    ours = A.kl_estimate(b, old, "k3", straight_through=True)
    _close(ours, ref)
    ref.sum().backward()
    ours.sum().backward()
    _close(b.grad, a.grad)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", A.AGG_MODES)
def test_entropy(seed: int, mode: str) -> None:
    _, mask, _, g = _batch(seed)
    logits = torch.randn(*mask.shape, 11, generator=g) * 3
    ref = core.compute_entropy_loss(logits, mask, mode)
    _close(A.entropy_bonus(A.entropy_from_logits(logits), mask, mode), ref)
