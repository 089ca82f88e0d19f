"""Energy conventions for counted operations (docs/report.md).

The 45 nm figures that spiking-transformer papers compare with (Horowitz, "Computing's energy
problem", ISSCC 2014, 0.9 V): a 32-bit float add ``E_AC`` = 0.9 pJ, a 32-bit float multiply
(3.7 pJ) plus add ``E_MAC`` = 4.6 pJ. An 8-bit integer multiply (0.2 pJ) plus add (0.03 pJ),
``E_MAC_INT8`` = 0.23 pJ, prices the equally sized non-spiking 8-bit network.

Which counted kind (:data:`lava_ds2ta.layers.base.OP_KINDS`) costs what: every accumulate
(``syn``, ``qk``, ``av``, ``add``) and NSAD lookup (a read of a ``d + 1``-entry table, charged as
one add) costs ``E_AC``; ``mac`` (the synapses of the encoding layer, whose input is the image)
costs ``E_MAC``; neuron updates and messages cost nothing under this convention (they are
counted for hardware models that price them).
"""

from __future__ import annotations

from collections.abc import Mapping

#: Energy of an accumulate (32-bit float add, 45 nm), picojoules.
E_AC_PJ = 0.9
#: Energy of a multiply-accumulate (32-bit float multiply + add, 45 nm), picojoules.
E_MAC_PJ = 4.6
#: Energy of an 8-bit integer multiply-accumulate (45 nm), picojoules.
E_MAC_INT8_PJ = 0.23
#: Counted kinds charged ``E_AC`` each; a new layer type adds its kind here (MA-SNN: ``gate``).
AC_KINDS = ("syn", "qk", "lookup", "av", "add")
#: Counted kinds charged ``E_MAC`` each.
MAC_KINDS = ("mac",)
#: The attention-map computations of DS2TA's Table 3.
ATTENTION_KINDS = ("qk", "lookup", "av")
#: Picojoules per nanojoule.
PJ_PER_NJ = 1000.0
#: The conventions, as the JSON report states them.
CONVENTIONS = {
    "E_AC_pJ": E_AC_PJ,
    "E_MAC_pJ": E_MAC_PJ,
    "E_MAC_int8_pJ": E_MAC_INT8_PJ,
    "source": "Horowitz, ISSCC 2014, 45 nm: 32-bit float add, 32-bit float multiply + add, "
    "8-bit integer multiply + add",
    "accumulates": list(AC_KINDS),
    "multiply_accumulates": list(MAC_KINDS),
    "table3": "energy = E_AC x #OPs x (1 - sparsity), #OPs = heads x tokens^2 x T map entries",
}


def accumulates(ops: Mapping[str, float], kinds=AC_KINDS) -> float:
    """The ``E_AC``-priced operations among ``ops`` (of ``kinds``)."""
    return float(sum(ops.get(k, 0.0) for k in kinds))


def energy_nj(ops: Mapping[str, float], kinds=AC_KINDS) -> float:
    """``E_AC x accumulates + E_MAC x multiply-accumulates``, nanojoules (``kinds`` restricts
    the accumulates counted)."""
    macs = sum(ops.get(k, 0.0) for k in MAC_KINDS)
    return (E_AC_PJ * accumulates(ops, kinds) + E_MAC_PJ * macs) / PJ_PER_NJ


def table3_energy_nj(ops_count: float, sparsity: float) -> float:
    """DS2TA's Table 3 model ``E_AC x #OPs x (1 - sparsity)``, nanojoules."""
    return E_AC_PJ * ops_count * (1.0 - sparsity) / PJ_PER_NJ
