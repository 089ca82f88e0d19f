"""GatedLIF: MA-SNN's gated LIF neurons (Yao et al., TPAMI 2023, Eq. 4, 5, 14) behind a ``Conv``.

TA needs all T steps of the layer's current before its first gate (it is non-causal), and CA, SA
gate the membrane potential inside the neuron's own step: neither is a synapse, so the layer is one
process on the embedded CPU, fed by Lava's shared-weight ``Conv``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

#: Placeholder weights of an absent gate (Lava Vars cannot be empty).
NO_WEIGHTS = np.zeros((1, 1), np.int64)


class GatedLIF(AbstractProcess):
    """MA-SNN's layer after its convolution: ``k x k`` average pooling of the current, the
    per-channel bias, TA over the sample's T steps, then per step ``U = decay(V) + X'``, CA and SA
    on ``U``, fire ``U > vth``, hard reset.

    Fixed point (bit-exact with :func:`lava_ds2ta.gate.reference.gated_lif`), in state units
    (weight units times ``W_SCALE``)::

        X     = round_div(W_SCALE sum_{k x k} a, k^2) + W_SCALE bias
        X'    = round_div(g_t X, 2^GATE_BITS)                          (TA, all T steps)
        U[t]  = trunc0(V[t-1] (DECAY_SCALE - v_decay) / DECAY_SCALE) + X'[t]
        U[t]  = round_div(g_s round_div(g_c U[t], 2^GATE_BITS), 2^GATE_BITS)    (CA, SA)
        S[t]  = U[t] > W_SCALE vth;  V[t] = 0 where S[t]

    Floating point: the same formulas in real units (``a`` real, weights ``mantissa / W_SCALE``,
    real sigmoid gates, no rounding).

    **Latency.** Without TA the spikes of a step leave in the step its current arrives. With TA
    the process buffers a sample's T currents and emits its spikes during the next T steps: the
    output is ``T`` steps later than the input. Samples arrive every ``reset_interval`` steps, the
    first current of one when ``time_step % reset_interval == reset_offset``; the neuron state
    starts anew then (without TA) or when the sample's first gated step leaves (with TA). Streamed
    (``reset_interval = T``) a sample's spikes leave while the next sample's currents arrive; in
    the hardware form (``reset_interval = T + latency``, zero frames after each sample, every
    neuro-core neuron a ``LIFReset`` of the same period) they leave during the steps after its
    ``T``, and the steps after those get no input.

    Parameters
    ----------
    input_shape:
        ``(X, Y, C)`` of the convolution's output; ``a_in`` and ``s_out`` are flat vectors in
        this (Lava's) order, the output map is ``(X / pool, Y / pool, C)``.
    pool:
        ``k`` of the average pooling (1: none).
    bias:
        ``(C,)`` per-channel bias, weight units.
    v_decay, vth:
        ``vDecay`` (out of ``DECAY_SCALE``) and ``vThMant`` (weight units) of the CUBA neuron
        (current decay 1: no current memory).
    ta, ca:
        ``(w0, w1)`` MLP mantissas of TA (``T/r x T``, ``T x T/r``) and CA (``C/r x C``,
        ``C x C/r``), or ``None``.
    sa:
        ``(1, 2, k, k)`` mantissas of SA's convolution, or ``None``.
    reset_interval, reset_offset:
        steps per sample (required with TA; at least ``T``) and the phase of a sample's first
        current.
    time_steps:
        ``T``, the steps TA gates together (default ``reset_interval``).
    """

    def __init__(
        self, *, input_shape: tuple[int, int, int], pool: int, bias: np.ndarray, v_decay: int,
        vth: int, ta: tuple[np.ndarray, np.ndarray] | None = None,
        ca: tuple[np.ndarray, np.ndarray] | None = None, sa: np.ndarray | None = None,
        reset_interval: int | None = None, reset_offset: int = 0, time_steps: int | None = None,
        name: str = "gated_lif",
    ) -> None:  # fmt: skip
        x, y, c = (int(n) for n in input_shape)
        if x % pool or y % pool:
            raise ValueError(f"input {input_shape} is not divisible by the pooling {pool}")
        if ta is not None and not reset_interval:
            raise ValueError("TA needs reset_interval = T (steps per sample)")
        time_steps = int(time_steps or reset_interval or 0)
        if ta is not None and not 0 < time_steps <= reset_interval:
            raise ValueError(f"TA needs 0 < time_steps <= reset_interval, got {time_steps} "
                             f"and {reset_interval}")  # fmt: skip
        gates = "".join(d for d, g in zip("TCS", (ta, ca, sa), strict=True) if g is not None)
        super().__init__(name=name, input_shape=(x, y, c), pool=int(pool), v_decay=int(v_decay),
                         vth=int(vth),
                         gates=gates, reset_interval=reset_interval,
                         reset_offset=int(reset_offset), time_steps=time_steps)  # fmt: skip
        out_shape = (x // pool, y // pool, c)
        steps = time_steps if ta is not None else 1
        self.a_in = InPort(shape=(x * y * c,))
        self.s_out = OutPort(shape=(int(np.prod(out_shape)),))
        self.bias = Var(shape=(c,), init=np.asarray(bias, np.int64).reshape(c))
        ta, ca = ta or (NO_WEIGHTS, NO_WEIGHTS), ca or (NO_WEIGHTS, NO_WEIGHTS)
        sa = NO_WEIGHTS[None, None] if sa is None else sa
        self.ta_w0, self.ta_w1 = (Var(shape=w.shape, init=w) for w in ta)
        self.ca_w0, self.ca_w1 = (Var(shape=w.shape, init=w) for w in ca)
        self.sa_w = Var(shape=sa.shape, init=sa)
        self.v = Var(shape=out_shape, init=0)
        #: The TA buffer: the current sample's inputs X and the previous sample's gated X'.
        self.x_buf = Var(shape=(steps, *out_shape), init=0)
        self.gated = Var(shape=(steps, *out_shape), init=0)
