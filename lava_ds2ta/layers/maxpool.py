"""``spikeMaxPool``: max-pooling of binary spikes (Spikformer's patch splitting), no neuron.

Per time step and channel, the maximum over each ``kernelSize`` window with zero ``padding``
(output size ``floor((H + 2p - k) / s) + 1``). The input is binary spikes, so this is a logical
OR, which Lava computes exactly as a sum-pool (``Dense``) into memoryless ``LIF`` neurons whose
threshold is below one spike.
"""

from __future__ import annotations

import numpy as np
from lava.proc.lif.process import LIF

from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.conv import pair
from lava_ds2ta.layers.unroll import conv_out_size
from lava_ds2ta.layers.unroll import pool_matrix


def spike_maxpool(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Max over each window of ``x`` (``N, C, H, W, T``), zero padding; pairs are ``(y, x)``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w, t = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw), (0, 0)))
    out = np.zeros((n, c, ho, wo, t), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, xp[:, :, i : i + sh * (ho - 1) + 1 : sh,
                                     j : j + sw * (wo - 1) + 1 : sw])  # fmt: skip
    return out


@register("spikeMaxPool")
class SpikeMaxPoolLayer(LayerType):
    """Spike max-pool (OR over each window)."""


    fields = (
        Field("kernelSize", "window (kH, kW)", "pair", lo=1, hi=SIZE_MAX),
        Field("stride", "stride (sy, sx)", "pair", lo=1, hi=SIZE_MAX),
        Field("padding", "zero padding (py, px)", "pair", lo=0, hi=SIZE_MAX),
    )

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        c, h, w = spec.layers[layer.inputs[0]].shape
        (kh, kw), (sy, sx), (py, px) = self.windows(layer)
        out = (c, conv_out_size(h, kh, sy, py), conv_out_size(w, kw, sx, px))
        if tuple(layer.shape) != out:
            fail(f"shape {layer.shape} does not match the pooled input {out}")

    @staticmethod
    def windows(layer: LayerSpec):
        """``(kernel, stride, padding)`` as ``(y, x)`` pairs."""
        return tuple(pair(layer.params[k]) for k in ("kernelSize", "stride", "padding"))

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        return spike_maxpool(inputs[0], *self.windows(layer))

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        syn = net.dense(pool_matrix(x.shape, *self.windows(layer)), x, f"{layer.name}.syn")
        # No current or voltage memory (decays of one), fires on v > 0: an OR of the window.
        n = layer.size
        if net.fixed:
            lif = LIF(shape=(n,), du=DECAY_SCALE - 1, dv=DECAY_SCALE, vth=0, name=layer.name)
        else:
            lif = LIF(shape=(n,), du=1.0, dv=1.0, vth=0.0, name=layer.name)
        net.add(lif)
        syn.a_out.connect(lif.a_in)
        return Signal([(lif.s_out, x.latency + 1)], layer.shape, probe=lif.s_out)
