"""ProcessModels of :class:`TASAConv`: bit-accurate fixed point and floating point."""

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.decorator import requires
from lava.magma.core.decorator import tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from threadpoolctl import threadpool_limits

from lava_ds2ta.proc.conv.kernel import ConvKernel
from lava_ds2ta.proc.tasa.process import TASAConv


class AbstractTASAConvModel(PyLoihiProcessModel):
    s_in = None
    a_out = None
    weight = None
    history = None
    a_buf = None
    exact = True

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.tau, self.window = int(p["tau"]), int(p["window"])
        self.period = p["reset_interval"]
        self.offset = int(p["reset_offset"]) % self.period if self.period else None
        self.binary = int(p["num_message_bits"]) == 0
        self.geometry = (p["stride"], p["padding"], p["dilation"], int(p["groups"]))
        self.kernel: ConvKernel | None = None
        threadpool_limits(1)  # one BLAS thread per Lava process: the runtime has many

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        raise NotImplementedError

    def run_spk(self) -> None:
        if self.kernel is None:
            self.kernel = ConvKernel(self.weight, *self.geometry)
        self.a_out.send(self.a_buf)
        s = self.s_in.recv()
        if self.period and self.time_step % self.period == self.offset:
            self.history[:] = 0
        self.history[1:] = self.history[:-1].copy()
        self.history[0] = self.kernel(s.astype(bool) if self.binary else s, self.exact)
        out = self.history[0].copy()
        for m in range(1, self.window):
            out = out + self.tap(self.history[m], m)
        self.a_buf = out


@implements(proc=TASAConv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTASAConvModelFixed(AbstractTASAConvModel):
    """Integer taps shifted right (floor) by ``tau m``, as Lava's Dense with a weight exponent."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    history: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        return np.right_shift(accum, self.tau * m)


@implements(proc=TASAConv, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyTASAConvModelFloat(AbstractTASAConvModel):
    """Real-valued taps ``2^(-tau m) W * s[t-m]`` (no truncation)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    history: np.ndarray = LavaPyType(np.ndarray, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    exact = False

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        return accum * 2.0 ** (-self.tau * m)
