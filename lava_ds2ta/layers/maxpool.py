"""``spikeMaxPool``: max-pooling of binary spikes (Spikformer's patch splitting), no neuron.

Per time step and channel, the maximum over each ``kernelSize`` window with zero ``padding``
(output size ``floor((H + 2p - k) / s) + 1``). The input is binary spikes, so this is a logical
OR, which Lava computes exactly as a sum-pool (a depthwise ``Conv`` of ones) into memoryless
``LIF`` neurons whose threshold is below one spike.

Operations (``ops``): as deployed, the sum-pool's accumulates (each input spike times the
windows that hold it, ``syn``) and the updates and spikes of its ``LIF`` neurons.
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
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.base import summands
from lava_ds2ta.layers.conv import ConvGeometry
from lava_ds2ta.layers.conv import conv_output_shape
from lava_ds2ta.layers.conv import pair
from lava_ds2ta.layers.conv import synaptic_events
from lava_ds2ta.layers.cuba import neuron_ops

#: The pooling neurons as a CUBA ``neuron/`` group: no current or voltage memory (Loihi 2's
#: 12-bit decays: ``vDecay`` 4095 leaves ``v / 4096``, and ``v`` is 0 before every step because
#: the inputs are non-negative and any positive ``v`` fires and resets), fires on ``v > 0``.
POOL_NEURON = {"type": "CUBA", "iDecay": DECAY_SCALE, "vDecay": DECAY_SCALE - 1, "vThMant": 0}


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
        src = spec.layers[layer.inputs[0]].shape
        out = conv_output_shape(src, self.ones(layer, src[0]).shape, self.geometry(layer, src[0]))
        if tuple(layer.shape) != out:
            fail(f"shape {layer.shape} does not match the pooled input {out}")

    @staticmethod
    def ones(layer: LayerSpec, channels: int) -> np.ndarray:
        """The sum-pool as a depthwise convolution kernel of ones ``(C, 1, kH, kW)``."""
        return np.ones((channels, 1, *pair(layer.params["kernelSize"])), np.int64)

    @staticmethod
    def geometry(layer: LayerSpec, channels: int) -> ConvGeometry:
        p = layer.params
        return ConvGeometry(pair(p["stride"]), pair(p["padding"]), (1, 1), channels)

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        p = layer.params
        return spike_maxpool(inputs[0], *(pair(p[k]) for k in ("kernelSize", "stride", "padding")))

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """A depthwise kernel of ones into memoryless neurons (one per output value)."""
        c = spec.layers[layer.inputs[0]].shape[0]
        ones = self.ones(layer, c)
        taps = int(np.prod(ones.shape[1:]))
        parts = summands(spec, layer.inputs[0])
        (sy, sx), _, _, _ = self.geometry(layer, c)
        return Usage(
            place="neuro", neurons=layer.size, grid=tuple(layer.shape),
            groups=[SynapseGroup("conv", "ones", ones, axons=parts * taps, taps=taps,
                                 replicas=parts, channels=c)],
            connections=layer.size * taps * parts, fan_in=taps * parts,
            fan_out=-(-ones.shape[2] // sy) * -(-ones.shape[3] // sx),
            neuron=dict(POOL_NEURON),
        )  # fmt: skip

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        (x,) = inputs
        c = x.shape[1]
        syn = synaptic_events(x, self.ones(layer, c).shape, self.geometry(layer, c))
        return {"syn": syn, **neuron_ops(output)}

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        c = x.shape[0]
        port, _ = net.conv(layer, self.ones(layer, c), x, self.geometry(layer, c))
        # No current or voltage memory (decays of one), fires on v > 0: an OR of the window.
        n = layer.size
        if net.fixed:
            lif = LIF(shape=(n,), du=POOL_NEURON["iDecay"] - 1, dv=POOL_NEURON["vDecay"],
                      vth=POOL_NEURON["vThMant"], name=layer.name)  # fmt: skip
        else:
            lif = LIF(shape=(n,), du=1.0, dv=1.0, vth=0.0, name=layer.name)
        net.add(lif)
        port.connect(lif.a_in)
        return Signal([(lif.s_out, x.latency + 1)], layer.shape, probe=lif.s_out)
