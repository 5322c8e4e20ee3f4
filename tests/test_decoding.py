"""Decoding kernels: the small-batch linear layout computes what `F.linear` computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from agentgym.models.small_batch_linear import SmallBatchLinear


@pytest.mark.parametrize("shape", [(3, 16), (2, 1, 16), (4, 5, 16), (70, 16)])
@pytest.mark.parametrize("bias", [True, False])
def test_small_batch_linear_matches_f_linear(shape: tuple[int, ...], bias: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(*shape, generator=g), torch.randn(24, 16, generator=g)
    b = torch.randn(24, generator=g) if bias else None
    ref = F.linear(x, w, b)
    with SmallBatchLinear(max_rows=64):
        out = F.linear(x, w, b)
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    layer = torch.nn.Linear(16, 24, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(w)
        if bias:
            layer.bias.copy_(b)
        with SmallBatchLinear():
            via_module = layer(x)
    torch.testing.assert_close(via_module, ref, rtol=1e-5, atol=1e-5)


def test_small_batch_linear_is_scoped_and_leaves_other_dtypes_alone(monkeypatch) -> None:
    x, w = torch.randn(2, 8), torch.randn(4, 8)
    seen: list[str] = []
    real_matmul = torch.Tensor.__matmul__

    def spy(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append("matmul")
        return real_matmul(a, b)

    monkeypatch.setattr(torch.Tensor, "__matmul__", spy)
    F.linear(x, w)
    assert seen == []  # outside the block: plain F.linear
    with SmallBatchLinear():
        F.linear(x, w)
        assert seen == ["matmul"]
        F.linear(x.double(), w.double())  # not float32: untouched
        F.linear(torch.randn(100, 8), w)  # more rows than max_rows: untouched
    assert seen == ["matmul"]
