"""Loihi 2 limits, per-core budgets and the resource model (cores and chips per layer).

Every layer type describes what it needs (``LayerType.usage`` -> ``Usage``:
neurons, synapse groups, weights, delays, graded messages, host work); this module turns that
into neuro cores with the budgets below and lists the hardware limits a layer breaks.

Sources (docs/loihi2.md quotes them): the hardware limits are Loihi 2's published figures (8-bit
weights with a shared exponent, 24-bit ``u``/``v``, 12-bit decays, 24-bit graded spikes, delays up
to 62, 8192 neurons per core); the per-core *budgets* are those of Intel's compiler as its logs in
lava-dl's PilotNet SDNN benchmark show them (12,000 synaptic-memory units of 64 bits per core;
conv tiles below 4096 neurons); 120 neuro cores and 3 embedded cores per chip are the limits of
Lava's own mapper (``lava/magma/compiler/subcompilers/constants.py``). Budgets are assumptions
the user can override (:class:`Budget`).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from dataclasses import dataclass

import numpy as np

from lava_ds2ta.fixed_point import BIAS_MAX
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import DELAY_MAX
from lava_ds2ta.fixed_point import STATE_LIMIT
from lava_ds2ta.fixed_point import VTH_MAX
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import Usage

#: Bits of a weight mantissa (sign included for mixed-sign weights).
WEIGHT_BITS = 8
#: Range of the shared weight exponent (the exponent a synapse group adds to its mantissas).
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7
#: Bits of a graded spike's payload (Lava's ``num_message_bits`` reaches 24).
MESSAGE_BITS = 24
#: Hardware maximum of neurons per neuro core.
NEURONS_PER_CORE_MAX = 8192
#: Bits of a synapse's index and header in a dense synapse word (fit of the compiler's logs:
#: ``ceil((n (b + 12) + 10) / 64)`` 64-bit units per input axon for ``n`` neurons of ``b`` bits).
DENSE_INDEX_BITS, DENSE_HEADER_BITS = 12, 10
#: Bits of one synaptic-memory unit.
WORD_BITS = 64


@dataclass(frozen=True)
class Budget:
    """Per-core and per-chip budgets of the resource model (overridable assumptions).

    ``neurons_per_core``: a core's tile holds fewer neurons than this (Intel's compiler: the conv
    tiles of PilotNet SDNN stay below 4096, the hardware allows 8192); ``synmem_units``: 64-bit
    words of synaptic memory per core (12,000 in the compiler's cost database); ``axons_per_core``:
    input axons per core; ``cores_per_chip`` and ``embedded_per_chip`` as Lava's mapper counts.
    """

    neurons_per_core: int = 4096
    synmem_units: int = 12000
    axons_per_core: int = 16000
    cores_per_chip: int = 120
    embedded_per_chip: int = 3


# ------------------------------------------------------------------------------- weights
def weight_format(w: np.ndarray) -> tuple[int, int]:
    """``(bits, exponent)``: the fewest mantissa bits (sign included for mixed signs) and the
    shared exponent ``e`` with ``w = m 2^e`` for integer mantissas ``m`` (Loihi 2 stores ``m``)."""
    w = np.asarray(w, np.int64)
    nz = w[w != 0]
    if nz.size == 0:
        return 1, 0
    e = 0
    while e < 16 and np.all(nz % (1 << (e + 1)) == 0):
        e += 1
    m = nz >> e
    mixed = bool(m.min() < 0 < m.max())
    bits = int(np.abs(m).max()).bit_length() + (1 if mixed else 0)
    if mixed and (m.min() == -(1 << (bits - 2))) and m.max() < (1 << (bits - 2)):
        bits -= 1  # two's complement reaches -2^(b-1) with b bits
    return bits, e


def synmem_units(group: SynapseGroup, neurons: int, channels: int) -> int:
    """64-bit words one core spends on ``group`` for ``neurons`` of its neurons (``channels``
    output channels of a conv tile). Conv: ``ceil(channels b / 64)`` words per kernel tap and
    input population; dense: ``ceil((n (b + 12) + 10) / 64)`` words per input axon; identity
    (one synapse per axon): one word per neuron."""
    bits = min(weight_format(group.weights)[0], WEIGHT_BITS)
    if group.kind == "conv":
        return group.taps * group.replicas * math.ceil(channels * bits / WORD_BITS)
    if group.kind == "identity":
        return neurons
    per_axon = math.ceil((neurons * (bits + DENSE_INDEX_BITS) + DENSE_HEADER_BITS) / WORD_BITS)
    return group.axons * per_axon


# ------------------------------------------------------------------------------- cores
@dataclass
class Cores:
    """The cores of one layer: ``count``, the per-core ``tile`` (``C, H, W`` for maps, ``(n,)``
    for vectors), neurons and synaptic-memory words per core, and input axons per core."""

    count: int
    tile: tuple[int, ...]
    neurons: int
    units: int
    axons: int


def _pow2_below(limit: float, cap: int) -> int:
    """The largest power of two ``p <= cap`` with ``p < limit`` (at least 1), or ``cap`` itself
    when ``cap < limit``."""
    if cap < limit:
        return cap
    p = 1
    while p * 2 < limit and p * 2 <= cap:
        p *= 2
    return p


def _pow2(limit: float, cap: int) -> int:
    """The largest power of two ``p <= cap`` with ``p < limit`` (at least 1)."""
    p = 1
    while p * 2 < limit and p * 2 <= cap:
        p *= 2
    return p


def estimate_cores(usage: Usage, budget: Budget) -> Cores:
    """Cores for a layer's neurons (0 for a layer without neurons on neuro cores).

    Maps (``C, H, W``) are tiled as Intel's compiler tiles PilotNet's convolutions: all channels,
    full height, the width cut to a power of two (always, even when all of it would fit) so that
    a tile holds fewer than
    ``neurons_per_core`` neurons (height, then channels, are cut first when a row does not fit);
    the channels are halved until the tile's synaptic memory fits. Vectors are split as the
    compiler's log shows: start with one core, multiply the number of parts by
    ``ceil(words / budget)`` until every part fits.
    """
    axons = sum(g.axons for g in usage.groups)
    if usage.neurons == 0:
        return Cores(0, (), 0, 0, 0)
    nb = budget.neurons_per_core
    if len(usage.grid) == 3:
        c_full, h_full, w_full = usage.grid
        c = c_full
        while True:
            c = min(c, _pow2_below(nb, c))
            h = _pow2_below(nb / c, h_full)
            w = _pow2(nb / (c * h), w_full)
            units = sum(synmem_units(g, c * h * w, c) for g in usage.groups)
            if units <= budget.synmem_units or c == 1:
                break
            c = -(-c // 2)
        count = -(-c_full // c) * -(-h_full // h) * -(-w_full // w)
        return Cores(count, (c, h, w), c * h * w, units, axons)
    n = usage.neurons
    parts = max(1, -(-n // (nb - 1)))
    for _ in range(64):
        per = -(-n // parts)
        units = sum(synmem_units(g, per, per) for g in usage.groups)
        if units <= budget.synmem_units or per == 1:
            break
        parts = min(n, parts * -(-units // budget.synmem_units))
    return Cores(parts, (per,), per, units, axons)


# ------------------------------------------------------------------------------- limits
def bits_for(value: int) -> int:
    """Bits of a signed message carrying magnitudes up to ``value``."""
    return int(abs(int(value))).bit_length() + 1


def violations(usage: Usage, where: str, budget: Budget) -> list[str]:
    """Every Loihi 2 limit ``usage`` breaks, one line each, naming ``where`` and the value."""
    out: list[str] = []
    for g in usage.groups:
        bits, e = weight_format(g.weights)
        if bits > WEIGHT_BITS:
            top = int(np.abs(np.asarray(g.weights)).max())
            out.append(f"{where}: {g.label} weights need {bits}-bit mantissas (|w| up to {top} "
                       f"with exponent {e}), Loihi 2 stores {WEIGHT_BITS}")  # fmt: skip
        exp = e + g.exponent
        if not WEIGHT_EXP_MIN <= exp <= WEIGHT_EXP_MAX:
            out.append(f"{where}: {g.label} needs weight exponent {exp}, outside "
                       f"[{WEIGHT_EXP_MIN}, {WEIGHT_EXP_MAX}]")  # fmt: skip
        if g.delay > DELAY_MAX:
            out.append(f"{where}: {g.label} has a synaptic delay of {g.delay}, "
                       f"Loihi 2 allows at most {DELAY_MAX}")  # fmt: skip
        if g.kind == "dense" and g.axons > budget.axons_per_core:
            out.append(f"{where}: {g.label} reads {g.axons} input axons, over "
                       f"{budget.axons_per_core} per core")  # fmt: skip
    n = usage.neuron
    if n is not None and str(n.get("type")) in ("CUBA", "LOIHI"):
        i_decay, v_decay, vth = int(n["iDecay"]), int(n["vDecay"]), int(n["vThMant"])
        if not 1 <= i_decay <= DECAY_SCALE:
            out.append(f"{where}: iDecay {i_decay} is not a 12-bit current decay "
                       f"(Loihi 2's du = iDecay - 1 lies in [0, {DECAY_SCALE - 1}])")  # fmt: skip
        if not 0 <= v_decay < DECAY_SCALE:
            out.append(f"{where}: vDecay {v_decay} is not a 12-bit voltage decay "
                       f"(Loihi 2's dv lies in [0, {DECAY_SCALE - 1}])")  # fmt: skip
        if not 0 <= vth <= VTH_MAX:
            out.append(f"{where}: threshold vThMant {vth} outside [0, {VTH_MAX}] (17 bits)")
    if usage.bias is not None and np.size(usage.bias):
        top = int(np.abs(np.asarray(usage.bias, np.int64)).max())
        if top > BIAS_MAX:
            out.append(f"{where}: bias {top} outside the 13-bit mantissa [-{BIAS_MAX}, {BIAS_MAX}]")
    if usage.tables is not None:
        t = np.asarray(usage.tables, np.int64)
        lim = 1 << 15
        bad = t[(t < -lim) | (t >= lim)]
        if bad.size:
            out.append(f"{where}: NSAD table entry {int(bad[0])} outside the 16-bit range "
                       f"[-{lim}, {lim - 1}] of the embedded lookup")  # fmt: skip
    for label, value in usage.graded.items():
        if bits_for(value) > MESSAGE_BITS:
            out.append(f"{where}: {label} reaches {value}, {bits_for(value)} bits: over Loihi 2's "
                       f"{MESSAGE_BITS}-bit graded spikes")  # fmt: skip
    return out


def headroom_violations(stats: dict, where: str) -> list[str]:
    """``u``/``v`` maxima measured by the reference (state units) at or over 2^23."""
    out = []
    for key in ("u_max", "v_max"):
        if stats.get(key, 0) >= STATE_LIMIT:
            out.append(f"{where}: |{key[0]}| reached {stats[key]} on the data, "
                       f"over Loihi 2's 24-bit state (2^23 = {STATE_LIMIT})")  # fmt: skip
    return out


def budget_dict(budget: Budget) -> dict:
    return asdict(budget)
