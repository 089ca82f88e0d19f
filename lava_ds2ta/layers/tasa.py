"""``tasa``: DS2TA's temporally attenuated synapse (Eq. 1, 4, 5) and a CUBA LIF.

All datasets of ``conv`` plus ``window`` (``T_AW``) and ``tau``. With ``c[t]`` the ``conv``
current, the TASA current sums power-of-two attenuated taps of the same weights::

    a[t] = sum_{m = 0}^{window-1, t-m >= 0} floor(c[t-m] / 2^(tau m))

``floor(z / 2^k)`` is an arithmetic right shift (Lava's ``Dense`` weight-exponent semantics). On
Loihi each tap is a replica of the weights with weight exponent ``-tau m`` and a delay of ``m``
steps. Lava: one :class:`~lava_ds2ta.proc.tasa.process.TASAConv` process holding every tap on
one copy of the shared convolution weights.

Operations (``ops``): counted as on Loihi's weight replicas, the ``conv`` fan-out once per tap
that acts within the sample: an input at step ``t`` reaches ``min(window, T - t)`` taps. The
attenuation is a weight exponent (no operation). A non-spiking network has one tap.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lava_ds2ta.fixed_point import DELAY_MAX
from lava_ds2ta.fixed_point import TAU_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.conv import ConvLayer
from lava_ds2ta.layers.conv import conv_weight


def tasa_window(c: np.ndarray, tau: int, window: int) -> np.ndarray:
    """``a[t] = sum_{m < window, t-m >= 0} floor(c[t-m] / 2^(tau m))`` over the last axis."""
    a = c.copy()
    for m in range(1, window):
        if m < c.shape[-1]:
            a[..., m:] += np.right_shift(c[..., :-m], tau * m)
    return a


@register("tasa")
class TASALayer(ConvLayer):
    """Convolution with DS2TA's attenuated temporal window, + CUBA LIF."""


    fields = ConvLayer.fields + (
        Field("window", "T_AW, number of taps (tap m has delay m)", lo=1, hi=DELAY_MAX + 1),
        Field("tau", "attenuation exponent (tap m: weight exponent -tau m)", lo=0, hi=TAU_MAX),
    )

    def current(self, layer: LayerSpec, inputs: list[np.ndarray]) -> np.ndarray:
        c = super().current(layer, inputs)
        return tasa_window(c, int(layer.params["tau"]), int(layer.params["window"]))

    def synapse_groups(self, layer: LayerSpec, replicas: int) -> list[SynapseGroup]:
        """One replica of the kernel per tap ``m``: weight exponent ``-tau m``, delay ``m``."""
        (kernel,) = super().synapse_groups(layer, replicas)
        tau = int(layer.params["tau"])
        return [replace(kernel, label=f"tap {m}", exponent=-tau * m, delay=m)
                for m in range(int(layer.params["window"]))]  # fmt: skip

    def taps(self, layer: LayerSpec, time_steps: int) -> np.ndarray:
        return np.minimum(int(layer.params["window"]), time_steps - np.arange(time_steps))

    def synapse(self, layer: LayerSpec, inputs: list[Signal], net: Builder):
        (x,) = inputs
        taps = (int(layer.params["tau"]), int(layer.params["window"]))
        port, _ = net.conv(layer, conv_weight(layer), x, self.geometry(layer), taps=taps)
        return port, x.latency + 1
