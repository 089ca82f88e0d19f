"""ProcessModels of :class:`GatedLIF`: bit-accurate fixed point and floating point.

Every step is vectorised over the layer's neurons: the pooling is a reshape and a sum, the gates
pool the whole map at once (:mod:`lava_ds2ta.gate.reference`, whose integer functions the
fixed-point model calls, so that the process and the reference are one arithmetic). Lava's ports
and Vars hold maps as ``(X, Y, C)``; the models compute on views in the reference's
``(1, C, H, W)`` layout.
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

from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import LOGIT_LIMIT
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.gate.reference import avg_pool
from lava_ds2ta.gate.reference import correlate_same
from lava_ds2ta.gate.reference import gated_step
from lava_ds2ta.gate.reference import temporal_gating
from lava_ds2ta.proc.gate.process import GatedLIF


def to_map(a: np.ndarray) -> np.ndarray:
    """``(X, Y, C)`` (Lava) -> ``(1, C, H, W)`` (a view)."""
    return a.transpose(2, 1, 0)[None]


def to_lava(z: np.ndarray) -> np.ndarray:
    """``(1, C, H, W)`` -> ``(X, Y, C)`` (a view)."""
    return z[0].transpose(2, 1, 0)


class AbstractGatedLIFModel(PyLoihiProcessModel):
    a_in = None
    s_out = None
    bias = None
    ta_w0 = None
    ta_w1 = None
    ca_w0 = None
    ca_w1 = None
    sa_w = None
    v = None
    x_buf = None
    gated = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.input_shape = tuple(int(n) for n in p["input_shape"])
        self.pool, self.gates = int(p["pool"]), str(p["gates"])
        self.keep, self.vth = DECAY_SCALE - int(p["v_decay"]), int(p["vth"])
        self.period = p["reset_interval"]
        self.offset = int(p["reset_offset"]) % self.period if self.period else None
        self.steps = int(p["time_steps"] or 0)

    def run_spk(self) -> None:
        x = self.layer_input(to_map(self.a_in.recv().reshape(self.input_shape)))
        if "T" in self.gates:
            # The sample's X arrive at phases 0 .. T-1; its gated X' leave at phases T .. 2T-1
            # (modulo the period: streamed, period T, they leave with the next sample's X).
            phase = (self.time_step - self.offset) % self.period
            out = (phase - self.steps) % self.period
            if out == 0:  # the sample is complete: gate all its steps, fresh neurons
                xs = self.x_buf.transpose(3, 2, 1, 0)[None]  # 1, C, H, W, T
                self.gated[:] = self.temporal(xs)[0].transpose(3, 2, 1, 0)
                self.v[:] = 0
            if phase < self.steps:
                self.x_buf[phase] = to_lava(x)
            x = to_map(self.gated[out]) if out < self.steps else np.zeros_like(x)
        elif self.period and self.time_step % self.period == self.offset:  # a new sample
            self.v[:] = 0
        s, v = self.step(to_map(self.v), x)
        self.v[:] = to_lava(v)
        self.s_out.send(to_lava(s).reshape(-1))

    def layer_input(self, a: np.ndarray) -> np.ndarray:
        """``X`` of the convolution's current ``a`` ``(1, C, H, W)``: pooling and bias."""
        raise NotImplementedError

    def temporal(self, x: np.ndarray) -> np.ndarray:
        """TA applied to a whole sample ``(1, C, H, W, T)``."""
        raise NotImplementedError

    def step(self, v: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One neuron step with CA and SA: ``(spikes, next v)``."""
        raise NotImplementedError


@implements(proc=GatedLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGatedLIFModelFixed(AbstractGatedLIFModel):
    """Integer arithmetic of :func:`lava_ds2ta.gate.reference.gated_lif`, one step at a time."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64)
    ta_w0: np.ndarray = LavaPyType(np.ndarray, np.int64)
    ta_w1: np.ndarray = LavaPyType(np.ndarray, np.int64)
    ca_w0: np.ndarray = LavaPyType(np.ndarray, np.int64)
    ca_w1: np.ndarray = LavaPyType(np.ndarray, np.int64)
    sa_w: np.ndarray = LavaPyType(np.ndarray, np.int64)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64)
    x_buf: np.ndarray = LavaPyType(np.ndarray, np.int64)
    gated: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def layer_input(self, a: np.ndarray) -> np.ndarray:
        x = avg_pool(W_SCALE * a.astype(np.int64)[..., None], self.pool)[..., 0]
        return x + W_SCALE * self.bias.astype(np.int64)[None, :, None, None]

    def temporal(self, x: np.ndarray) -> np.ndarray:
        return temporal_gating(x, self.ta_w0, self.ta_w1)

    def step(self, v: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ca = (self.ca_w0, self.ca_w1) if "C" in self.gates else None
        sa = self.sa_w if "S" in self.gates else None
        s, v, _ = gated_step(v, x, self.keep, W_SCALE * self.vth, ca, sa)
        return s, v


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT)))


@implements(proc=GatedLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGatedLIFModelFloat(AbstractGatedLIFModel):
    """The same layer in real units: real weights ``mantissa / W_SCALE``, real sigmoid gates
    ``sigmoid(MLP(avg) + MLP(max))`` and products, no rounding."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    ta_w0: np.ndarray = LavaPyType(np.ndarray, float)
    ta_w1: np.ndarray = LavaPyType(np.ndarray, float)
    ca_w0: np.ndarray = LavaPyType(np.ndarray, float)
    ca_w1: np.ndarray = LavaPyType(np.ndarray, float)
    sa_w: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    x_buf: np.ndarray = LavaPyType(np.ndarray, float)
    gated: np.ndarray = LavaPyType(np.ndarray, float)

    def layer_input(self, a: np.ndarray) -> np.ndarray:
        n, c, h, w = a.shape
        k = self.pool
        x = a.reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))
        return x + self.bias[None, :, None, None] / W_SCALE

    @staticmethod
    def mlp_gate(p_avg: np.ndarray, p_max: np.ndarray, w0: np.ndarray, w1: np.ndarray):
        """``sigmoid(W1 (ReLU(W0 p_avg) + ReLU(W0 p_max)))``, real weights."""
        w0, w1 = w0 / W_SCALE, w1 / W_SCALE
        hidden = np.maximum(p_avg @ w0.T, 0) + np.maximum(p_max @ w0.T, 0)
        return _sigmoid(hidden @ w1.T)

    def temporal(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        g = self.mlp_gate(flat.mean(axis=1), flat.max(axis=1), self.ta_w0, self.ta_w1)
        return x * g[:, None, None, None, :]

    def step(self, v: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = v * (self.keep / DECAY_SCALE) + x
        if "C" in self.gates:
            u = u * self.mlp_gate(u.mean(axis=(2, 3)), u.max(axis=(2, 3)), self.ca_w0,
                                  self.ca_w1)[:, :, None, None]  # fmt: skip
        if "S" in self.gates:
            maps = np.stack([u.mean(axis=1), u.max(axis=1)], axis=1)
            u = u * _sigmoid(correlate_same(maps, self.sa_w / W_SCALE))[:, None]
        s = (u > self.vth / W_SCALE).astype(float)
        return s, np.where(s > 0, 0.0, u)
