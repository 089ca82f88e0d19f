"""``flatten`` (netx): a ``C, H, W`` map seen as a vector of ``C H W`` neurons; no process.

As netx does, the map's Lava ports (flat in ``W, H, C`` order) reach the next layer through a
virtual ``transpose([2, 1, 0]).flatten()``, so the vector is in PyTorch's ``C, H, W`` order.
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


@register("flatten")
class FlattenLayer(LayerType):
    """Reshape to a vector."""


    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        n = spec.layers[layer.inputs[0]].size
        if layer.size != n:
            fail(f"shape {layer.shape} holds {layer.size} values, the input {n}")

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        (x,) = inputs
        return x.reshape(x.shape[0], -1, x.shape[-1])

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        if len(x.shape) != 3:
            return Signal(list(x.parts), (x.size,), binary=x.binary)
        c, h, w = x.shape
        parts = [(p.reshape((w, h, c)).transpose([2, 1, 0]).flatten(), lat) for p, lat in x.parts]
        return Signal(parts, (x.size,), binary=x.binary)
