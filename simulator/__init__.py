"""xorcert's simulator: online minibatch SGD on a two-layer ReLU network for Boolean XOR.

    from simulator import paper, run
    traj = run(paper(64, seeds=4))
    traj.T1(), traj.T2(), traj.final()["error"]
"""

__version__ = "0.1.0"

from .config import (REGIME_CONSTRUCTORS, RunConfig, first_layer_only, gaussian, large_init, paper,  # noqa: E402
                     paper_hyper, parity3, regime, small_batch, sparse_finders, zeta)
from .engine import SimulationDiverged, run  # noqa: E402
from .trajectory import Trajectory, TrajectoryFileError  # noqa: E402

__all__ = ["RunConfig", "Trajectory", "TrajectoryFileError", "SimulationDiverged", "run", "regime", "paper",
           "small_batch", "gaussian", "first_layer_only", "large_init", "parity3", "sparse_finders",
           "paper_hyper", "zeta", "REGIME_CONSTRUCTORS", "__version__"]
