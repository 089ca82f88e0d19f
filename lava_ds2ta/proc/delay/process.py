"""SpikeDelay: delays graded spikes by a whole number of steps (aligns residual paths)."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class SpikeDelay(AbstractProcess):
    """``s_out[t] = s_in[t - delay]`` (zeros for the first ``delay`` steps), ``delay >= 1``.

    Residual sums add paths of different latency (each Lava ``Dense`` hop costs one step); the
    builder puts a SpikeDelay on the shorter path so that both arrive in the same step. On Loihi
    2 this is an axonal delay.
    """

    def __init__(self, *, shape: tuple[int, ...], delay: int, name: str = "delay") -> None:
        if delay < 1:
            raise ValueError(f"delay must be >= 1, got {delay}")
        super().__init__(shape=shape, delay=delay, name=name)
        self.s_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.buffer = Var(shape=(delay,) + tuple(shape), init=0)
