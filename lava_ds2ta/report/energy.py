"""Energy conventions for counted operations (docs/report.md).

The 45 nm figures that spiking-transformer papers compare with (Horowitz, "Computing's energy
problem", ISSCC 2014, 0.9 V): a 32-bit float add ``E_AC`` = 0.9 pJ, a 32-bit float multiply
(3.7 pJ) plus add ``E_MAC`` = 4.6 pJ. An 8-bit integer multiply (0.2 pJ) plus add (0.03 pJ),
``E_MAC_INT8`` = 0.23 pJ, prices the equally sized non-spiking 8-bit network.

Which counted kind costs what is declared with the kind itself
(:class:`lava_ds2ta.layers.base.OpKind`, in :data:`~lava_ds2ta.layers.base.OP_KINDS` or a layer
type's ``op_kinds``): ``"ac"`` kinds (synaptic accumulates, ``Q K^T`` and ``A V`` entries, NSAD
lookups, residual sums) cost ``E_AC``; ``"mac"`` kinds (the encoding layer's synapses, whose
input is the real-valued image) ``E_MAC``; ``"none"`` kinds (neuron updates, messages, map
sizes) nothing under this convention: they are counted for rates and hardware models.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

from lava_ds2ta.errors import FormatError
from lava_ds2ta.layers.base import op_kinds

#: Energy of an accumulate (32-bit float add, 45 nm), picojoules.
E_AC_PJ = 0.9
#: Energy of a multiply-accumulate (32-bit float multiply + add, 45 nm), picojoules.
E_MAC_PJ = 4.6
#: Energy of an 8-bit integer multiply-accumulate (45 nm), picojoules.
E_MAC_INT8_PJ = 0.23
#: Price category -> picojoules per operation.
PRICE_PJ = {"ac": E_AC_PJ, "mac": E_MAC_PJ, "none": 0.0}
#: The attention-map computations of DS2TA's Table 3 (kinds of the ``attention`` layer type).
ATTENTION_KINDS = ("qk", "lookup", "av")
#: Picojoules per nanojoule.
PJ_PER_NJ = 1000.0


def price(kind: str) -> str:
    """The price category (``"ac"``, ``"mac"``, ``"none"``) of a counted kind; a kind no layer
    type declares raises :class:`FormatError` (a count nobody prices would be dropped silently)."""
    try:
        return op_kinds()[kind].price
    except KeyError:
        raise FormatError(
            f"operation kind {kind!r} is declared by no layer type: declare it in the layer "
            "type's op_kinds"
        ) from None


def of_price(ops: Mapping[str, float], category: str, kinds: Iterable[str] | None = None) -> float:
    """The operations among ``ops`` (only ``kinds``, if given) priced ``category``."""
    keep = None if kinds is None else set(kinds)
    return float(sum(v for k, v in ops.items()
                     if price(k) == category and (keep is None or k in keep)))  # fmt: skip


def accumulates(ops: Mapping[str, float], kinds: Iterable[str] | None = None) -> float:
    """The ``E_AC``-priced operations among ``ops`` (only ``kinds``, if given)."""
    return of_price(ops, "ac", kinds)


def multiply_accumulates(ops: Mapping[str, float]) -> float:
    """The ``E_MAC``-priced operations among ``ops``."""
    return of_price(ops, "mac")


def energy_nj(ops: Mapping[str, float], kinds: Iterable[str] | None = None) -> float:
    """``sum over kinds of count x price``, nanojoules (``kinds`` restricts the kinds)."""
    return sum(PRICE_PJ[c] * of_price(ops, c, kinds) for c in PRICE_PJ) / PJ_PER_NJ


def table3_energy_nj(ops_count: float, sparsity: float) -> float:
    """DS2TA's Table 3 model ``E_AC x #OPs x (1 - sparsity)``, nanojoules."""
    return E_AC_PJ * ops_count * (1.0 - sparsity) / PJ_PER_NJ


def conventions() -> dict:
    """The conventions as the JSON report states them, with every counted kind's meaning and
    price."""
    return {
        "E_AC_pJ": E_AC_PJ,
        "E_MAC_pJ": E_MAC_PJ,
        "E_MAC_int8_pJ": E_MAC_INT8_PJ,
        "source": "Horowitz, Computing's energy problem, ISSCC 2014, 45 nm: 32-bit float add "
        "(E_AC), 32-bit float multiply + add (E_MAC), 8-bit integer multiply + add (E_MAC_int8)",
        "kinds": {k: {"meaning": op.meaning, "price": op.price} for k, op in op_kinds().items()},
        "table3": "energy = E_AC x #OPs x (1 - sparsity), #OPs = heads x tokens^2 x T map "
        "entries per inference, sparsity = zero entries of A / #OPs",
        "ann": "the same layers non-spiking, one pass: E_MAC_int8 (and E_MAC) per MAC",
    }
