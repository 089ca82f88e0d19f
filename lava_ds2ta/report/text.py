"""The terminal tables of ``ds2ta-report``: DS2TA's Table 3 per block, then per network its
operations and energy per layer and the totals (all per inference)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lava_ds2ta.report.energy import E_AC_PJ
from lava_ds2ta.report.energy import E_MAC_INT8_PJ
from lava_ds2ta.report.energy import E_MAC_PJ
from lava_ds2ta.report.energy import accumulates
from lava_ds2ta.report.energy import multiply_accumulates

_BLOCK_COLUMNS = f"{'sparsity':>9} {'#OPs':>10} {'energy nJ':>10} {'measured nJ':>12}"


def _block_cells(block: dict[str, Any] | None) -> str:
    if block is None:
        return " " * len(_BLOCK_COLUMNS)
    return (f"{100 * block['sparsity']:>7.2f} % {block['ops']:>10,.0f} {block['energy_nj']:>10.3f} "
            f"{block['attention_energy_nj']:>12.3f}")  # fmt: skip


def format_blocks(nets: Sequence[dict[str, Any]]) -> list[str]:
    """Table 3: per block and network the attention-map sparsity, ``#OPs``, the paper's energy
    model and the energy of the attention operations counted; with two networks the change of
    the second's Table 3 energy from the first's."""
    depth = max(len(n["blocks"]) for n in nets)
    if depth == 0:
        return []
    lines = [
        "Attention maps, DS2TA Table 3 (per inference): sparsity = zero entries of A; #OPs = "
        "heads x tokens^2 x T map entries;",
        f"  energy = E_AC x #OPs x (1 - sparsity), E_AC = {E_AC_PJ} pJ; measured = E_AC x "
        "(Q K^T + NSAD lookup + A V operations counted)",
        "        " + " | ".join(f"{n['model']:<{len(_BLOCK_COLUMNS)}}" for n in nets),
        "  block " + " | ".join(_BLOCK_COLUMNS for _ in nets)
        + ("   change" if len(nets) == 2 else ""),
    ]
    for b in range(depth):
        blocks = [n["blocks"][b] if b < len(n["blocks"]) else None for n in nets]
        row = f"  {b:>5} " + " | ".join(_block_cells(blk) for blk in blocks)
        if len(nets) == 2 and None not in blocks and blocks[0]["energy_nj"] > 0:
            row += f" {100 * (blocks[1]['energy_nj'] / blocks[0]['energy_nj'] - 1):>+7.1f} %"
        lines.append(row)
    return lines


def format_layers(net: dict[str, Any]) -> list[str]:
    """Per layer: activity rate, accumulates, multiply-accumulates and energy of the SNN, and
    the MACs and energy of the equally sized 8-bit ANN; then the totals and NASAR."""
    lines = [
        f"  per layer, per inference (45 nm: E_AC {E_AC_PJ} pJ, E_MAC {E_MAC_PJ} pJ; ANN: the same "
        f"layers non-spiking, 8-bit MACs at {E_MAC_INT8_PJ} pJ)",
        f"    {'idx':>3} {'name':<22} {'type':<12} {'rate %':>7} {'ACs':>12} {'MACs':>11} "
        f"{'energy nJ':>10} {'ANN MACs':>12} {'ANN nJ':>8}",
    ]
    for r in net["layers"]:
        rate = "" if r["rate"] is None else f"{100 * r['rate']:.2f}"
        macs = multiply_accumulates(r["ops"])
        lines.append(
            f"    {r['index']:>3} {r['name']:<22} {r['type']:<12} {rate:>7} "
            f"{accumulates(r['ops']):>12,.0f} {macs:>11,.0f} {r['energy_nj']:>10.3f} "
            f"{r['ann_macs']:>12,} {r['ann_energy_nj']:>8.3f}"
        )
    t = net["totals"]
    nasar = "n/a" if t["nasar"] is None else f"{100 * t['nasar']:.2f} %"
    lines.append(
        f"    {'':>3} {'total':<22} {'':<12} {'':>7} {accumulates(t['ops']):>12,.0f} "
        f"{multiply_accumulates(t['ops']):>11,.0f} {t['energy_nj']:>10.3f} "
        f"{t['ann_macs']:>12,} {t['ann_energy_nj_int8']:>8.3f}"
    )
    lines.append(
        f"  NASAR {nasar}   SOPs {t['sops']:,.0f}   energy per inference: SNN "
        f"{t['energy_nj']:.3f} nJ | ANN 8-bit {t['ann_energy_nj_int8']:.3f} nJ | ANN at E_MAC "
        f"{t['ann_energy_nj_fp32']:.3f} nJ"
    )
    return lines


def _header(net: dict[str, Any]) -> list[str]:
    lines = [
        f"{net['model']} ({net['network']}): {net['source']} on {net['samples']} {net['data']} "
        f"test samples, accuracy {100 * net['accuracy']:.2f} %"
    ]
    yes = {True: "yes", False: "NO"}
    for check in net["cross_checks"]:
        lines.append(
            f"  cross-check with the {check['source']}: per-layer counts identical "
            f"{yes[check['counts_identical']]}, attention maps identical "
            f"{yes[check['maps_identical']]}, logits identical {yes[check['logits_identical']]}"
        )
    return lines


def format_report(nets: Sequence[dict[str, Any]], files: dict[str, str]) -> str:
    """The whole terminal report."""
    lines: list[str] = []
    for net in nets:
        lines += _header(net) + format_layers(net) + [""]
    lines += format_blocks(nets)
    lines += ["", "written:"] + [f"  {key:<22} {path}" for key, path in files.items()]
    return "\n".join(lines)
