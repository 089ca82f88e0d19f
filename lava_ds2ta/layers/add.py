"""``add``: the integer sum of two or more layers (residual connections), no neuron.

The residual stream of a transformer holds spike counts, not binary spikes, and the layers that
read it receive graded integer inputs. Lava: one :class:`~lava_ds2ta.proc.add.process.AlignedSum`
per pair of summands, which delays the earlier one so that both are the same time step of the
sample, and adds them in the step they arrive (no latency).

Operations (``ops``): one accumulate per nonzero summand value (``add``); each nonzero sum is one
graded message (``spikes``).
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import OpKind
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.proc.add.process import AlignedSum


@register("add")
class AddLayer(LayerType):
    """Sum of the inputs."""

    num_inputs = (2, 1 << 30)
    op_kinds = {"add": OpKind("residual sums: one accumulate per nonzero summand value", "ac")}

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        for j in layer.inputs:
            if spec.layers[j].shape != tuple(layer.shape):
                fail(f"input {j} has shape {spec.layers[j].shape}, the sum has {layer.shape}")

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """No process on Loihi 2: every reader sums the summands at its dendrites (one synapse
        set per summand, counted by the reader)."""
        return Usage(note="summed at the readers' dendrites")

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        return sum(inputs[1:], inputs[0].copy())

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        added = sum(np.count_nonzero(x) for x in inputs)
        return {"add": float(added), "spikes": float(np.count_nonzero(output))}

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        if getattr(net, "dendritic_sums", False):
            # Loihi 2 form: no process; every reader receives the summands on its own synapses
            # (Lava sums the ports at the InPort), aligned by the builder's delays.
            parts = [part for term in inputs for part in term.parts]
            return Signal(parts, layer.shape, binary=False)
        total = inputs[0]
        for i, term in enumerate(inputs[1:], start=1):
            early, late = sorted((total, term), key=lambda s: s.latency)
            proc = AlignedSum(shape=(layer.size,), delay=late.latency - early.latency,
                              name=f"{layer.name}.{i}")  # fmt: skip
            net.connect(early, proc.a_in)
            net.connect(late, proc.b_in)
            net.add(proc)
            total = Signal([(proc.s_out, late.latency)], layer.shape, binary=False)
        return total
