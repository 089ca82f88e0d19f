"""Operations, sparsity and energy measured from a deployed network (``ds2ta-report``).

:mod:`.counter` counts every layer's operations on the spikes that actually occurred, by
dispatching to each layer type's ``ops`` (:mod:`lava_ds2ta.layers`); :mod:`.energy` prices them
under the 45 nm convention; :mod:`.observe` gets the spikes from a Lava run, the integer
reference or the PyTorch model; :mod:`.cli` prints DS2TA's Table 3 and the per-layer counts and
writes JSON and PNGs (:mod:`.plots`, Fig. 3). docs/report.md defines every count.
"""

from lava_ds2ta.report.counter import LayerCount
from lava_ds2ta.report.counter import complete_outputs
from lava_ds2ta.report.counter import count_layers
from lava_ds2ta.report.counter import summarize
from lava_ds2ta.report.observe import Observed
from lava_ds2ta.report.observe import observe_lava
from lava_ds2ta.report.observe import observe_reference
from lava_ds2ta.report.observe import observe_torch

__all__ = [
    "LayerCount",
    "Observed",
    "complete_outputs",
    "count_layers",
    "observe_lava",
    "observe_reference",
    "observe_torch",
    "summarize",
]
