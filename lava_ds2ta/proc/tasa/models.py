"""ProcessModels of :class:`TASADense`: bit-accurate fixed point and floating point."""

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

from lava_ds2ta.proc.tasa.process import TASADense


class AbstractTASADenseModel(PyLoihiProcessModel):
    s_in = None
    a_out = None
    weights = None
    history = None
    a_buff = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.tau = int(proc_params["tau"])
        self.window = int(proc_params["window"])
        self.reset_interval = int(proc_params["reset_interval"])
        self.reset_offset = int(proc_params["reset_offset"]) % self.reset_interval

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        raise NotImplementedError

    def run_spk(self) -> None:
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self.time_step % self.reset_interval == self.reset_offset:
            self.history[:] = 0
        self.history[1:] = self.history[:-1].copy()
        self.history[0] = self.weights.dot(s_in)
        out = self.history[0].copy()
        for m in range(1, self.window):
            out = out + self.tap(self.history[m], m)
        self.a_buff[:] = out


@implements(proc=TASADense, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTASADenseModelFixed(AbstractTASADenseModel):
    """Integer taps shifted right (floor) by ``tau m``, as Lava's Dense with a weight exponent."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    history: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        return np.right_shift(accum, self.tau * m)


@implements(proc=TASADense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyTASADenseModelFloat(AbstractTASADenseModel):
    """Real-valued taps ``2^(-tau m) W s[t-m]`` (no truncation)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    weights: np.ndarray = LavaPyType(np.ndarray, float)
    history: np.ndarray = LavaPyType(np.ndarray, float)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)

    def tap(self, accum: np.ndarray, m: int) -> np.ndarray:
        return accum * 2.0 ** (-self.tau * m)
