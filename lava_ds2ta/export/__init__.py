"""Export to and read from ``lava_ds2ta.net`` HDF5 files, plus a numpy reference simulator.

``export_model(model, path)``, ``read_network(path)``, ``simulate(spec, x_levels)`` and
``record_layers(model, x)``; the format is documented in docs/hdf5-format.md.
"""

from lava_ds2ta.export.graph import layer_indices, model_graph
from lava_ds2ta.export.reader import LayerSpec, NetworkSpec, read_network
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.simulate import input_levels, simulate
from lava_ds2ta.export.writer import check_contract, export_checkpoint, export_model

__all__ = [
    "LayerSpec",
    "NetworkSpec",
    "check_contract",
    "export_checkpoint",
    "export_model",
    "input_levels",
    "layer_indices",
    "model_graph",
    "read_network",
    "record_layers",
    "simulate",
]
