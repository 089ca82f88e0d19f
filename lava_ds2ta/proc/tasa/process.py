"""TASADense: the TASA delay-weight synapse as one Lava process (DS2TA Eq. 1, 4, 5)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class TASADense(AbstractProcess):
    """Dense synapse whose output sums power-of-two attenuated, delayed replicas of ``W``.

    ``a[t+1] = sum_{m < window} (W s[t-m]) >> (tau m)`` in fixed point (floor shifts, Lava's
    ``Dense`` weight-exponent semantics), ``sum_m 2^(-tau m) W s[t-m]`` in floating point. Like
    Lava's ``Dense`` the output is sent one step after the input arrives. The tap history is
    cleared when ``time_step % reset_interval == reset_offset`` (a new sample starts), so inputs
    before the sample count as zero. On Loihi 2 each tap is a replica of ``W`` with weight
    exponent ``-tau m`` and axonal delay ``m``.

    Parameters
    ----------
    weights:
        ``(out, in)`` 8-bit weight mantissas (fixed) or real weights (floating).
    tau, window:
        attenuation exponent and number of taps ``T_AW``.
    reset_interval, reset_offset:
        sample period in steps and the phase at which a sample's first input arrives.
    """

    def __init__(
        self,
        *,
        weights: np.ndarray,
        tau: int,
        window: int,
        reset_interval: int,
        reset_offset: int,
        name: str = "tasa",
    ) -> None:
        super().__init__(
            weights=weights,
            tau=tau,
            window=window,
            reset_interval=reset_interval,
            reset_offset=reset_offset,
            name=name,
        )
        n_out, n_in = weights.shape
        self.s_in = InPort(shape=(n_in,))
        self.a_out = OutPort(shape=(n_out,))
        self.weights = Var(shape=(n_out, n_in), init=weights)
        self.history = Var(shape=(window, n_out), init=0)
        self.a_buff = Var(shape=(n_out,), init=0)
