"""simulator.reference, the oracle of the engine, against computations that share nothing with it.

Its h against the closed forms of tests/unit/test_losses.py, its gradients against central
finite differences of its own loss, and its update against the formula of docs/SPEC.md §1
written out by hand, in float64.
"""

from __future__ import annotations

import pytest
import torch

from simulator import reference
from simulator.config import LOSS_NAMES

from .test_losses import FORMULAS, GAMMA

F64 = torch.float64


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_h_is_the_closed_form(loss: str) -> None:
    torch.testing.assert_close(reference.h(loss, GAMMA), FORMULAS[loss](GAMMA), rtol=1e-14, atol=1e-14)


def test_unknown_loss_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'hinge'.*'logistic', 'squared' and 'exponential'"):
        reference.h("hinge", GAMMA)


def batch(seed: int, m: int = 12, p: int = 5, d: int = 7) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(p, d, generator=g, dtype=F64)
    a = torch.randn(p, generator=g, dtype=F64)
    X = torch.randn(m, d, generator=g, dtype=F64)
    y = torch.sign(torch.randn(m, generator=g, dtype=F64))
    return W, a, X, y


def mean_loss(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor, u: reference.Update) -> float:
    return float(reference.step_loss(u.loss, u.proxy, y * reference.network(W, a, X)).mean())


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("proxy", [False, True])
def test_gradients_are_p_times_finite_differences(loss: str, proxy: bool) -> None:
    W, a, X, y = batch(1)
    u = reference.Update(eta=0.1, loss=loss, proxy=proxy)
    step = reference.sgd_step(W, a, X, y, u)
    p, eps = a.shape[0], 1e-6
    for k, c in [(0, 0), (2, 3), (4, 6)]:
        Wp, Wm = W.clone(), W.clone()
        Wp[k, c] += eps
        Wm[k, c] -= eps
        fd = (mean_loss(Wp, a, X, y, u) - mean_loss(Wm, a, X, y, u)) / (2 * eps)
        assert abs(float(step.g_w[k, c]) - p * fd) <= 1e-7 * max(1.0, abs(p * fd))
    for k in range(p):
        ap, am = a.clone(), a.clone()
        ap[k] += eps
        am[k] -= eps
        fd = (mean_loss(W, ap, X, y, u) - mean_loss(W, am, X, y, u)) / (2 * eps)
        assert abs(float(step.g_a[k]) - p * fd) <= 1e-7 * max(1.0, abs(p * fd))


def test_update_is_the_spec_formula() -> None:
    """W ← W - η (g_w + λW), a ← a - rη (g_a + λa), from the old values; a frozen a stays."""
    W, a, X, y = batch(2)
    u = reference.Update(eta=0.3, lr_ratio=2.0, weight_decay=0.1)
    s = reference.sgd_step(W, a, X, y, u)
    torch.testing.assert_close(s.W, W - 0.3 * (s.g_w + 0.1 * W), rtol=0, atol=1e-15)
    torch.testing.assert_close(s.a, a - 2.0 * 0.3 * (s.g_a + 0.1 * a), rtol=0, atol=1e-15)
    frozen = reference.sgd_step(W, a, X, y, reference.Update(eta=0.3, train_a=False))
    assert torch.equal(frozen.a, a)
    torch.testing.assert_close(frozen.W, W - 0.3 * frozen.g_w, rtol=0, atol=1e-15)
