"""Write a model to a ``lava_ds2ta.net`` HDF5 file (format version 1, docs/hdf5-format.md).

The file is written atomically: a temporary file in the target directory, fsync, ``os.replace``.
Before writing, :func:`check_contract` verifies that the model is inside the deployable
fixed-point contract (DESIGN.md section 3), so that the file reproduces the PyTorch eval model
bit-exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from lava_ds2ta.errors import ExportError
from lava_ds2ta.export.graph import Node, model_graph
from lava_ds2ta.export.layers import write_shape, write_str
from lava_ds2ta.quant import synapse_weight_int, to_int
from lava_ds2ta.utils.atomic import atomic_path

FORMAT = "lava_ds2ta.net"
FORMAT_VERSION = 1
#: Loihi limits: 17-bit threshold mantissa, 13-bit signed bias mantissa, weight exponent >= -8.
VTH_MAX, BIAS_MAX, TAU_MAX, SCALE_SHIFT_MAX = (1 << 17) - 1, 4095, 8, 6


def _check_neuron(name: str, neuron) -> None:
    p = neuron.device_params
    if neuron.graded_spike or neuron.persistent_state or not neuron.shared_param:
        raise ExportError(
            f"{name}: neuron must have binary spikes, no persistent state and shared parameters"
        )
    if not 0 < p["vThMant"] <= VTH_MAX:
        raise ExportError(f"{name}: vThMant {p['vThMant']} outside Loihi's 17-bit range")


def _check_weights(name: str, w: np.ndarray) -> None:
    if w.size and (w.min() < -256 or w.max() > 254 or np.any(w % 2)):
        raise ExportError(
            f"{name}: weights are not even integers in [-256, 254]; "
            "use the neuron's quantize_8bit pre-hook"
        )


def check_contract(model: torch.nn.Module, nodes: list[Node]) -> None:
    """Raise :class:`ExportError` naming the layer if ``model`` is not bit-exactly deployable."""
    for p_name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise ExportError(f"parameter {p_name} has NaN or infinite values; retrain the model")
    for node in nodes:
        m = node.module
        if node.type in ("conv", "tasa"):
            if m.synapse.pre_hook_fx is None:
                raise ExportError(f"{node.name}: synapse has no 8-bit quantisation pre-hook")
            _check_weights(node.name, synapse_weight_int(m.synapse))
            _check_neuron(node.name, m.neuron)
            if m.neuron.norm is not None:
                bias = -m.neuron.quantize_8bit(m.neuron.norm.running_mean, descale=True)
                if bias.abs().max().item() > BIAS_MAX:
                    raise ExportError(f"{node.name}: bias outside Loihi's 13-bit range")
            if node.type == "tasa" and not 0 <= m.synapse.tau_int <= TAU_MAX:
                raise ExportError(f"{node.name}: TASA tau {m.synapse.tau_int} not in [0, 8]")
        elif node.type == "attention":
            _check_neuron(node.name, m.attn_neuron)
            if not 0 <= m.scale_shift <= SCALE_SHIFT_MAX:
                raise ExportError(
                    f"{node.name}: attn scale_shift {m.scale_shift} must be in [0, 6] so that "
                    "the attention current is an integer number of weight units"
                )
            if m.denoiser is not None:
                forward_table = m.denoiser.table_ste()[0].detach().long()
                if not torch.equal(forward_table, m.denoiser.tables()):
                    raise ExportError(
                        f"{node.name}: NSAD forward table differs from NSAD.tables() "
                        "(float rounding at a half-integer); nudge the NSAD parameters"
                    )
        elif node.type == "readout":
            _check_weights(node.name, to_int(m.weight))


def _write_layers(f: h5py.File, nodes: list[Node], shapes: dict[str, tuple]) -> None:
    group = f.create_group("layer")
    for i, node in enumerate(nodes):
        h = group.create_group(str(i))
        if node.module is not None:
            node.module.export_hdf5(h)
        else:
            write_str(h, "type", node.type)
            write_shape(h, shapes[node.name])
            for key, value in node.params.items():
                h.create_dataset(key, data=value)
        written = tuple(int(n) for n in h["shape"][()])
        if node.name in shapes and written != shapes[node.name]:
            raise ExportError(f"{node.name}: shape {written} differs from the forward pass")
        write_str(h, "name", node.name)
        h.create_dataset("inputs", data=np.asarray(node.inputs, dtype=np.int32))


def export_model(model: torch.nn.Module, path: str | Path) -> Path:
    """Export ``model`` (a :class:`SpikingTransformer`) to ``path`` atomically; returns the path.

    Raises :class:`ExportError` if the model is outside the deployable contract.
    """
    from lava_ds2ta import __version__
    from lava_ds2ta.export.record import record_layers

    path = Path(path)
    nodes = model_graph(model)
    check_contract(model, nodes)
    c = model.config  # the forward on zeros also sets every SLAYER neuron's shape
    probe = record_layers(model, torch.zeros(1, c.in_channels, c.img_size, c.img_size))
    shapes = {name: tuple(v.shape[1:-1]) for name, v in probe.items()}
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["formatVersion"] = FORMAT_VERSION
            f.attrs["producer"] = f"lava_ds2ta {__version__}"
            f.create_dataset("config", data=json.dumps(c.to_dict(), sort_keys=True))
            _write_layers(f, nodes, shapes)
    return path


def export_checkpoint(ckpt: str | Path | dict[str, Any], path: str | Path) -> Path:
    """Export a training checkpoint (a path, or a dict from ``load_checkpoint``) to ``path``."""
    from lava_ds2ta.training.checkpoint import load_model, model_from_state

    model = model_from_state(ckpt) if isinstance(ckpt, dict) else load_model(ckpt)[0]
    return export_model(model, path)
