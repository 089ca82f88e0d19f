"""AlignedSum: the residual sum of two graded spike trains, the earlier one delayed."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class AlignedSum(AbstractProcess):
    """``s_out[t] = a_in[t - delay] + b_in[t]``, sent in the step it is received (no latency).

    A residual connection adds a layer's input (``a``, which arrives ``delay`` steps earlier)
    to its output (``b``). Several OutPorts connected to one InPort are summed by Lava, so the
    sum needs no process at all; but then every consumer of the sum connects (and aligns) every
    summand again, and a transformer's residual stream accumulates summands block after block.
    One AlignedSum per residual add keeps the stream one port wide. On Loihi 2 the sum is the
    fan-in of the consumers' synapses and ``delay`` an axonal delay.
    """

    def __init__(self, *, shape: tuple[int, ...], delay: int, name: str = "sum") -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        super().__init__(shape=shape, delay=delay, name=name)
        self.a_in = InPort(shape=shape)
        self.b_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.buffer = Var(shape=(max(delay, 1), *shape), init=0)
