"""Fast, bit-exact CPU ProcessModels for Lava's own ``lava.proc.conv.process.Conv``.

Lava's Python models of ``Conv`` loop over channel pairs with ``scipy`` and ignore
``weight_exp``. These compute the same convolution (:class:`~.kernel.ConvKernel`: im2col and one
BLAS product per group, exact integer arithmetic) and apply ``weight_exp`` as Lava's ``Dense``
and Loihi do (accumulate, then shift). The graph keeps Lava's standard ``Conv`` process, so
lava-loihi can map it to Loihi 2 conv synapses; the CPU run selects these models with
``Loihi2SimCfg(exception_proc_model_map={Conv: PyConvModelFastFixed})`` (:data:`FAST_MODELS`).

Fixed point: the input is cast to bool when ``num_message_bits`` is 0 (binary spikes), the output
wraps at 24 bits like Lava's fixed-point ``Conv``; like ``Dense`` the output is sent one step
after the input arrives. Floating point: real arithmetic, ``weight * 2^weight_exp``.
"""

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
from lava.proc.conv.process import Conv
from threadpoolctl import threadpool_limits

from lava_ds2ta.proc.conv.kernel import ConvKernel
from lava_ds2ta.proc.conv.kernel import wrap24


class AbstractFastConvModel(PyLoihiProcessModel):
    s_in = None
    a_out = None
    a_buf = None
    weight = None
    kernel_size: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    stride: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    padding: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    dilation: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    groups: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=5)
    weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    num_weight_bits: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=5)
    exact = True

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.kernel: ConvKernel | None = None
        threadpool_limits(1)  # one BLAS thread per Lava process: the runtime has many

    def run_spk(self) -> None:
        if self.kernel is None:
            self.kernel = ConvKernel(self.weight, self.stride, self.padding, self.dilation,
                                     int(self.groups[0]))  # fmt: skip
        self.a_out.send(self.a_buf)
        s = self.s_in.recv()
        if int(self.num_message_bits[0]) == 0:
            s = s.astype(bool)
        self.a_buf = self.finish(self.kernel(s, self.exact), int(self.weight_exp[0]))

    def finish(self, a: np.ndarray, weight_exp: int) -> np.ndarray:
        raise NotImplementedError


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyConvModelFastFixed(AbstractFastConvModel):
    """Integer convolution, ``weight_exp`` shift, 24-bit wrap (Lava's ``Conv`` semantics)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)

    def finish(self, a: np.ndarray, weight_exp: int) -> np.ndarray:
        a = a.astype(np.int64)
        a = a << weight_exp if weight_exp >= 0 else a >> -weight_exp
        return wrap24(a).astype(np.int32)


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyConvModelFastFloat(AbstractFastConvModel):
    """Real-valued convolution, ``weight * 2^weight_exp``."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    exact = False

    def finish(self, a: np.ndarray, weight_exp: int) -> np.ndarray:
        return a * 2.0**weight_exp


#: The run configuration's ``exception_proc_model_map`` per tag.
FAST_MODELS = {
    "fixed_pt": {Conv: PyConvModelFastFixed},
    "floating_pt": {Conv: PyConvModelFastFloat},
}
