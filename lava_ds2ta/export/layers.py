"""Per-layer HDF5 writers behind the blocks' ``export_hdf5(handle)`` methods (SLAYER style).

Each writer fills one ``layer/<i>`` group: ``type``, ``shape`` (``C, H, W`` as SLAYER's
``neuron.shape``; netx reverses it to Lava's ``W, H, C``) and the layer's parameters as integers
(weights in 8-bit weight units, i.e. mantissas ``64 * w``). ``name`` and ``inputs`` are written by
:mod:`lava_ds2ta.export.writer`, which knows the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lava_ds2ta.errors import ExportError
from lava_ds2ta.quant import synapse_weight_int, to_int


def write_str(handle, key: str, value: str) -> None:
    """A string dataset stored like SLAYER's ``type``: shape ``(1,)``, fixed-length ASCII."""
    data = value.encode("ascii")
    handle.create_dataset(key, (1,), f"S{max(len(data), 20)}", [data])


def _exact_int(name: str, x: np.ndarray, dtype=np.int32) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or not np.array_equal(x, np.rint(x)):
        raise ExportError(f"{name}: values are not integers; the model is not 8-bit quantised")
    return np.rint(x).astype(dtype)


def write_neuron(handle, neuron) -> None:
    """``neuron/{type, iDecay, vDecay, vThMant, refDelay, gradedSpike}`` from ``device_params``."""
    for key, value in neuron.device_params.items():
        handle.create_dataset(f"neuron/{key}", data=value)


def write_shape(handle, shape: Any) -> None:
    handle.create_dataset("shape", data=np.asarray(tuple(shape), dtype=np.int64))


def write_conv(block, handle) -> None:
    """A :class:`~lava_ds2ta.block.SpikingConv`: lava-dl's ``conv`` datasets, plus ``window``
    and ``tau`` for a TASA synapse (type ``tasa``). ``weight`` is ``(out, in, kH, kW)`` int16,
    ``bias`` ``(out,)`` int32 (``-round_8bit(running_mean)`` in weight units)."""
    syn, neuron = block.synapse, block.neuron
    tasa = hasattr(syn, "window")
    write_str(handle, "type", "tasa" if tasa else "conv")
    write_shape(handle, neuron.shape)
    handle.create_dataset("inChannels", data=syn.in_channels)
    handle.create_dataset("outChannels", data=syn.out_channels)
    handle.create_dataset("kernelSize", data=np.asarray(syn.kernel_size[:-1]))
    handle.create_dataset("stride", data=np.asarray(syn.stride[:-1]))
    handle.create_dataset("padding", data=np.asarray(syn.padding[:-1]))
    handle.create_dataset("dilation", data=np.asarray(syn.dilation[:-1]))
    handle.create_dataset("groups", data=syn.groups)
    handle.create_dataset("weight", data=synapse_weight_int(syn).astype(np.int16))
    if neuron.norm is not None:
        bias = neuron.norm.bias.detach().cpu().numpy().flatten()
        handle.create_dataset("bias", data=_exact_int("bias", bias))
    else:
        handle.create_dataset("bias", data=np.zeros(syn.out_channels, dtype=np.int32))
    if tasa:
        handle.create_dataset("window", data=int(syn.window))
        handle.create_dataset("tau", data=int(syn.tau_int))
    write_neuron(handle, neuron)


def write_attention(attn, handle) -> None:
    """The attention core of a :class:`~lava_ds2ta.block.SpikingSelfAttention` (``Q K^T``,
    NSAD table, ``A V``, shift, attention LIF). Q, K, V and the output projection are their own
    layers. ``tables`` is ``(heads, d+1)`` int32, only for ``denoiser = 'nsad'``."""
    write_str(handle, "type", "attention")
    write_shape(handle, attn.attn_neuron.shape)
    handle.create_dataset("numHeads", data=int(attn.num_heads))
    handle.create_dataset("headDim", data=int(attn.head_dim))
    handle.create_dataset("scaleShift", data=int(attn.scale_shift))
    write_str(handle, "denoiser", "none" if attn.denoiser is None else "nsad")
    if attn.denoiser is not None:
        tables = attn.denoiser.tables().cpu().numpy()
        handle.create_dataset("tables", data=tables.astype(np.int32))
    write_neuron(handle, attn.attn_neuron)


def write_readout(head, handle) -> None:
    """The :class:`~lava_ds2ta.block.Readout`: ``weight`` ``(classes, C)`` int16 and ``bias``
    ``(classes,)`` int32, both 8-bit mantissas (``to_int``)."""
    write_str(handle, "type", "readout")
    write_shape(handle, (head.weight.shape[0],))
    handle.create_dataset("weight", data=to_int(head.weight).astype(np.int16))
    handle.create_dataset("bias", data=to_int(head.bias).astype(np.int32))
