"""TASAConv: DS2TA's delay-weight synapse on shared convolution weights, every tap in one process
(DS2TA Eq. 1, 4, 5)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from lava_ds2ta.proc.conv.kernel import out_size


class TASAConv(AbstractProcess):
    """A convolution whose output sums power-of-two attenuated, delayed replicas of its weights.

    ``a[t+1] = sum_{m < window} (W * s[t-m]) >> (tau m)`` in fixed point (floor shifts, Lava's
    ``Dense`` weight-exponent semantics), ``sum_m 2^(-tau m) W * s[t-m]`` in floating point, ``*``
    the convolution of Lava's ``Conv`` (same layouts and parameters). Like ``Conv`` the output
    is sent one step after the input arrives. The tap history is cleared when
    ``time_step % reset_interval == reset_offset`` (a new sample starts), so inputs before the
    sample count as zero. On Loihi 2 tap ``m`` is a ``Conv`` with weight exponent ``-tau m`` fed
    through an axonal delay of ``m`` steps.

    Parameters
    ----------
    weight, input_shape, stride, padding, dilation, groups, num_message_bits:
        as Lava's ``Conv``: ``weight`` ``(C_out, kX, kY, C_in / groups)`` (a true convolution),
        ``input_shape`` ``(X, Y, C)``, pairs in ``(X, Y)`` order.
    tau, window:
        attenuation exponent and number of taps ``T_AW``.
    reset_interval, reset_offset:
        sample period in steps (``None``: never reset) and the phase at which a sample's first
        input arrives.
    """

    def __init__(
        self, *, weight: np.ndarray, input_shape: tuple[int, int, int], tau: int, window: int,
        reset_interval: int | None, reset_offset: int, stride=(1, 1), padding=(0, 0),
        dilation=(1, 1), groups: int = 1, num_message_bits: int = 24, name: str = "tasa",
    ) -> None:  # fmt: skip
        super().__init__(name=name, tau=tau, window=window, reset_interval=reset_interval,
                         reset_offset=reset_offset, stride=tuple(stride), padding=tuple(padding),
                         dilation=tuple(dilation), groups=groups,
                         num_message_bits=num_message_bits)  # fmt: skip
        o, kx, ky, _ = weight.shape
        out_shape = tuple(out_size(input_shape[i], k, stride[i], padding[i], dilation[i])
                          for i, k in enumerate((kx, ky))) + (o,)  # fmt: skip
        self.s_in = InPort(shape=tuple(input_shape))
        self.a_out = OutPort(shape=out_shape)
        self.weight = Var(shape=weight.shape, init=weight)
        self.history = Var(shape=(window, *out_shape), init=0)
        self.a_buf = Var(shape=out_shape, init=0)
