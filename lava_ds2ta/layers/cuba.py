"""The CUBA LIF neuron that every spiking layer type shares: schema, reference, Lava process.

Semantics (Lava's ``PyLifModelBitAcc``, equal to SLAYER's CUBA neuron in eval mode), integers in
state units (weight units times ``W_SCALE``)::

    u[t] = trunc0(u[t-1] (4096 - iDecay) / 4096) + 64 a[t]
    v[t] = trunc0(v[t-1] (4096 - vDecay) / 4096) + u[t] + 64 bias
    s[t] = v[t] > 64 vThMant;   v[t] = 0 where s[t]

``trunc0`` rounds toward zero. :class:`NeuronLayer` is the base of every layer type made of a
synapse (``current`` / ``synapse``) followed by this neuron.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.proc.lif.process import LIF
from lava.proc.lif.process import LIFReset

from lava_ds2ta.errors import ExportError
from lava_ds2ta.errors import StateOverflowError
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import STATE_LIMIT
from lava_ds2ta.fixed_point import VTH_MAX
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.fixed_point import WEIGHT_EXP
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import Signal

#: Largest ``refDelay`` (Loihi's refractory delay field is 8 bits wide).
REF_DELAY_MAX = 255

#: Datasets of the ``neuron/`` group (lava-dl's ``device_params`` of a CUBA neuron).
NEURON_FIELDS = (
    Field("type", "neuron model (netx writes LOIHI for older CUBA files)", "str",
          choices=("CUBA", "LOIHI")),  # fmt: skip
    Field("iDecay", "current decay, 12 bits (4096: no current memory)", lo=0, hi=DECAY_SCALE),
    Field("vDecay", "voltage decay, 12 bits (4096 / tau_m)", lo=0, hi=DECAY_SCALE),
    Field("vThMant", "threshold in weight units (threshold x 64)", lo=1, hi=VTH_MAX),
    Field("refDelay", "refractory delay (informational; 1)", lo=0, hi=REF_DELAY_MAX,
          required=False),  # fmt: skip
    Field("gradedSpike", "graded output spikes (must be false)", lo=0, hi=0, required=False),
)


def is_cuba(neuron: dict[str, Any] | None) -> bool:
    """A CUBA neuron group (lava-dl writes ``CUBA`` or, in older files, ``LOIHI``)."""
    return neuron is not None and str(neuron.get("type")) in ("CUBA", "LOIHI")


def check_neuron(neuron: dict[str, Any] | None, fail: Failure) -> None:
    """Every ``neuron/`` dataset present and in range."""
    for f in NEURON_FIELDS:
        if f.name not in (neuron or {}):
            if f.required:
                fail(f"missing dataset 'neuron/{f.name}'")
            continue
        problem = f.problem(neuron[f.name])
        if problem is not None:
            fail(f"neuron/{f.name} {problem}")


def trunc_decay(x: np.ndarray, decay: int) -> np.ndarray:
    """``trunc0(x (4096 - decay) / 4096)``: Loihi's 12-bit decay, rounding toward zero."""
    y = x * (DECAY_SCALE - int(decay))
    return np.sign(y) * np.right_shift(np.abs(y), 12)


def lif_reference(
    a: np.ndarray,
    neuron: dict[str, Any],
    bias: np.ndarray | None,
    name: str = "",
    recurrent: np.ndarray | None = None,
):
    """CUBA LIF on currents ``a`` (``N, C, [H, W,] T``, weight units).

    Returns binary spikes (same shape) and the largest ``|u|``, ``|v|`` reached (state units);
    raises :class:`StateOverflowError` where Lava would wrap or clip a 24-bit state.
    ``bias`` is per channel ``(C,)`` in weight units, or ``None``. ``recurrent`` (``C x C``, for
    vectors ``N, C, T``) adds ``recurrent @ s[t-1]`` to the current (netx ``dense_rec``).
    """
    n, c = a.shape[:2]
    b = np.zeros(c, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    b = (W_SCALE * np.broadcast_to(b, (c,))).reshape(1, c, *([1] * (a.ndim - 3)))
    vth = W_SCALE * int(neuron["vThMant"])
    u = np.zeros(a.shape[:-1], np.int64)
    v = np.zeros(a.shape[:-1], np.int64)
    s = np.zeros(a.shape, np.int64)
    umax = vmax = 0
    for t in range(a.shape[-1]):
        at = a[..., t] if recurrent is None or t == 0 else a[..., t] + s[..., t - 1] @ recurrent.T
        u = trunc_decay(u, neuron["iDecay"]) + W_SCALE * at
        v = trunc_decay(v, neuron["vDecay"]) + u + b
        umax, vmax = max(umax, int(np.abs(u).max())), max(vmax, int(np.abs(v).max()))
        if umax >= STATE_LIMIT or vmax >= STATE_LIMIT:
            raise StateOverflowError(
                f"layer {name}: neuron state reached 2^23 at time step {t} "
                f"(|u| {umax}, |v| {vmax}); Lava would wrap/clip it: reduce weights or inputs"
            )
        spk = v > vth
        s[..., t] = spk
        v = np.where(spk, 0, v)
    return s, umax, vmax


def lava_lif(
    neuron: dict[str, Any],
    n: int,
    bias: np.ndarray | None,
    fixed: bool,
    reset: tuple[int, int] | None,
    name: str,
) -> LIF:
    """Lava's ``LIF`` (or ``LIFReset`` when ``reset = (interval, offset)``) for a CUBA neuron.

    Fixed point follows netx's mapping: ``du = iDecay - 1`` (Lava adds one), ``dv = vDecay``,
    ``vth = vThMant``, ``bias_mant = bias`` with ``bias_exp = 6``. Floating point uses real
    units: decays ``/ 4096``, threshold and bias ``/ 64``. ``bias`` is per neuron (``n``) or
    per channel (the same for every position of flat ``W, H, C`` vectors: channels vary fastest).
    """
    b = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    b = np.tile(b, n // b.size) if b.size != n else b
    if fixed:
        params: dict[str, Any] = dict(
            du=int(neuron["iDecay"]) - 1,
            dv=int(neuron["vDecay"]),
            vth=int(neuron["vThMant"]),
            bias_mant=b.astype(np.int32),
            bias_exp=WEIGHT_EXP,
        )
    else:
        params = dict(
            du=neuron["iDecay"] / DECAY_SCALE,
            dv=neuron["vDecay"] / DECAY_SCALE,
            vth=neuron["vThMant"] / W_SCALE,
            bias_mant=b / W_SCALE,
            bias_exp=0,
        )
    if reset is None:
        return LIF(shape=(n,), name=name, **params)
    return LIFReset(shape=(n,), name=name, reset_interval=reset[0], reset_offset=reset[1], **params)


def neuron_ops(output: np.ndarray) -> dict[str, float]:
    """Every neuron updates at every step; each spike is one message (``output``: the layer's
    spikes, ``N, C, H, W, T``)."""
    return {"neuron_updates": float(output.size), "spikes": float(np.count_nonzero(output))}


class NeuronLayer(LayerType):
    """A synapse (computing the current ``a`` in weight units) followed by a CUBA LIF.

    Subclasses implement :meth:`current` (reference), :meth:`synapse` (Lava) and
    :meth:`synapse_ops` (operation counts); the neuron part, its per-channel ``bias`` (optional
    dataset, weight units), recording and neuron counts are shared.
    """

    has_neuron = True

    def current(self, layer: LayerSpec, inputs: list[np.ndarray]) -> np.ndarray:
        """Input current of the neurons, ``N, C, H, W, T`` int64 in weight units."""
        raise NotImplementedError

    def synapse(self, layer: LayerSpec, inputs: list[Signal], net: Builder):
        """Lava processes computing the current; returns ``(OutPort, latency)``: the port that
        carries ``a`` and the latency at which the neurons receive a sample's first step."""
        raise NotImplementedError

    def write(self, handle, shape: tuple[int, ...], **values: Any) -> None:
        neuron = values.get("neuron") or {}
        for f in NEURON_FIELDS:
            problem = f.problem(neuron[f.name]) if f.name in neuron else None
            if problem is not None:
                raise ExportError(f"{self.name} layer: neuron/{f.name} {problem}")
        super().write(handle, shape, **values)

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        a = self.current(layer, inputs)
        s, umax, vmax = lif_reference(
            a, layer.neuron, layer.params.get("bias"), f"{layer.index} ({layer.name})"
        )
        if stats is not None:
            stats[layer.index] = {"a_max": int(np.abs(a).max()), "u_max": umax, "v_max": vmax}
        return s

    def synapse_ops(self, layer: LayerSpec, inputs: list[np.ndarray]) -> dict[str, float]:
        """The synapse's operations on the inputs that occurred (:meth:`LayerType.ops`); the
        default counts none."""
        return {}

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        return {**self.synapse_ops(layer, inputs), **neuron_ops(output)}

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        port, latency = self.synapse(layer, inputs, net)
        lif = net.lif(layer, layer.size, latency, layer.params.get("bias"))
        port.connect(lif.a_in)
        return Signal([(lif.s_out, latency)], layer.shape, probe=lif.s_out)
