"""The integer arithmetic of MA-SNN's gates and gated LIF layer, in numpy ``int64``: the reference
that PyTorch's forward pass reproduces bit for bit (and that a Lava process reproduces later).

Units (docs/ma-snn.md): potentials and currents are **state units**, integers ``s`` standing for
``s / STATE_SCALE`` (SLAYER's CUBA grid, 1/4096); weights are 8-bit **mantissas** ``w`` standing
for ``w / W_SCALE``; gates are integers ``g`` in ``[0, 2^GATE_BITS]`` standing for
``g / 2^GATE_BITS``; gate logits are integers in units of ``2^-LOGIT_FRAC_BITS``.

One rounding rule everywhere a value is rescaled or averaged, round half up::

    round_div(a, n) = floor((2 a + n) / (2 n)) = floor(a / n + 1/2)      (n >= 1)

Layouts: ``N, C, [H, W,] T`` for layer tensors (SLAYER), ``N, C, H, W`` for one time step.
"""

from __future__ import annotations

import functools

import numpy as np

from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import GATE_BITS
from lava_ds2ta.fixed_point import LOGIT_FRAC_BITS
from lava_ds2ta.fixed_point import LOGIT_LIMIT
from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.fixed_point import WEIGHT_EXP

#: Largest logit magnitude in logit units: the sigmoid table has ``2 LOGIT_UNITS + 1`` entries.
LOGIT_UNITS = LOGIT_LIMIT << LOGIT_FRAC_BITS
#: ``W_int h`` (weight units times state units) to logit units: a right shift by this many bits.
LOGIT_SHIFT = WEIGHT_EXP + int(np.log2(STATE_SCALE)) - LOGIT_FRAC_BITS


def round_div(a: np.ndarray, n: int) -> np.ndarray:
    """``floor(a / n + 1/2)`` for integers ``a`` and ``n >= 1``, exactly (int64)."""
    return (2 * np.asarray(a, np.int64) + n) // (2 * n)


@functools.lru_cache(maxsize=1)
def sigmoid_table() -> np.ndarray:
    """``table[z + LOGIT_UNITS] = floor(2^GATE_BITS sigmoid(z / 2^LOGIT_FRAC_BITS) + 1/2)`` for
    the integer logits ``z`` in ``[-LOGIT_UNITS, LOGIT_UNITS]`` (int64, read-only): 0 at the lower
    end, ``2^GATE_BITS`` (a gate of exactly one) from ``z = 6.25 * 2^LOGIT_FRAC_BITS`` upward."""
    z = np.arange(-LOGIT_UNITS, LOGIT_UNITS + 1) / (1 << LOGIT_FRAC_BITS)
    table = np.floor((1 << GATE_BITS) / (1.0 + np.exp(-z)) + 0.5).astype(np.int64)
    table.flags.writeable = False
    return table


def gate_lookup(z: np.ndarray) -> np.ndarray:
    """Integer gates ``g`` for integer logits ``z`` (clamped to ``+-LOGIT_UNITS``)."""
    return sigmoid_table()[np.clip(z, -LOGIT_UNITS, LOGIT_UNITS) + LOGIT_UNITS]


def gate_product(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``round_div(g x, 2^GATE_BITS)``: a gated potential or current in state units."""
    return round_div(np.asarray(g, np.int64) * x, 1 << GATE_BITS)


def mlp_logit(p_avg: np.ndarray, p_max: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """``W1 (ReLU(W0 p_avg) + ReLU(W0 p_max))`` in logit units.

    ``p_*``: ``(N, F)`` pooled state units; ``w0`` ``(F/r, F)``, ``w1`` ``(F, F/r)`` mantissas.
    The hidden layer is kept in state units (``round_div(W0 p, W_SCALE)``), the sum of both
    branches is rescaled once (``round_div(W1 h, 2^LOGIT_SHIFT)``).
    """

    def hidden(p: np.ndarray) -> np.ndarray:
        return np.maximum(round_div(np.asarray(p, np.int64) @ w0.T.astype(np.int64), W_SCALE), 0)

    return round_div((hidden(p_avg) + hidden(p_max)) @ w1.T.astype(np.int64), 1 << LOGIT_SHIFT)


def temporal_gate(x: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """TA (Eq. 8-9): integer gates ``(N, T)`` of ``x`` ``(N, C, [H, W,] T)``, pooled over
    ``C, H, W`` at every step (average: ``round_div`` of the sum by the count; maximum)."""
    flat = np.asarray(x, np.int64).reshape(x.shape[0], -1, x.shape[-1])
    avg = round_div(flat.sum(axis=1), flat.shape[1])
    return gate_lookup(mlp_logit(avg, flat.max(axis=1), w0, w1))


def channel_gate(v: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """CA (Eq. 10-11): integer gates ``(N, C)`` of one step's potentials ``v`` ``(N, C, H, W)``,
    pooled over ``H, W``."""
    flat = np.asarray(v, np.int64).reshape(v.shape[0], v.shape[1], -1)
    avg = round_div(flat.sum(axis=2), flat.shape[2])
    return gate_lookup(mlp_logit(avg, flat.max(axis=2), w0, w1))


def spatial_gate(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SA (Eq. 12-13): integer gates ``(N, H, W)`` of one step's potentials ``v`` ``(N, C, H, W)``:
    a ``k x k`` cross-correlation (zero padding ``k // 2``) of ``[round_div(sum_c v, C); max_c v]``
    with the mantissas ``w`` ``(1, 2, k, k)``."""
    v = np.asarray(v, np.int64)
    n, c, h, wd = v.shape
    k = w.shape[-1]
    maps = np.stack([round_div(v.sum(axis=1), c), v.max(axis=1)], axis=1)  # N, 2, H, W
    padded = np.pad(maps, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    acc = np.zeros((n, h, wd), np.int64)
    for i in range(k):
        for j in range(k):
            acc += np.einsum("c,nchw->nhw", w[0, :, i, j].astype(np.int64),
                             padded[:, :, i:i + h, j:j + wd])  # fmt: skip
    return gate_lookup(round_div(acc, 1 << LOGIT_SHIFT))


def avg_pool(x: np.ndarray, k: int) -> np.ndarray:
    """AvgPool of currents in state units ``(N, C, H, W, T)``: ``k x k`` windows, stride ``k``,
    ``round_div`` of each window's sum by ``k^2`` (exact for ``k = 2``: ``W_SCALE`` sums of
    weight-unit currents are multiples of 64)."""
    n, c, h, w, t = x.shape
    windows = np.asarray(x, np.int64).reshape(n, c, h // k, k, w // k, k, t)
    return round_div(windows.sum(axis=(3, 5)), k * k)


def gated_lif(
    x: np.ndarray,
    decay: int,
    vth: int,
    ta: tuple[np.ndarray, np.ndarray] | None = None,
    ca: tuple[np.ndarray, np.ndarray] | None = None,
    sa: np.ndarray | None = None,
) -> np.ndarray:
    """Spikes ``(N, C, H, W, T)`` (int64 0/1) of MA-SNN's gated LIF layer (Eq. 4, 14).

    ``x``: the layer's input ``X`` in state units (the synaptic current after pooling and the
    mean-only norm's bias); ``decay``: ``vDecay`` (out of ``DECAY_SCALE``); ``vth``: the threshold
    in state units; ``ta``/``ca``: ``(w0, w1)`` MLP mantissas; ``sa``: the conv mantissas::

        X'    = gate_product(g_t(X), X)                                  (all T steps first)
        U[t]  = trunc(V[t-1] (DECAY_SCALE - decay) / DECAY_SCALE) + X'[t]
        U[t]  = gate_product(g_c(U[t]), U[t]);  U[t] = gate_product(g_s(U[t]), U[t])
        S[t]  = U[t] > vth;  V[t] = U[t] (1 - S[t])                      (hard reset)
    """
    x = np.asarray(x, np.int64)
    if ta is not None:
        x = gate_product(temporal_gate(x, *ta)[:, None, None, None, :], x)
    keep = DECAY_SCALE - int(decay)
    v = np.zeros(x.shape[:-1], np.int64)
    spikes = np.zeros(x.shape, np.int64)
    for t in range(x.shape[-1]):
        decayed = v * keep
        u = np.sign(decayed) * (np.abs(decayed) // DECAY_SCALE) + x[..., t]
        if ca is not None:
            u = gate_product(channel_gate(u, *ca)[:, :, None, None], u)
        if sa is not None:
            u = gate_product(spatial_gate(u, sa)[:, None], u)
        spikes[..., t] = u > vth
        v = np.where(spikes[..., t] == 1, 0, u)
    return spikes
