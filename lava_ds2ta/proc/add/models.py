"""ProcessModels of :class:`AlignedSum`."""

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

from lava_ds2ta.proc.add.process import AlignedSum


class AbstractAlignedSumModel(PyLoihiProcessModel):
    a_in = None
    b_in = None
    s_out = None
    buffer = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.delay = int(proc_params["delay"])

    def run_spk(self) -> None:
        a, b = self.a_in.recv(), self.b_in.recv()
        if self.delay:
            k = self.time_step % self.delay  # ring buffer slot written `delay` steps ago
            a, self.buffer[k] = self.buffer[k].copy(), a
        self.s_out.send(a + b)


@implements(proc=AlignedSum, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyAlignedSumModelFixed(AbstractAlignedSumModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    b_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    buffer: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


@implements(proc=AlignedSum, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyAlignedSumModelFloat(AbstractAlignedSumModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    b_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    buffer: np.ndarray = LavaPyType(np.ndarray, float)
