"""Export to and read from ``lava_ds2ta.net`` HDF5 files, plus the integer reference simulator.

``export_model(model, path)``, ``read_network(path)``, ``simulate(spec, x_levels)`` and
``record_layers(model, x)``; the format is documented in docs/hdf5-format.md, each layer type in
:mod:`lava_ds2ta.layers`.
"""

from lava_ds2ta.export.reader import LayerSpec
from lava_ds2ta.export.reader import NetworkSpec
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.record import layer_indices
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.simulate import input_levels
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.export.writer import export_checkpoint
from lava_ds2ta.export.writer import export_model

__all__ = [
    "LayerSpec",
    "NetworkSpec",
    "export_checkpoint",
    "export_model",
    "input_levels",
    "layer_indices",
    "read_network",
    "record_layers",
    "simulate",
]
