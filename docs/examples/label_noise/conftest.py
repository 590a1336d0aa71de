"""A proof-inspired change in one file: the paper regime with 5% of the training labels flipped.

The proof's phase one follows the population gradient, which label noise at rate ρ only
scales by (1 - 2ρ); a theorist expects the clean-network claims to survive and the margins
to tune more slowly. Registering the regime is all it takes: the xorcert pytest plugin
certifies every claim in every registered regime, and `--regimes paper,label_noise` puts
this one's column beside the paper regime's in the report.

    pytest --xorcert --regimes paper,label_noise                 # quick profile: d = 32, 64
    python -m lemmas check C9 --regime label_noise --d 32 --import conftest.py
"""

import simulator

RHO = 0.05  # probability that a fresh sample's label is flipped before the loss


@simulator.regime("label_noise")
def label_noise(d: int, **kw) -> simulator.RunConfig:
    """The paper regime (Theorem 3.1's hyper-parameters) with each training label flipped with probability 0.05."""
    return simulator.paper(d, **{"label_noise": RHO, **kw})
