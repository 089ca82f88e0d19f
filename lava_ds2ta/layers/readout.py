"""``readout``: the classification head, a linear map of the token-and-time sum; no neuron.

With ``x`` the readout's input (``N, C, H, W, T`` spike counts), per time step::

    out[n, k, t] = sum_{c, y, x} weight[k, c] x[n, c, y, x, t] + H W bias[k]

and the integer logits are ``sum_t out[n, k, t]``: ``logit_scale(H W, T)`` times the PyTorch
model's logits (:func:`lava_ds2ta.fixed_point.logit_scale`). Lava: a ``Dense`` whose output is
recorded (the ``H W bias`` term is added when the recording is read). The token sum before it is
a depthwise ``Conv`` of ones over the grid, so no matrix grows with the image.

Operations (``ops``), as deployed: the token sum accumulates every nonzero input value once, and
every nonzero channel sum of a step reaches the ``classes`` weights (``syn``). A non-spiking
network computes ``classes x C`` multiply-accumulates after its token mean.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.fixed_point import W_MAX
from lava_ds2ta.fixed_point import W_MIN
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


@register("readout")
class ReadoutLayer(LayerType):
    """Linear readout to integer logits."""


    logits = True
    fields = (
        Field("weight", "(classes, C) weight mantissas", "ints", lo=W_MIN, hi=W_MAX, dtype="int16"),
        Field("bias", "(classes,) bias mantissas", "ints", lo=W_MIN, hi=W_MAX, dtype="int32"),
    )

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        c = spec.layers[layer.inputs[0]].shape[0]
        w, b = np.asarray(layer.params["weight"]), np.asarray(layer.params["bias"])
        if w.shape != (layer.shape[0], c):
            fail(f"weight has shape {w.shape}, expected (classes, C) = {(layer.shape[0], c)}")
        if b.shape != (layer.shape[0],):
            fail(f"bias has shape {b.shape}, expected (classes,) = {(layer.shape[0],)}")

    @staticmethod
    def step_bias(layer: LayerSpec, in_shape: tuple[int, ...]) -> np.ndarray:
        """``H W bias``: what the bias adds to the logits at every step."""
        return int(np.prod(in_shape[1:])) * np.asarray(layer.params["bias"], np.int64)

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        (x,) = inputs
        w = np.asarray(layer.params["weight"], np.int64)
        out = np.einsum("kc,nchwt->nkt", w, x.astype(np.int64))
        return out + self.step_bias(layer, x.shape[1:-1])[None, :, None]

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """``C`` token-sum accumulators (a depthwise kernel of ones over the grid, per summand)
        and ``classes`` logit accumulators (a dense ``classes x C`` matrix); graded values, read
        by the host every step."""
        c, h, w = spec.layers[layer.inputs[0]].shape
        parts = summands(spec, layer.inputs[0])
        weight = np.asarray(layer.params["weight"], np.int64)
        sums = parts * h * w
        return Usage(
            place="neuro", neurons=c + layer.size, grid=(c + layer.size,),
            groups=[SynapseGroup("conv", "token sum", np.ones((c, 1, h, w), np.int64),
                                 axons=sums, taps=h * w, replicas=parts, channels=c),
                    SynapseGroup("dense", "logits", weight, axons=c)],
            connections=c * sums + weight.size, fan_in=max(sums, c), fan_out=layer.size,
            graded={"token sums": sums,
                    "logits per step": int(np.abs(weight).sum(axis=1).max(initial=0)) * sums},
            note="logits read by the host",
        )  # fmt: skip

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        (x,) = inputs
        sums = x.reshape(x.shape[0], x.shape[1], -1, x.shape[-1]).sum(axis=2)  # N, C, T
        syn = np.count_nonzero(x) + layer.shape[0] * np.count_nonzero(sums)
        return {"syn": float(syn)}

    def dense_macs(self, layer: LayerSpec) -> int:
        return int(np.size(layer.params["weight"]))

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        c, h, w = x.shape
        # The token sum: a depthwise convolution of ones over the whole grid, then the weights.
        ones = np.ones((c, 1, h, w), np.int64)
        geometry = ConvGeometry((1, 1), (0, 0), (1, 1), c)
        tokens, _ = net.conv(layer, ones, x, geometry, mantissas=True)  # a plain sum
        summed = Signal([(tokens, x.latency + 1)], (c, 1, 1), binary=False)
        weight = np.asarray(layer.params["weight"])
        syn = net.dense(layer, weight, summed, mantissas=True)  # logits in weight units
        return Signal([(syn.a_out, x.latency + 2)], layer.shape, binary=False,
                      step_bias=self.step_bias(layer, x.shape))  # fmt: skip
