"""ProcessModels of :class:`SpikingAttention`: bit-accurate fixed point and floating point."""

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

from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.proc.attention.process import SpikingAttention


class AbstractSpikingAttentionModel(PyLoihiProcessModel):
    q_in = None
    k_in = None
    v_in = None
    a_out = None
    tables = None
    #: Scale of the output current relative to ``A V`` before the ``2^-shift``.
    unit = 1

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.geometry = (proc_params["tokens"], proc_params["num_heads"], proc_params["head_dim"])
        self.scale = self.unit * 2.0 ** -int(proc_params["scale_shift"])

    def run_spk(self) -> None:
        q, k, v = (p.recv().reshape(self.geometry) for p in (self.q_in, self.k_in, self.v_in))
        s = np.einsum("ihc,jhc->hij", q.astype(np.int64), k.astype(np.int64))
        a = np.take_along_axis(self.tables, s.reshape(s.shape[0], -1), axis=1).reshape(s.shape)
        out = np.einsum("hij,jhc->ihc", a, v.astype(np.int64))
        self.a_out.send(self.current(out).reshape(-1))

    def current(self, out: np.ndarray) -> np.ndarray:
        return out * self.scale


@implements(proc=SpikingAttention, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikingAttentionModelFixed(AbstractSpikingAttentionModel):
    """Integer map, integer lookup, integer ``A V``; output in 8-bit weight units (x 64)."""

    q_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    k_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    tables: np.ndarray = LavaPyType(np.ndarray, np.int64)
    unit = W_SCALE

    def current(self, out: np.ndarray) -> np.ndarray:
        return (out * int(self.scale)).astype(np.int32)


@implements(proc=SpikingAttention, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikingAttentionModelFloat(AbstractSpikingAttentionModel):
    """Same computation in floating point; output in real current units."""

    q_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    k_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    tables: np.ndarray = LavaPyType(np.ndarray, np.int64)
