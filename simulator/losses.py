"""The losses of the margin γ = y f(x), their first-order proxies, and how a run applies them.

A loss is h: R → R with h' < 0 (docs/SPEC.md §1). Each `Loss` gives, elementwise on torch
tensors, h(γ) and h'(γ), the constants h(0) and h'(0), the first-order proxy at γ = 0

    h0(γ) = h(0) + h'(0) γ,   h0' ≡ h'(0),

and the *slope change* s(γ) = 1 − h'(γ)/h'(0), whose absolute value |s(γ)| = |h'(γ)/h'(0) − 1|
is the deviation from the linear regime (docs/SPEC.md §2: T2, C1):

    logistic     h = 2 log(1 + e^-γ)   h' = tanh(γ/2) − 1   h(0) = 2 log 2, h'(0) = −1   s = tanh(γ/2)
    squared      h = (1 − γ)²          h' = −2(1 − γ)       h(0) = 1,       h'(0) = −2   s = γ
    exponential  h = e^-γ              h' = −e^-γ           h(0) = 1,       h'(0) = −1   s = 1 − e^-γ

The columns of a run's per-variant tensors (last axis, one column per variant) are grouped
by loss (`loss_groups`), so a run whose variants share one loss — the usual case — applies
it to the whole tensor at once, and `by_loss` applies a function of (loss, γ) column group by
column group otherwise.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


class Loss(ABC):
    """A loss h of the margin, with h(0), h'(0) and the first-order proxy h0."""

    name: str
    h_at_zero: float  # h(0)
    slope_at_zero: float  # h'(0) < 0

    @abstractmethod
    def h(self, gamma: torch.Tensor) -> torch.Tensor:
        """h(γ), elementwise."""

    @abstractmethod
    def h_prime_and_slope_change(self, gamma: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """h'(γ) as a new tensor, with the slope change s(γ) = 1 − h'(γ)/h'(0) written into `out` (γ's shape)."""

    def h_prime(self, gamma: torch.Tensor) -> torch.Tensor:
        """h'(γ), elementwise."""
        return self.h_prime_and_slope_change(gamma, torch.empty_like(gamma))

    def slope_change(self, gamma: torch.Tensor) -> torch.Tensor:
        """s(γ) = 1 − h'(γ)/h'(0), elementwise (0 at γ = 0)."""
        out = torch.empty_like(gamma)
        self.h_prime_and_slope_change(gamma, out)
        return out

    def deviation(self, gamma: torch.Tensor) -> torch.Tensor:
        """|h'(γ)/h'(0) − 1|: how far the loss is from its linear regime at γ."""
        return self.slope_change(gamma).abs()

    def h0(self, gamma: torch.Tensor) -> torch.Tensor:
        """The first-order proxy h0(γ) = h(0) + h'(0) γ."""
        return gamma * self.slope_at_zero + self.h_at_zero

    def h0_prime(self, gamma: torch.Tensor) -> torch.Tensor:
        """h0'(γ) ≡ h'(0)."""
        return torch.full_like(gamma, self.slope_at_zero)


class Logistic(Loss):
    """h(γ) = 2 log(1 + e^-γ); h'(γ) = −2/(1 + e^γ) = tanh(γ/2) − 1."""

    name = "logistic"
    h_at_zero = 2.0 * math.log(2.0)
    slope_at_zero = -1.0

    def h(self, gamma: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.nn.functional.softplus(-gamma)

    def h_prime_and_slope_change(self, gamma: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        tg = torch.tanh(gamma.mul(0.5), out=out)  # s(γ) = 1 + h'(γ) = tanh(γ/2)
        return tg - 1.0


class Squared(Loss):
    """h(γ) = (1 − γ)²; h'(γ) = −2(1 − γ)."""

    name = "squared"
    h_at_zero = 1.0
    slope_at_zero = -2.0

    def h(self, gamma: torch.Tensor) -> torch.Tensor:
        return (1.0 - gamma).square()

    def h_prime_and_slope_change(self, gamma: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        out.copy_(gamma)  # s(γ) = 1 − (1 − γ) = γ
        return gamma.mul(2.0).sub_(2.0)  # 2γ − 2


class Exponential(Loss):
    """h(γ) = e^-γ; h'(γ) = −e^-γ."""

    name = "exponential"
    h_at_zero = 1.0
    slope_at_zero = -1.0

    def h(self, gamma: torch.Tensor) -> torch.Tensor:
        return torch.exp(-gamma)

    def h_prime_and_slope_change(self, gamma: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        em = torch.expm1(-gamma)  # e^-γ − 1
        torch.neg(em, out=out)  # s(γ) = 1 − e^-γ
        return em.add_(1.0).neg_()  # −e^-γ


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (Logistic(), Squared(), Exponential())}


@dataclass(frozen=True)
class LossGroup:
    """The variant columns of a run that share one loss.

    `cols` (V_L,) indexes the last axis of the per-variant tensors (None: every column); `proxy`
    (V_L,) is True where the variant steps with the proxy h0 (None: no proxy among them).
    """

    loss: Loss
    cols: torch.Tensor | None
    proxy: torch.Tensor | None


def loss_groups(losses: Sequence[str], proxies: Sequence[bool], device: torch.device) -> list[LossGroup]:
    """Group the variant columns by loss name, in order of first appearance; losses[v], proxies[v] of column v."""
    names = list(dict.fromkeys(losses))
    groups = []
    for name in names:
        cols = [v for v, n in enumerate(losses) if n == name]
        px = [proxies[v] for v in cols]
        groups.append(
            LossGroup(
                loss=LOSSES[name],
                cols=None if len(names) == 1 else torch.tensor(cols, device=device),
                proxy=torch.tensor(px, device=device) if any(px) else None,
            )
        )
    return groups


def by_loss(
    x: torch.Tensor, groups: Sequence[LossGroup], fn: Callable[[Loss, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """fn(loss, x's columns of that loss) for every group, assembled along the last axis (x's shape)."""
    if len(groups) == 1:
        return fn(groups[0].loss, x)
    out = torch.empty_like(x)
    for g in groups:
        assert g.cols is not None  # several groups: each names its columns
        out[..., g.cols] = fn(g.loss, x[..., g.cols])
    return out


def step_slopes(gamma: torch.Tensor, slope_change: torch.Tensor, groups: Sequence[LossGroup]) -> torch.Tensor:
    """h'(γ) of each variant's step (h'(0) for a proxy variant), with s(γ) of its loss written into `slope_change`.

    gamma (…, V) the margins; slope_change (…, V) is filled for every variant, proxies included
    (their s is that of the loss they linearize). Returns a new tensor (…, V).
    """
    if len(groups) == 1:
        g = groups[0]
        hp = g.loss.h_prime_and_slope_change(gamma, out=slope_change)
        return hp if g.proxy is None else torch.where(g.proxy, g.loss.slope_at_zero, hp)
    hp = torch.empty_like(gamma)
    for g in groups:
        assert g.cols is not None
        s = torch.empty_like(gamma[..., g.cols])
        hp_g = g.loss.h_prime_and_slope_change(gamma[..., g.cols], out=s)
        slope_change[..., g.cols] = s
        hp[..., g.cols] = hp_g if g.proxy is None else torch.where(g.proxy, g.loss.slope_at_zero, hp_g)
    return hp
