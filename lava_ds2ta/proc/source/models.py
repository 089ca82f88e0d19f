"""ProcessModels of :class:`FrameSource` (fixed and floating point)."""

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.decorator import requires
from lava.magma.core.decorator import tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_ds2ta.proc.source.process import FrameSource


class AbstractFrameSourceModel(PyLoihiProcessModel):
    s_out = None
    frames = None

    def run_spk(self) -> None:
        k = self.time_step - 1
        if k < self.frames.shape[1]:
            self.s_out.send(self.frames[:, k])
        else:
            self.s_out.send(np.zeros(self.frames.shape[0], dtype=self.frames.dtype))


@implements(proc=FrameSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyFrameSourceModelFixed(AbstractFrameSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    frames: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


@implements(proc=FrameSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFrameSourceModelFloat(AbstractFrameSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    frames: np.ndarray = LavaPyType(np.ndarray, float)
