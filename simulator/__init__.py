"""xorcert's simulator: online minibatch SGD on a two-layer ReLU network for Boolean XOR.

    from simulator import paper, run
    traj = run(paper(64, seeds=4))
    traj.T1(), traj.T2(), traj.final()["error"]

Regimes (simulator.regimes) and data laws (simulator.laws) are registries: add one with the
`@regime("name")` / `@data_law("name")` decorators or an entry point (docs/SPEC.md §5).
"""

__version__ = "0.1.0"

from .config import PaperHyper, RunConfig, paper_hyper, zeta  # noqa: E402
from .engine import SimulationDiverged, run  # noqa: E402
from .laws import DataLaw, DataLawError, data_law, registered_laws  # noqa: E402
from .regimes import (  # noqa: E402
    Regime,
    RegimeError,
    build_regime,
    first_layer_only,
    gaussian,
    large_init,
    paper,
    parity3,
    regime,
    small_batch,
    sparse_finders,
)
from .regimes import registered as registered_regimes  # noqa: E402
from .trajectory import Trajectory, TrajectoryFileError  # noqa: E402

__all__ = [
    "RunConfig",
    "Trajectory",
    "TrajectoryFileError",
    "SimulationDiverged",
    "run",
    "regime",
    "build_regime",
    "registered_regimes",
    "Regime",
    "RegimeError",
    "data_law",
    "registered_laws",
    "DataLaw",
    "DataLawError",
    "paper",
    "small_batch",
    "gaussian",
    "first_layer_only",
    "large_init",
    "parity3",
    "sparse_finders",
    "PaperHyper",
    "paper_hyper",
    "zeta",
    "__version__",
]
