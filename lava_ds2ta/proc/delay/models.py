"""ProcessModels of :class:`SpikeDelay`."""

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

from lava_ds2ta.proc.delay.process import SpikeDelay


class AbstractSpikeDelayModel(PyLoihiProcessModel):
    s_in = None
    s_out = None
    buffer = None

    def run_spk(self) -> None:
        s = self.s_in.recv()
        out = self.buffer[-1].copy()
        self.buffer[1:] = self.buffer[:-1].copy()
        self.buffer[0] = s
        self.s_out.send(out)


@implements(proc=SpikeDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeDelayModelFixed(AbstractSpikeDelayModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    buffer: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


@implements(proc=SpikeDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikeDelayModelFloat(AbstractSpikeDelayModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    buffer: np.ndarray = LavaPyType(np.ndarray, float)
