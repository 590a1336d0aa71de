"""The losses of simulator.losses against their formulas (docs/SPEC.md §1), in float64.

h and h(0) are compared with the closed forms, h' and h'(0) with autograd of those forms,
the proxy h0 with h(0) + h'(0) γ, the deviation with |h'(γ)/h'(0) - 1|; and the column
grouping a run uses (one loss per variant column) with the loss applied column by column.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from simulator import losses
from simulator.config import LOSS_NAMES, VARIANTS

F64 = torch.float64
FORMULAS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "logistic": lambda g: 2.0 * torch.log(1.0 + torch.exp(-g)),
    "squared": lambda g: (1.0 - g) ** 2,
    "exponential": lambda g: torch.exp(-g),
}
GAMMA = torch.linspace(-6.0, 6.0, 241, dtype=F64)


def autograd_slope(name: str, gamma: torch.Tensor) -> torch.Tensor:
    g = gamma.clone().requires_grad_(True)
    (dh,) = torch.autograd.grad(FORMULAS[name](g).sum(), g)
    return dh


def test_every_loss_name_has_a_loss_and_every_variant_a_known_loss() -> None:
    assert tuple(losses.LOSSES) == LOSS_NAMES == tuple(FORMULAS)
    assert {v.loss for v in VARIANTS.values()} == set(LOSS_NAMES)
    assert all(losses.LOSSES[name].name == name for name in LOSS_NAMES)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_matches_its_formula(name: str) -> None:
    """h, h', h(0), h'(0), h0, h0', the slope change and the deviation of each loss, to 1e-13."""
    loss = losses.LOSSES[name]
    zero = torch.zeros(1, dtype=F64)
    torch.testing.assert_close(loss.h(GAMMA), FORMULAS[name](GAMMA), rtol=1e-13, atol=1e-13)
    slope = autograd_slope(name, GAMMA)
    torch.testing.assert_close(loss.h_prime(GAMMA), slope, rtol=1e-13, atol=1e-13)
    assert loss.h_at_zero == pytest.approx(float(FORMULAS[name](zero)), rel=1e-15)
    assert loss.slope_at_zero == pytest.approx(float(autograd_slope(name, zero)), rel=1e-15)
    assert loss.slope_at_zero < 0
    torch.testing.assert_close(loss.h0(GAMMA), loss.h_at_zero + loss.slope_at_zero * GAMMA, rtol=1e-15, atol=1e-15)
    assert torch.equal(loss.h0_prime(GAMMA), torch.full_like(GAMMA, loss.slope_at_zero))
    ratio = slope / loss.slope_at_zero
    torch.testing.assert_close(loss.slope_change(GAMMA), 1 - ratio, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(loss.deviation(GAMMA), (ratio - 1).abs(), rtol=1e-12, atol=1e-13)
    assert float(loss.deviation(zero)) == 0.0


def test_logistic_keeps_the_tanh_form() -> None:
    """h'(γ) = tanh(γ/2) - 1 and the deviation |tanh(γ/2)| = |h'(γ) + 1|, bit for bit (the recorded runs' form)."""
    loss = losses.LOSSES["logistic"]
    out = torch.empty_like(GAMMA)
    hp = loss.h_prime_and_slope_change(GAMMA, out)
    assert torch.equal(out, torch.tanh(GAMMA / 2)) and torch.equal(hp, torch.tanh(GAMMA / 2) - 1.0)
    assert torch.equal(loss.h(GAMMA), 2.0 * torch.nn.functional.softplus(-GAMMA))
    assert loss.h_at_zero == 2 * math.log(2)


@pytest.mark.parametrize(
    "names, proxies",
    [
        (("squared",), (False,)),
        (("logistic", "logistic"), (False, True)),
        (("logistic", "squared", "exponential", "squared", "logistic"), (True, False, False, True, False)),
    ],
)
def test_grouped_columns_equal_the_loss_column_by_column(names: tuple[str, ...], proxies: tuple[bool, ...]) -> None:
    """by_loss and step_slopes on (…, V) tensors whose columns have their own loss (and proxy flag) equal each
    column's loss applied alone: h'(γ) for a plain column, h'(0) for a proxy, s(γ) of the column's loss for both."""
    groups = losses.loss_groups(names, proxies, torch.device("cpu"))
    assert len(groups) == len(set(names))
    gamma = torch.randn(3, 17, len(names), dtype=F64, generator=torch.Generator().manual_seed(0))
    s = torch.empty_like(gamma)
    hp = losses.step_slopes(gamma, s, groups)
    h = losses.by_loss(gamma, groups, lambda loss, g: loss.h(g))
    for v, (name, proxy) in enumerate(zip(names, proxies)):
        loss = losses.LOSSES[name]
        col = gamma[..., v]
        want = torch.full_like(col, loss.slope_at_zero) if proxy else loss.h_prime(col)
        assert torch.equal(hp[..., v], want)
        assert torch.equal(s[..., v], loss.slope_change(col))
        assert torch.equal(h[..., v], loss.h(col))
