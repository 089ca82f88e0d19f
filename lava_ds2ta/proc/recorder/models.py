"""ProcessModels of :class:`Recorder`."""

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.decorator import requires
from lava.magma.core.decorator import tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_ds2ta.proc.recorder.process import Recorder


class AbstractRecorderModel(PyLoihiProcessModel):
    a_in = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.steps = int(proc_params["steps"])
        self.data = np.lib.format.open_memmap(proc_params["path"], mode="r+")

    def run_spk(self) -> None:
        x = self.a_in.recv()
        k = self.time_step - 1
        if k < self.steps:
            self.data[:, k] = x


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecorderModelFixed(AbstractRecorderModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRecorderModelFloat(AbstractRecorderModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
