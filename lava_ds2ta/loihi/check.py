"""``ds2ta-loihi check``: Loihi 2 constraints and a resource estimate of a network file.

For every layer: where it runs (neuro cores, host/embedded cores, or nowhere), neurons, synapses
as Loihi 2 stores them (a conv kernel once per core), connections, synaptic memory, cores
(:func:`~lava_ds2ta.loihi.resources.estimate_cores`), fan-in/fan-out, graded message bits and,
with data, the measured ``u``/``v`` headroom against 24 bits; then the totals and the chips. The
limits a layer breaks are listed one line each (:func:`~lava_ds2ta.loihi.resources.violations`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from lava_ds2ta.errors import StateOverflowError
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.fixed_point import STATE_LIMIT
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import layer_type
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.loihi.resources import Budget
from lava_ds2ta.loihi.resources import bits_for
from lava_ds2ta.loihi.resources import budget_dict
from lava_ds2ta.loihi.resources import estimate_cores
from lava_ds2ta.loihi.resources import headroom_violations
from lava_ds2ta.loihi.resources import synmem_units
from lava_ds2ta.loihi.resources import violations
from lava_ds2ta.loihi.resources import weight_format

#: Bytes of one synaptic-memory unit (64 bits).
UNIT_BYTES = 8


@dataclass
class CheckReport:
    """Per-layer rows, totals and violations (``as_dict`` is the ``--json`` output)."""

    network: str
    budget: Budget
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    measured: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "budget": budget_dict(self.budget),
            "layers": self.rows,
            "totals": self.totals,
            "violations": self.violations,
            "headroom_measured": self.measured,
        }


def _where(layer) -> str:
    return f"layer {layer.index} ({layer.name})" if layer.name else f"layer {layer.index}"


def _headroom(stats: dict[str, int] | None) -> float | None:
    """Bits of headroom of the largest ``|u|``/``|v|`` below 2^23 (``None``: not measured)."""
    if not stats:
        return None
    top = max(stats.get("u_max", 0), stats.get("v_max", 0), 1)
    return round(math.log2(STATE_LIMIT / top), 2)


def check_network(
    spec: NetworkSpec,
    budget: Budget | None = None,
    levels: np.ndarray | None = None,
    skip_layers: int = 0,
) -> CheckReport:
    """Check ``spec`` against Loihi 2 and estimate its resources; ``levels`` (``N, C, H, W, T``
    integer inputs) runs the integer reference to measure ``u``/``v`` and the currents.
    The first ``skip_layers`` layers are left off the chip (lava-dl netx's ``skip_layers``: an
    input encoder the host runs) and counted as host work without cores."""
    budget = budget or Budget()
    report = CheckReport(str(spec.path), budget)
    stats: dict[int, dict[str, int]] = {}
    if levels is not None:
        report.measured = True
        try:
            simulate(spec, levels, stats)
        except StateOverflowError as exc:
            failed = spec.layers[len(stats)] if len(stats) < len(spec.layers) else spec.layers[-1]
            report.violations.append(f"{_where(failed)}: {exc}; over Loihi 2's 24-bit state")
    for layer in spec.layers:
        usage = layer_type(layer.type).usage(layer, spec)
        if layer.index < skip_layers:
            usage = Usage(place="host", note="off the chip (skip_layers): run by the host")
        where = _where(layer)
        cores = estimate_cores(usage, budget)
        st = stats.get(layer.index)
        graded = dict(usage.graded)
        if st and usage.place == "neuro+host":
            graded["host-side current (measured)"] = st["a_max"]
        problems = violations(usage, where, budget)
        if st:
            problems += headroom_violations(st, where)
        report.violations += problems
        stored = 0
        for g in usage.groups:
            if g.kind == "conv":
                stored += cores.count * g.taps * g.replicas * min(cores.tile[0], g.channels)
            else:
                stored += g.nonzero
        units_total = cores.count * cores.units
        report.rows.append({
            "index": layer.index,
            "name": layer.name,
            "type": layer.type,
            "place": usage.place,
            "neurons": usage.neurons,
            "synapses": stored,
            "connections": usage.connections,
            "synmem_bytes": units_total * UNIT_BYTES,
            "synmem_units_per_core": cores.units,
            "cores": cores.count,
            "tile": list(cores.tile),
            "neurons_per_core": cores.neurons,
            "fan_in": usage.fan_in,
            "fan_out": usage.fan_out,
            "weight_bits": max((weight_format(g.weights)[0] for g in usage.groups), default=0),
            "max_delay": max((g.delay for g in usage.groups), default=0),
            "message_bits": {k: bits_for(v) for k, v in graded.items()},
            "host_macs_per_step": usage.host_macs,
            "u_v_headroom_bits": _headroom(st),
            "ok": not problems,
            "note": usage.note,
        })  # fmt: skip
    rows = report.rows
    cores = sum(r["cores"] for r in rows)
    report.totals = {
        "neurons": sum(r["neurons"] for r in rows),
        "synapses": sum(r["synapses"] for r in rows),
        "connections": sum(r["connections"] for r in rows),
        "synmem_bytes": sum(r["synmem_bytes"] for r in rows),
        "cores": cores,
        "chips": max(1, -(-cores // budget.cores_per_chip)),
        "host_layers": [r["name"] or r["index"] for r in rows if "host" in r["place"]],
        "host_macs_per_step": sum(r["host_macs_per_step"] for r in rows),
        "violations": len(report.violations),
    }
    return report


def _units(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}T"


def format_table(report: CheckReport) -> str:
    """The terminal table: one row per layer, then the totals and the violations."""
    head = (f"{'#':>3} {'layer':<22} {'type':<12} {'runs on':<10} {'neurons':>8} {'synapses':>8} "
            f"{'SynMem':>8} {'cores':>5} {'tile':<12} {'fan-in':>6} {'w bits':>6} {'delay':>5} "
            f"{'msg bits':>8} {'u/v room':>8}")  # fmt: skip
    lines = [f"Loihi 2 check of {report.network}", head, "-" * len(head)]
    for r in report.rows:
        msg = max(r["message_bits"].values(), default=0)
        room = r["u_v_headroom_bits"]
        lines.append(
            f"{r['index']:>3} {(r['name'] or '-')[:22]:<22} {r['type'][:12]:<12} "
            f"{r['place']:<10} {_units(r['neurons']):>8} {_units(r['synapses']):>8} "
            f"{_units(r['synmem_bytes']) + 'B':>8} {r['cores']:>5} "
            f"{'x'.join(map(str, r['tile'])) or '-':<12} {r['fan_in']:>6} "
            f"{r['weight_bits'] or '-':>6} {r['max_delay']:>5} {msg or '-':>8} "
            f"{'-' if room is None else f'{room:.1f}':>8}"
        )
    t, b = report.totals, report.budget
    lines.append("-" * len(head))
    lines.append(
        f"total: {_units(t['neurons'])} neurons, {_units(t['synapses'])} synapses stored "
        f"({_units(t['connections'])} connections), {_units(t['synmem_bytes'])}B synaptic memory, "
        f"{t['cores']} neuro cores = {t['chips']} Loihi 2 chip(s) at {b.cores_per_chip} cores each"
    )
    if t["host_layers"]:
        lines.append(
            f"host/embedded: {', '.join(map(str, t['host_layers']))} "
            f"({_units(t['host_macs_per_step'])} multiply-accumulates per step)"
        )
    lines.append(
        f"budgets (assumptions, override with --neurons-per-core/--synmem-units): "
        f"< {b.neurons_per_core} neurons and {b.synmem_units} x 64-bit SynMem words per core"
    )
    if not report.measured:
        lines.append("u/v headroom not measured: pass --data to run the integer reference")
    if report.violations:
        lines.append(f"{len(report.violations)} Loihi 2 constraint violation(s):")
        lines += [f"  {v}" for v in report.violations]
    else:
        lines.append("all Loihi 2 constraints hold")
    return "\n".join(lines)


__all__ = ["CheckReport", "check_network", "format_table", "synmem_units"]
