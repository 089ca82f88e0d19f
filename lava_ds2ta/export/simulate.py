"""Integer reference simulator of a network file: a dispatcher over the layer types.

Every layer's ``LayerType.reference`` computes its output in numpy ``int64`` from its inputs'
outputs, batched over samples and time aligned with PyTorch (no latency); the semantics are
documented per layer type in docs/hdf5-format.md. Layouts: SLAYER ``N, C, H, W, T``
(vectors ``N, C, T``). Units: currents in weight units, neuron states in state units.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.errors import FormatError
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import layer_type
from lava_ds2ta.layers.inputs import encode_levels


def input_levels(spec: NetworkSpec, x: np.ndarray) -> np.ndarray:
    """Encode images in [0, 1] (``N, C, H, W[, T]``) as the model does: ``floor(x L + 0.5)``
    with the input layer's ``inputLevels`` ``L`` (1 for netx files)."""
    return encode_levels(x, int(spec.layers[0].params.get("inputLevels", 1)))


def simulate(
    spec: NetworkSpec, x_levels: np.ndarray, stats: dict | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Run ``spec`` on integer input levels ``x_levels`` (``N, C, H, W`` repeated over T, or
    ``N, C, H, W, T``).

    Returns ``(logits_int (N, classes), {layer index: N, C, H, W, T int64})``: the logits are the
    last layer's output summed over time (a readout's integer logits, or a netx chain's spike
    counts); the readout itself has no entry in the dict. Pass ``stats={}`` to collect per-layer
    ``a_max``, ``u_max``, ``v_max``. Raises :class:`StateOverflowError` if a state reaches 2^23.
    """
    x = np.asarray(x_levels, dtype=np.int64)
    first = spec.layers[0]
    if x.ndim == len(first.shape) + 1 and spec.time_steps is not None:
        x = np.repeat(x[..., None], spec.time_steps, axis=-1)
    if x.ndim != len(first.shape) + 2 or tuple(x.shape[1:-1]) != first.shape:
        raise FormatError(
            f"simulate: input of shape {x.shape} does not match layer 0 {first.type} {first.shape}"
        )
    out: dict[int, np.ndarray] = {}
    for layer in spec.layers:
        ins = [out[j] for j in layer.inputs] if layer.inputs else [x]
        out[layer.index] = layer_type(layer.type).reference(layer, ins, stats)
    last = spec.layers[-1]
    final = out[last.index]
    logits = final.reshape(final.shape[0], -1, final.shape[-1]).sum(axis=-1)
    if layer_type(last.type).logits:
        del out[last.index]
    return logits, out
