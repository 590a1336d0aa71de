"""The SGD step of docs/SPEC.md §1 written the plain way: one seed, one variant, autograd.

    f(x) = (1/p) Σ_k a_k relu(w_k · x),   γ = y f(x),   L = mean_x ℓ(γ(x)),
    ℓ = h, or for a proxy variant h0(γ) = h(0) + h'(0) γ,
    g_a = p ∂L/∂a,  g_w = p ∂L/∂W,
    a ← a - rη (g_a + λa) (unless the second layer is frozen),   W ← W - η (g_w + λW).

It shares no code with simulator/engine.py or simulator/losses.py: h is restated from the
specification and h' is taken from it by autograd. It is the independent computation the
engine is checked against (tests/unit/test_engine_oracle.py, in float64) and the naive loop
the engine is timed against (benchmarks/bench_step.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def h(loss: str, gamma: torch.Tensor) -> torch.Tensor:
    """The loss h(γ), elementwise: 2 log(1 + e^-γ) (logistic), (1 - γ)² (squared) or e^-γ (exponential)."""
    if loss == "logistic":
        return 2.0 * torch.log1p(torch.exp(-gamma))
    if loss == "squared":
        return (1.0 - gamma) ** 2
    if loss == "exponential":
        return torch.exp(-gamma)
    raise ValueError(f"loss = {loss!r}: the reference step knows 'logistic', 'squared' and 'exponential'")


def h_prime(loss: str, gamma: torch.Tensor) -> torch.Tensor:
    """h'(γ), by autograd."""
    g = gamma.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (dh,) = torch.autograd.grad(h(loss, g).sum(), g)
    return dh


def step_loss(loss: str, proxy: bool, gamma: torch.Tensor) -> torch.Tensor:
    """ℓ(γ): h, or its first-order proxy h0(γ) = h(0) + h'(0) γ (h(0) and h'(0) from h by autograd)."""
    if not proxy:
        return h(loss, gamma)
    zero = torch.zeros((), dtype=gamma.dtype, device=gamma.device)
    return h(loss, zero).detach() + h_prime(loss, zero) * gamma


def deviation(loss: str, gamma: torch.Tensor) -> torch.Tensor:
    """|h'(γ)/h'(0) - 1|: how far the loss is from its linear regime at γ."""
    zero = torch.zeros((), dtype=gamma.dtype, device=gamma.device)
    return (h_prime(loss, gamma) / h_prime(loss, zero) - 1).abs()


def network(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """f(x) = (1/p) Σ_k a_k relu(w_k · x) for the rows of X (m, d); W (p, d), a (p,)."""
    return torch.relu(X @ W.T) @ a / a.shape[0]


@dataclass(frozen=True)
class Update:
    """What a step does: the step size η, its ratio r on the second layer, weight decay λ, the loss."""

    eta: float
    lr_ratio: float = 1.0
    weight_decay: float = 0.0
    loss: str = "logistic"
    proxy: bool = False
    train_a: bool = True


@dataclass(frozen=True)
class Step:
    """The parameters after a step and the gradients it took them along (from the old values)."""

    W: torch.Tensor  # (p, d)
    a: torch.Tensor  # (p,)
    g_w: torch.Tensor  # (p, d) p ∂L/∂W
    g_a: torch.Tensor  # (p,) p ∂L/∂a
    loss: torch.Tensor  # () L, the mean step loss of the batch


def sgd_step(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor, update: Update) -> Step:
    """One step on the batch X (m, d), y (m,) from W (p, d), a (p,)."""
    p, u = a.shape[0], update
    W = W.detach().clone().requires_grad_(True)
    a = a.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        L = step_loss(u.loss, u.proxy, y * network(W, a, X)).mean()
        dW, da = torch.autograd.grad(L, (W, a))
    g_w, g_a = p * dW, p * da
    W, a = W.detach(), a.detach()
    W_new = W - u.eta * (g_w + u.weight_decay * W)
    a_new = a - u.lr_ratio * u.eta * (g_a + u.weight_decay * a) if u.train_a else a
    return Step(W=W_new, a=a_new, g_w=g_w, g_a=g_a, loss=L.detach())
