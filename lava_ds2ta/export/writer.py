"""Write a model to a ``lava_ds2ta.net`` HDF5 file (docs/hdf5-format.md).

``model.graph()`` lists the layers; every block exports itself (``export_hdf5``, SLAYER style)
through its layer type's ``write``, which checks each value against the layer type's schema, so
an exported file is inside the deployable fixed-point contract (docs/fixed-point.md). The file is
written atomically: a temporary file in the target directory, fsync, ``os.replace``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from lava_ds2ta import __version__
from lava_ds2ta.errors import ExportError
from lava_ds2ta.export.reader import read_open_network
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.layers import FORMAT
from lava_ds2ta.layers import FORMAT_VERSION
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import layer_type
from lava_ds2ta.layers.base import write_str
from lava_ds2ta.models import load_model
from lava_ds2ta.models.checkpoint import model_from_state
from lava_ds2ta.models.graph import Node
from lava_ds2ta.utils.atomic import atomic_path


def _graph(model: torch.nn.Module) -> list[Node]:
    if not hasattr(model, "graph"):
        raise ExportError(
            f"cannot export a {type(model).__name__}: it has no layer graph (model.graph())"
        )
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ExportError(f"{name} has NaN or infinite values; retrain the model")
    return model.graph()


def _write_layers(f: h5py.File, nodes: list[Node], shapes: dict[str, tuple]) -> None:
    group = f.create_group("layer")
    for i, node in enumerate(nodes):
        h = group.create_group(str(i))
        try:
            if node.module is not None:
                node.module.export_hdf5(h)
            else:
                layer_type(node.type).write(h, shapes[node.name], **node.params)
        except ExportError as exc:
            raise ExportError(f"{node.name}: {exc}") from None
        written = tuple(int(n) for n in h["shape"][()])
        if node.name in shapes and written != shapes[node.name]:
            raise ExportError(f"{node.name}: shape {written} differs from the forward pass")
        write_str(h, "name", node.name)
        h.create_dataset("inputs", data=np.asarray(node.inputs, dtype=np.int32))


def write_network(model: torch.nn.Module, f: h5py.File) -> None:
    """Write ``model`` (a model with ``graph()`` and ``config``) into the open HDF5 file ``f``.
    Raises :class:`ExportError` if the model is outside the deployable contract."""
    nodes = _graph(model)
    c = model.config  # the forward on zeros also sets every SLAYER neuron's shape
    probe = record_layers(model, torch.zeros(1, c.in_channels, c.img_size, c.img_size))
    shapes = {name: tuple(v.shape[1:-1]) for name, v in probe.items()}
    f.attrs["format"] = FORMAT
    f.attrs["formatVersion"] = FORMAT_VERSION
    f.attrs["producer"] = f"lava_ds2ta {__version__}"
    f.create_dataset("config", data=json.dumps(c.to_dict(), sort_keys=True))
    _write_layers(f, nodes, shapes)


def export_model(model: torch.nn.Module, path: str | Path) -> Path:
    """Export ``model`` to ``path`` atomically (:func:`write_network`); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            write_network(model, f)
    return path


def network_spec(model: torch.nn.Module, source: str = "model") -> NetworkSpec:
    """The :class:`NetworkSpec` that exporting ``model`` would give, built in memory (no file):
    what :func:`lava_ds2ta.export.match.check_checkpoint_matches` compares with a file."""
    with h5py.File(io.BytesIO(), "w") as f:
        write_network(model, f)
        return read_open_network(f, Path(source))


def export_checkpoint(ckpt: str | Path | dict[str, Any], path: str | Path) -> Path:
    """Export a training checkpoint (a path, or a dict from ``load_checkpoint``) to ``path``."""
    model = model_from_state(ckpt) if isinstance(ckpt, dict) else load_model(ckpt)[0]
    return export_model(model, path)
