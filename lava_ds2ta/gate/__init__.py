"""MA-SNN's multi-dimensional attention gates (TA, CA, SA) and their integer arithmetic.

:mod:`.reference` is the integer contract in numpy, :mod:`.functional` the same integers in
PyTorch with straight-through gradients, :mod:`.modules` the gates as modules (docs/ma-snn.md).
"""

from lava_ds2ta.gate.modules import INIT_GATE
from lava_ds2ta.gate.modules import ChannelGate
from lava_ds2ta.gate.modules import SharedMLP
from lava_ds2ta.gate.modules import SpatialGate
from lava_ds2ta.gate.modules import TemporalGate

__all__ = ["INIT_GATE", "ChannelGate", "SharedMLP", "SpatialGate", "TemporalGate"]
