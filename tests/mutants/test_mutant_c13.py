"""C13 must fail where one large neuron is off-signal while the mass share S_t still looks healthy.

The designated broken setting is a planted neuron: the paper run at d = 32 (4 seeds) from its own
seeded initialization, except that neuron 0 starts in the perpendicular subspace (its coordinates
i, j zeroed) with ‖w_0‖ = |a_0| = 6θ, i.e. 36× the output mass of every other neuron. Its population
drift is ≈ 0 (w_0·x is independent of the label), so it stays off-signal while the other neurons
find the features; T1 waits until their mass outgrows it (S_t ≥ 1 - ζ), and for the next dozen
steps it still holds 12–13% of the mass — more than the lightest neurons, so it is not in the
negligible ζ of the mass — with max(‖w_opp‖, ‖w_perp‖)/‖w_sig‖ ≫ ζ. C3 holds on the same run (S_t
never drops below 1 - ζ after T1) and so does C9 (test error 0 at T): only the per-neuron reading
sees the neuron. Measured 2026-12-05: 4/4 seeds fail C13, each on neuron 0 for 7–11 steps of the
window (window from t = 99–115).

The healthy paper run must hold.
"""

from __future__ import annotations

import torch

from lemmas.c03_signal_heavy import check as check_c3
from lemmas.c13_neuron_control import check
from simulator import data, engine, paper

D, SEEDS, PLANT = 32, 4, 6.0
COUPLED = ("logistic", "linear")


def planted_init(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's seeded initialization with neuron 0 moved to the perpendicular subspace at norm PLANT·θ."""
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    W, a = data.init_params(
        seeds, cfg.p, cfg.d, cfg.theta, cfg.init, cfg.finder_fraction, cfg.pair, torch.float32, torch.device("cpu")
    )
    W[:, 0, list(cfg.pair)] = 0.0
    W[:, 0] *= PLANT * cfg.theta / W[:, 0].norm(dim=-1, keepdim=True)
    a[:, 0] = a[:, 0].sign() * PLANT * cfg.theta
    return W, a


def test_planted_off_signal_neuron_fails_where_S_holds():
    cfg = paper(D, seeds=SEEDS, device="cpu")
    traj = engine.run(cfg, init=planted_init(cfg))
    v = check(traj)
    print(f"\nC13 mutant neuron 0 planted perpendicular at {PLANT:g}θ, d = {D}:", v.summary())
    assert v.status == "fails"
    assert all(p["outcome"] == "fail" and p["why"].startswith("neuron 0 ") for p in v.per_seed)
    assert check_c3(traj).status == "holds"  # the mass share alone does not see it


def test_healthy_paper_run_holds(trajectories):
    v = check(trajectories(paper(D, seeds=SEEDS, device="cpu", variants=COUPLED)))
    print("\nC13 healthy paper d = 32:", v.summary())
    assert v.status == "holds", v.summary()
