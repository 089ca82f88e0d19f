"""Run network files as Lava processes on the CPU backend (``Loihi2SimCfg``).

``run_network(spec, x_levels)`` builds the graph (:mod:`.builder`, a dispatcher over the layer
types of :mod:`lava_ds2ta.layers`) and streams samples through it (:mod:`.runner`);
:mod:`.compare` checks it against the trained PyTorch model; ``ds2ta-run-cpu`` is :mod:`.cli`.
"""

from lava_ds2ta.deploy.builder import LavaNetwork
from lava_ds2ta.deploy.builder import NetworkBuilder
from lava_ds2ta.deploy.runner import LavaResult
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.deploy.runner import to_frames

__all__ = [
    "LavaNetwork",
    "LavaResult",
    "NetworkBuilder",
    "run_network",
    "to_frames",
]
