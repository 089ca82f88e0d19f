"""``add``: the integer sum of two or more layers (residual connections), no neuron.

The residual stream of a transformer holds spike counts, not binary spikes, and the layers that
read it receive graded integer inputs. Lava: no process; every OutPort of the summands connects
to each consumer's InPort and Lava sums them (paths are first aligned to the same latency).
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import register


@register("add")
class AddLayer(LayerType):
    """Sum of the inputs."""

    num_inputs = (2, 1 << 30)

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        for j in layer.inputs:
            if spec.layers[j].shape != tuple(layer.shape):
                fail(f"input {j} has shape {spec.layers[j].shape}, the sum has {layer.shape}")

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        return sum(inputs[1:], inputs[0].copy())

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        parts = [part for s in inputs for part in s.parts]
        return Signal(parts, layer.shape, binary=False)
