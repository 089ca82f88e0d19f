"""``attention``: spiking self-attention with the optional NSAD denoiser (DS2TA Eq. 6-7).

``inputs = [q, k, v]``, three layers of shape ``(D, H, W)``; tokens are the ``H W`` positions in
row-major order and channel ``h d + c`` is element ``c`` of head ``h``. Per sample, head ``h``
and time step ``t``::

    S[i, j] = sum_c Q[h d + c, i, t] K[h d + c, j, t]            (integers in [0, d])
    A[i, j] = tables[h][S[i, j]]   (nsad)     or   S[i, j]   (none)
    a[h d + c, i, t] = (sum_j A[i, j] V[h d + c, j, t]) 2^(6 - scaleShift)    (weight units)

then a CUBA LIF (no bias). A product of two dynamic spike trains has no synapse on Loihi 2; in
Lava it is one :class:`~lava_ds2ta.proc.attention.process.SpikingAttention` process (same step,
no latency) feeding Lava's LIF.

Operations (``ops``), event-driven, per sample, head and step: ``qk = sum S`` (every coincident
pair of a Q and a K spike in a channel adds one to an entry of ``S``); ``lookup`` = nonzero
entries of ``S`` (NSAD only; every entry for a head whose ``AD_h[0] != 0``); ``av`` = sum over V
spikes ``(c, j)`` of the nonzero entries of column ``j`` of ``A`` (each adds one entry to an
output); ``map_entries`` = ``heads x tokens^2`` and ``map_nonzero`` = nonzero entries of ``A``,
whose ratio is the attention-map sparsity of DS2TA's Table 3. A non-spiking network computes
``Q K^T`` and ``A V`` densely: ``2 tokens^2 D`` multiply-accumulates.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.fixed_point import SCALE_SHIFT_MAX
from lava_ds2ta.fixed_point import WEIGHT_EXP
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import OpKind
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.cuba import NeuronLayer
from lava_ds2ta.proc.attention.process import SpikingAttention

#: Bound on NSAD table entries (the map ``A`` times ``V`` stays far inside 24 bits).
TABLE_LIMIT = 1 << 15


def split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    """``N, D, H, W, T`` -> ``N, heads, d, tokens, T`` (tokens in row-major grid order)."""
    n, dim, hh, ww, t = x.shape
    return x.reshape(n, heads, dim // heads, hh * ww, t)


def attention_map(q: np.ndarray, k: np.ndarray, heads: int, tables) -> tuple[np.ndarray, ...]:
    """``(S, A)``: ``S = Q_h K_h^T`` and ``A = tables[h][S]`` (``A = S`` for ``tables`` None)
    per head and time step, int64 ``N, heads, T, tokens, tokens``; ``q``, ``k`` are
    ``N, D, H, W, T`` spikes."""
    s = np.einsum("nhcit,nhcjt->nhtij", split_heads(q, heads), split_heads(k, heads))
    if tables is None:
        return s, s
    tab = np.asarray(tables, np.int64)
    return s, tab[np.arange(heads).reshape(1, -1, 1, 1, 1), s]


def attention_current(q, k, v, heads: int, tables, shift: int) -> np.ndarray:
    """``(A V) 2^(6 - shift)`` with ``A`` of :func:`attention_map`; ``q, k, v`` are
    ``N, D, H, W, T`` spikes; int64 result in weight units."""
    _, a = attention_map(q, k, heads, tables)
    out = np.einsum("nhtij,nhcjt->nhcit", a, split_heads(v, heads)).reshape(v.shape)
    return out * (1 << (WEIGHT_EXP - shift))


def attention_ops(q, k, v, heads: int, tables) -> dict[str, float]:
    """The attention core's operations on the spikes that occurred (module docstring)."""
    s, a = attention_map(q, k, heads, tables)
    qk = np.einsum("nhct,nhct->", *(split_heads(z, heads).sum(axis=3) for z in (q, k)))
    looked_up = 0
    if tables is not None:
        every = np.asarray(tables)[:, 0] != 0  # heads whose zero entries map elsewhere
        looked_up = np.count_nonzero(s[:, ~every]) + s[:, every].size
    column_nonzero = np.count_nonzero(a, axis=3)  # N, heads, T, tokens (j)
    v_spikes = np.count_nonzero(split_heads(v, heads), axis=2)  # N, heads, tokens, T
    return {
        "qk": float(qk),
        "lookup": float(looked_up),
        "av": float(np.einsum("nhtj,nhjt->", column_nonzero, v_spikes)),
        "map_entries": float(a.size),
        "map_nonzero": float(np.count_nonzero(a)),
    }


@register("attention")
class AttentionLayer(NeuronLayer):
    """Spiking self-attention core (``Q K^T``, NSAD lookup, ``A V``, shift) + attention LIF."""

    op_kinds = {
        "qk": OpKind("Q K^T: one accumulate per coincident Q and K spike pair (the sum of the "
                     "map S)", "ac"),  # fmt: skip
        "lookup": OpKind("NSAD table lookups: one per nonzero entry of S (every entry of a head "
                         "whose AD_h[0] is not 0)", "ac"),  # fmt: skip
        "av": OpKind("A V: one accumulate per V spike and nonzero map entry in its column", "ac"),
        "map_entries": OpKind("attention-map entries: heads x tokens^2 x time steps", "none"),
        "map_nonzero": OpKind("nonzero attention-map entries (A after NSAD, S without)", "none"),
    }


    num_inputs = (3, 3)
    fields = (
        Field("numHeads", "heads", lo=1, hi=SIZE_MAX),
        Field("headDim", "d = D / heads", lo=1, hi=SIZE_MAX),
        Field("scaleShift", "attention scale 2^-scaleShift (0.125 is 3)", lo=0,
              hi=SCALE_SHIFT_MAX),  # fmt: skip
        Field("denoiser", "'none' (Spikformer) or 'nsad' (DS2TA)", "str", choices=("none", "nsad")),
        Field("tables", "(heads, d + 1) NSAD tables AD_h[s] (only for nsad)", "ints",
              lo=-TABLE_LIMIT, hi=TABLE_LIMIT, required=False, dtype="int32"),  # fmt: skip
    )

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        p = layer.params
        heads, d = int(p["numHeads"]), int(p["headDim"])
        for j in layer.inputs:
            if spec.layers[j].shape != tuple(layer.shape):
                fail(f"input {j} has shape {spec.layers[j].shape}, the attention has {layer.shape}")
        if layer.shape[0] != heads * d:
            fail(f"{layer.shape[0]} channels are not numHeads {heads} x headDim {d}")
        if (p["denoiser"] == "nsad") != ("tables" in p):
            fail("NSAD tables must be present exactly when denoiser is 'nsad'")
        if "tables" in p and np.shape(p["tables"]) != (heads, d + 1):
            fail(f"NSAD tables have shape {np.shape(p['tables'])}, expected {(heads, d + 1)} "
                 "(numHeads, headDim + 1)")  # fmt: skip

    @staticmethod
    def tables(layer: LayerSpec) -> np.ndarray | None:
        return np.asarray(layer.params["tables"]) if layer.params["denoiser"] == "nsad" else None

    def current(self, layer: LayerSpec, inputs: list[np.ndarray]) -> np.ndarray:
        p = layer.params
        return attention_current(*inputs, int(p["numHeads"]), self.tables(layer),
                                 int(p["scaleShift"]))  # fmt: skip

    def synapse_ops(self, layer: LayerSpec, inputs: list[np.ndarray]) -> dict[str, float]:
        return attention_ops(*inputs, int(layer.params["numHeads"]), self.tables(layer))

    def dense_macs(self, layer: LayerSpec) -> int:
        return 2 * int(np.prod(layer.shape[1:])) ** 2 * int(layer.shape[0])

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """The product ``Q K^T``, the table lookup and ``A V`` on host/embedded cores
        (``2 D N^2`` multiply-accumulates per step), the current sent as graded messages to the
        attention LIF on neuro cores through one input synapse per neuron."""
        p = layer.params
        heads, d = int(p["numHeads"]), int(p["headDim"])
        tokens = int(np.prod(layer.shape[1:]))
        tables = self.tables(layer)
        top = d if tables is None else int(np.abs(tables).max(initial=0))
        bound = tokens * top * (1 << (WEIGHT_EXP - int(p["scaleShift"])))
        n = layer.size
        return Usage(
            place="neuro+host", neurons=n, grid=tuple(layer.shape),
            groups=[SynapseGroup("identity", "host current", np.ones(n, np.int64), axons=n)],
            connections=n, fan_in=1, fan_out=1, neuron=layer.neuron,
            graded={"attention current (bound)": bound},
            host_macs=2 * heads * d * tokens * tokens, tables=tables,
            note="Q K^T, NSAD lookup and A V on host/embedded cores",
        )  # fmt: skip

    def synapse(self, layer: LayerSpec, inputs: list[Signal], net: Builder):
        p = layer.params
        att = SpikingAttention(
            num_heads=int(p["numHeads"]),
            head_dim=int(p["headDim"]),
            tokens=int(np.prod(layer.shape[1:])),
            tables=self.tables(layer),
            scale_shift=int(p["scaleShift"]),
            name=layer.name,
        )
        latency = max(s.latency for s in inputs)
        for s, port in zip(inputs, (att.q_in, att.k_in, att.v_in), strict=True):
            net.connect(s, port, latency)
        net.add(att)
        return att.a_out, latency
