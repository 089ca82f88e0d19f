"""``input``: the network's input layer.

Our files: the network is fed integer graded spikes ``x_int = floor(x L + 0.5)`` for images ``x``
in ``[0, 1]`` (``inputLevels`` ``L``), repeated over the ``timeSteps`` ``T`` for static images;
the layer's output is ``x_int`` (``N, C, H, W, T``). Lava: a
:class:`~lava_ds2ta.proc.source.process.FrameSource` streaming the samples back to back.

Plain netx files: the input may have a neuron (lava-dl's ``Input`` block): ``a = weight x`` (an
affine transform with a scalar ``weight`` and ``bias``) into a CUBA LIF, as netx feeds it.

Operations (``ops``): each nonzero level is one graded message (``spikes``); a netx input neuron
adds its updates. The layers reading the levels count their synapses.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.fixed_point import BIAS_MAX
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.layers.base import TIME_STEPS_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.conv import WEIGHT_LIMIT
from lava_ds2ta.layers.cuba import check_neuron
from lava_ds2ta.layers.cuba import is_cuba
from lava_ds2ta.layers.cuba import lif_reference
from lava_ds2ta.layers.cuba import neuron_ops
from lava_ds2ta.proc.source.process import FrameSource

#: Largest input level (24-bit graded spikes).
LEVELS_MAX = (1 << 23) - 1


def encode_levels(x: np.ndarray, levels: int) -> np.ndarray:
    """Images in ``[0, 1]`` as the model encodes them: ``floor(x L + 0.5)`` (int64)."""
    return np.floor(np.asarray(x, np.float64) * levels + 0.5).astype(np.int64)


@register("input")
class InputLayer(LayerType):
    """Integer input levels (ours) or lava-dl's input neuron (netx)."""


    num_inputs = (0, 0)
    fields = (
        Field("timeSteps", "T, steps per sample", lo=1, hi=TIME_STEPS_MAX, optional_in_netx=True),
        Field("inputLevels", "L: inputs are floor(x L + 0.5)", lo=1, hi=LEVELS_MAX,
              optional_in_netx=True),  # fmt: skip
        Field("weight", "netx input transform: a = weight x (64: unity)", "ints",
              lo=-WEIGHT_LIMIT, hi=WEIGHT_LIMIT - 1, required=False),  # fmt: skip
        Field("bias", "netx input neuron bias, weight units", "ints", lo=-BIAS_MAX, hi=BIAS_MAX,
              required=False),  # fmt: skip
    )

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        if layer.neuron is not None:
            if spec.version > 0:
                fail("our input layers have no neuron")
            if is_cuba(layer.neuron):
                check_neuron(layer.neuron, fail)

    @staticmethod
    def affine(layer: LayerSpec) -> tuple[int, int]:
        """netx's input transform ``(weight, bias)`` (``(1, 0)`` without a neuron)."""
        p = layer.params
        if layer.neuron is None:
            return 1, 0
        weight = int(np.asarray(p.get("weight", W_SCALE)).reshape(-1)[0])  # netx: 64 is unity
        return weight, int(np.asarray(p.get("bias", 0)).reshape(-1)[0])

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """Ours: graded input levels sent by the host. netx: lava-dl's input neurons."""
        if layer.neuron is None:
            levels = int(layer.params.get("inputLevels", 1))
            return Usage(place="host", graded={"input levels": levels},
                         note="input frames sent by the host")  # fmt: skip
        return Usage(place="neuro", neurons=layer.size, grid=tuple(layer.shape),
                     neuron=layer.neuron, note="input neurons")  # fmt: skip

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        (x,) = inputs  # the simulator passes the input levels
        if layer.neuron is None:
            return x
        weight, bias = self.affine(layer)
        s, _, _ = lif_reference(weight * x, layer.neuron, np.full(x.shape[1], bias), layer.name)
        return s

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        if layer.neuron is None:
            return {"spikes": float(np.count_nonzero(output))}
        return neuron_ops(output)

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        weight, bias = self.affine(layer)
        frames = weight * net.frames
        source = FrameSource(frames=frames if net.fixed else frames.astype(np.float64))
        net.add(source)
        net.source = source
        if layer.neuron is None:
            binary = bool(np.all((net.frames == 0) | (net.frames == 1)))
            return Signal([(source.s_out, 0)], layer.shape, binary=binary)
        lif = net.lif(layer, layer.size, 0, np.full(layer.size, bias))
        source.s_out.connect(lif.a_in)
        return Signal([(lif.s_out, 0)], layer.shape, probe=lif.s_out)
