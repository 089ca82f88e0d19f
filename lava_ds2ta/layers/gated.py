"""``gatedConv``: an MA-SNN layer (Yao et al., TPAMI 2023, Eq. 4, 5, 14): convolution, average
pooling of the current, bias, then the CUBA LIF with its optional gates TA, CA and SA.

All datasets of ``conv`` plus ``pool`` and the gates' 8-bit mantissas (each gate present exactly
when its datasets are). With ``a`` the ``conv`` current (weight units), in state units::

    X     = round_div(64 sum_{pool x pool window} a, pool^2) + 64 bias
    X'    = round_div(g_t(X) X, 256)                                TA (taW0, taW1): all T steps
    U[t]  = trunc0(V[t-1] (4096 - vDecay) / 4096) + X'[t]
    U[t]  = round_div(g_c(U[t]) U[t], 256)                          CA (caW0, caW1)
    U[t]  = round_div(g_s(U[t]) U[t], 256)                          SA (saWeight)
    S[t]  = U[t] > 64 vThMant;   V[t] = 0 where S[t]

with the gates of :mod:`lava_ds2ta.gate.reference` (docs/ma-snn.md, docs/hdf5-format.md). The
neuron has no current memory (``iDecay`` 4096). Lava: Lava's shared-weight ``Conv`` (one step)
feeding one :class:`~lava_ds2ta.proc.gate.process.GatedLIF` process (in the hardware form through
graded relay neurons, Lava's ``GradedVec``); TA buffers the sample's ``T`` steps, so a layer with
TA answers ``T`` steps later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lava_ds2ta.errors import ExportError
from lava_ds2ta.errors import StateOverflowError
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import STATE_LIMIT
from lava_ds2ta.fixed_point import W_MAX
from lava_ds2ta.fixed_point import W_MIN
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.gate.reference import avg_pool
from lava_ds2ta.gate.reference import gated_lif
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import OpKind
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.conv import ConvLayer
from lava_ds2ta.layers.conv import conv2d
from lava_ds2ta.layers.conv import conv_weight
from lava_ds2ta.proc.gate.process import GatedLIF


def _mantissas(name: str, doc: str) -> Field:
    return Field(name, doc, "ints", lo=W_MIN, hi=W_MAX, required=False, dtype="int16")


#: The gates' datasets, per gated dimension.
GATE_FIELDS = {"T": ("taW0", "taW1"), "C": ("caW0", "caW1"), "S": ("saWeight",)}


@register("gatedConv")
class GatedConvLayer(ConvLayer):
    """Convolution + average pooling + CUBA LIF gated by MA-SNN's TA, CA and SA."""

    fields = ConvLayer.fields + (
        Field(
            "pool",
            "k of the k x k average pooling (stride k) of the current; 1: none",
            lo=1,
            hi=SIZE_MAX,
        ),  # fmt: skip
        _mantissas("taW0", "(T/r_t, T) TA: the MLP's first layer, 8-bit mantissas"),
        _mantissas("taW1", "(T, T/r_t) TA: the MLP's second layer"),
        _mantissas("caW0", "(C/r_c, C) CA: the MLP's first layer"),
        _mantissas("caW1", "(C, C/r_c) CA: the MLP's second layer"),
        _mantissas("saWeight", "(1, 2, k, k) SA: the convolution over [mean_c U; max_c U]"),
    )

    def write(self, handle, shape: tuple[int, ...], **values: Any) -> None:
        for names in GATE_FIELDS.values():
            for key in names:
                if key in values and np.any(np.asarray(values[key]) % 2):
                    raise ExportError(f"{self.name} layer: {key} are not even 8-bit mantissas")
        super().write(handle, shape, **values)

    # ----------------------------------------------------------------------- file side
    @staticmethod
    def dims(layer: LayerSpec) -> str:
        """The gated dimensions present, a subset of ``"TCS"``."""
        return "".join(d for d, names in GATE_FIELDS.items() if names[0] in layer.params)

    def output_shape(self, layer: LayerSpec, conv_out: tuple[int, int, int], fail: Failure):
        k = int(layer.params["pool"])
        if conv_out[1] % k or conv_out[2] % k:
            fail(f"the convolution's output {conv_out} is not divisible by pool {k}")
        return (conv_out[0], conv_out[1] // k, conv_out[2] // k)

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        super().check(layer, spec, fail)
        p, c = layer.params, int(layer.params["outChannels"])
        if int(layer.neuron["iDecay"]) != DECAY_SCALE:
            fail(f"neuron/iDecay is {layer.neuron['iDecay']}, a gated layer has no current "
                 f"memory ({DECAY_SCALE})")  # fmt: skip
        for dim, names in GATE_FIELDS.items():
            present = [k for k in names if k in p]
            if present and len(present) != len(names):
                fail(f"{dim}A needs {' and '.join(names)}, found only {present[0]}")
            if spec.version > 0 and any(np.any(np.asarray(p[k]) % 2) for k in present):
                fail(f"{dim}A weights are not even 8-bit mantissas")
        for (w0, w1), features, what in ((("taW0", "taW1"), spec.time_steps, "T = timeSteps"),
                                          (("caW0", "caW1"), c, "C = outChannels")):  # fmt: skip
            if w0 not in p:
                continue
            if features is None:
                fail("TA needs the network's timeSteps (the input layer's)")
            s0, s1 = np.shape(p[w0]), np.shape(p[w1])
            if len(s0) != 2 or s0[1] != features or s1 != (features, s0[0]):
                fail(f"{w0} {s0} and {w1} {s1} must be (h, F) and (F, h) with F = {what} "
                     f"({features})")  # fmt: skip
        if "saWeight" in p:
            s = np.shape(p["saWeight"])
            if len(s) != 4 or s[:2] != (1, 2) or s[2] != s[3] or s[2] % 2 == 0:
                fail(f"saWeight has shape {s}, expected (1, 2, k, k) with k odd")

    @staticmethod
    def gates(layer: LayerSpec) -> dict[str, Any]:
        """``ta``, ``ca`` (``(w0, w1)``) and ``sa`` mantissas as int64, ``None`` when absent."""
        p = layer.params

        def get(key: str) -> np.ndarray:
            return np.rint(np.asarray(p[key])).astype(np.int64)

        return dict(
            ta=(get("taW0"), get("taW1")) if "taW0" in p else None,
            ca=(get("caW0"), get("caW1")) if "caW0" in p else None,
            sa=get("saWeight") if "saWeight" in p else None,
        )

    op_kinds = {
        "pool": OpKind("average pooling of the current: one accumulate per pre-pooling value "
                       "and step", "ac"),
        "gate": OpKind("MA-SNN gates on real-valued potentials: pooling over the gated axes "
                       "(mean and max), the MLPs or the k x k convolution, and the gate "
                       "products, every step", "mac"),
    }  # fmt: skip

    def gate_macs(self, layer: LayerSpec, time_steps: int) -> int:
        """Multiply-accumulates of the gates per step: each gate's pooling (mean and max,
        ``2 C H W``), its MLP (TA's, spread over the ``T`` steps) or ``k x k`` convolution, and
        its product (``C H W``)."""
        c, h, w = (int(v) for v in layer.shape)
        n, gates, macs = c * h * w, self.gates(layer), 0
        if gates["ta"] is not None:
            macs += 3 * n + -(-2 * (gates["ta"][0].size + gates["ta"][1].size) // time_steps)
        if gates["ca"] is not None:
            macs += 3 * n + 2 * (gates["ca"][0].size + gates["ca"][1].size)
        if gates["sa"] is not None:
            macs += 3 * n + gates["sa"].size * h * w
        return macs

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """The convolution on neuro cores into graded relay neurons (one per pre-pooling output;
        their messages carry the current ``a``); pooling, gates and the gated LIF on
        host/embedded cores: a gate multiplies two dynamic values, which neuro-core synapses
        cannot. ``host_macs`` per step: the pooling (one per relay) and :meth:`gate_macs`."""
        conv = super().usage(layer, spec)
        k = int(layer.params["pool"])
        c, h, w = (int(v) for v in layer.shape)
        relays = layer.size * k * k
        weight = np.abs(conv_weight(layer)).astype(np.int64)
        bound = int(weight.reshape(weight.shape[0], -1).sum(axis=1).max(initial=0))
        return Usage(
            place="neuro+host", neurons=relays, grid=(c, h * k, w * k), groups=conv.groups,
            connections=relays * conv.fan_in, fan_in=conv.fan_in, fan_out=conv.fan_out,
            graded={"synaptic current per unit input (bound)": bound},
            host_macs=relays + self.gate_macs(layer, int(spec.time_steps or 1)),
            note=f"gates {self.dims(layer) or '-'} and the gated LIF on host/embedded cores",
        )  # fmt: skip

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        """The convolution's synaptic events, the pooling, the gates' work and the neurons."""
        n, t = output.shape[0], output.shape[-1]
        k = int(layer.params["pool"])
        return {
            **super().ops(layer, inputs, output),
            "pool": float(n * t * layer.size * k * k) if k > 1 else 0.0,
            "gate": float(n * t * self.gate_macs(layer, t)),
        }

    def dense_macs(self, layer: LayerSpec) -> int:
        """The convolution before pooling, as a non-spiking network computes it."""
        return super().dense_macs(layer) * int(layer.params["pool"]) ** 2

    def delay_steps(self, layer: LayerSpec, spec: NetworkSpec) -> int:
        return int(spec.time_steps or 0) if "taW0" in layer.params else 0

    # ---------------------------------------------------------------------- reference
    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        a = conv2d(inputs[0], conv_weight(layer), self.geometry(layer))
        bias = np.asarray(layer.params.get("bias", 0), np.int64).reshape(-1)
        bias = np.broadcast_to(bias, (a.shape[1],)).reshape(1, -1, 1, 1, 1)
        x = avg_pool(W_SCALE * a, int(layer.params["pool"])) + W_SCALE * bias
        neuron, seen = layer.neuron, {}
        s = gated_lif(x, int(neuron["vDecay"]), W_SCALE * int(neuron["vThMant"]),
                      **self.gates(layer), stats=seen)  # fmt: skip
        if seen["u_max"] >= STATE_LIMIT or seen["x_max"] >= STATE_LIMIT:
            raise StateOverflowError(
                f"layer {layer.index} ({layer.name}): potential reached 2^23 (|X'| "
                f"{seen['x_max']}, |U| {seen['u_max']}); Lava would wrap it: reduce weights"
            )
        if stats is not None:
            stats[layer.index] = {"a_max": int(np.abs(a).max(initial=0)),
                                  "u_max": seen["x_max"], "v_max": seen["u_max"]}  # fmt: skip
        return s

    # --------------------------------------------------------------------------- Lava
    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        net.require_cuba(layer, layer.neuron)
        gates = self.gates(layer)
        if gates["ta"] is not None and not net.period:
            net.fail(layer, "TA needs the network's timeSteps")
        port, _ = net.conv(layer, conv_weight(layer), x, self.geometry(layer))
        latency = x.latency + 1
        k = int(layer.params["pool"])
        c, h, w = layer.shape
        bias = np.broadcast_to(np.asarray(layer.params.get("bias", 0), np.int64).reshape(-1), (c,))
        proc = GatedLIF(
            input_shape=(w * k, h * k, c), pool=k, bias=bias,
            v_decay=int(layer.neuron["vDecay"]), vth=int(layer.neuron["vThMant"]),
            reset_interval=net.period, reset_offset=net.reset_offset(latency),
            time_steps=net.spec.time_steps, name=layer.name or f"layer{layer.index}", **gates,
        )  # fmt: skip
        net.host_input(port, proc.name).connect(proc.a_in)
        net.add(proc)
        out = latency + self.delay_steps(layer, net.spec)
        return Signal([(proc.s_out, out)], layer.shape, probe=proc.s_out)
