"""The operation counter: a dispatcher over the layer types of a network file.

Every layer's :meth:`~lava_ds2ta.layers.base.LayerType.ops` counts what it did on the spikes that
actually occurred (its inputs' outputs and its own output, ``N, C, H, W, T`` integers); this
module completes a run's recording, adds the counts up, prices them (:mod:`.energy`) and derives
DS2TA's Table 3 (attention-map sparsity and energy per block) and MA-SNN's NASAR.

Conventions (docs/report.md): counts are totals over the ``N`` samples given, and per inference
(divided by ``N``) in :func:`summarize`. The layers reading the network's input are its encoding
layers: when that input is a real-valued image (``inputLevels > 1``: the levels encode ``x`` in
``[0, 1]``), their synaptic operations are multiply-accumulates (``mac``), as papers count the
first layer of a directly coded SNN; event counts (``inputLevels = 1``, DVS) stay accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lava_ds2ta.errors import InputError
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import layer_type
from lava_ds2ta.report.energy import ATTENTION_KINDS
from lava_ds2ta.report.energy import E_MAC_INT8_PJ
from lava_ds2ta.report.energy import E_MAC_PJ
from lava_ds2ta.report.energy import PJ_PER_NJ
from lava_ds2ta.report.energy import accumulates
from lava_ds2ta.report.energy import energy_nj
from lava_ds2ta.report.energy import multiply_accumulates
from lava_ds2ta.report.energy import price
from lava_ds2ta.report.energy import table3_energy_nj


@dataclass
class LayerCount:
    """One layer's counts: ``ops`` by kind, totals over the samples; ``dense_macs`` of the
    equally sized non-spiking layer, per inference; ``neurons`` its output size; ``spiking``
    whether its output is a spiking neuron layer of the model (a CUBA neuron: counted in
    NASAR; a max-pool's OR neurons, sums and the readout are not)."""

    index: int
    name: str
    type: str
    neurons: int
    ops: dict[str, float]
    dense_macs: int
    spiking: bool = False


def complete_outputs(
    spec: NetworkSpec, levels: np.ndarray, recorded: dict[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """Every layer's output from a recording of some of them.

    ``levels`` are the input levels ``N, C, H, W, T``; ``recorded`` maps layer indices to
    outputs (a Lava run records the layers with neurons). The others, layer types without a
    neuron (the input, residual sums, pooling, reshapes, the readout), are exact functions of
    their inputs and are filled in by their ``reference``. A layer with a neuron that was not
    recorded raises :class:`InputError`.
    """
    out: dict[int, np.ndarray] = {}
    for layer in spec.layers:
        if layer.index in recorded:
            out[layer.index] = recorded[layer.index]
            continue
        kind = layer_type(layer.type)
        if kind.has_neuron:
            raise InputError(
                f"layer {layer.index} ({layer.name}) has no recorded spikes to count: "
                "run with recording on"
            )
        ins = [out[j] for j in layer.inputs] if layer.inputs else [levels]
        out[layer.index] = kind.reference(layer, ins, None)
    return out


def reads_image(spec: NetworkSpec, layer: LayerSpec) -> bool:
    """Whether ``layer`` reads the network's input as a real-valued image (module docstring)."""
    return any(
        spec.layers[j].type == "input"
        and spec.layers[j].neuron is None
        and int(spec.layers[j].params.get("inputLevels", 1)) > 1
        for j in layer.inputs
    )


def count_layers(spec: NetworkSpec, outputs: dict[int, np.ndarray]) -> list[LayerCount]:
    """Count every layer's operations on ``outputs`` (every layer's output, as
    :func:`complete_outputs` gives them); totals over the samples."""
    rows = []
    for layer in spec.layers:
        kind = layer_type(layer.type)
        ops = kind.ops(layer, [outputs[j] for j in layer.inputs], outputs[layer.index])
        if "syn" in ops and reads_image(spec, layer):
            ops["mac"] = ops.pop("syn")
        for name in ops:
            price(name)  # every counted kind is declared (and priced) by some layer type
        spiking = kind.has_neuron and "neuron_updates" in ops
        rows.append(LayerCount(layer.index, layer.name, layer.type, layer.size, ops,
                               kind.dense_macs(layer), spiking))  # fmt: skip
    return rows


def _per_inference(ops: dict[str, float], samples: int) -> dict[str, float]:
    return {k: v / samples for k, v in ops.items()}


def layer_rows(counts: list[LayerCount], samples: int, time_steps: int) -> list[dict[str, Any]]:
    """Per layer and inference: operations by kind, activity rate (messages per output value
    and step, ``None`` for the readout), energy (nJ) and the non-spiking network's MACs and
    energy at 8 bits (nJ)."""
    rows = []
    for c in counts:
        ops = _per_inference(c.ops, samples)
        rate = ops["spikes"] / (c.neurons * time_steps) if "spikes" in ops else None
        rows.append({
            "index": c.index, "name": c.name, "type": c.type, "neurons": c.neurons,
            "rate": rate, "ops": ops, "energy_nj": energy_nj(ops),
            "ann_macs": c.dense_macs, "ann_energy_nj": c.dense_macs * E_MAC_INT8_PJ / PJ_PER_NJ,
        })  # fmt: skip
    return rows


def block_rows(counts: list[LayerCount], samples: int) -> list[dict[str, Any]]:
    """DS2TA's Table 3, one row per attention layer (block): the attention-map sparsity, our
    ``#OPs`` (map entries per inference), the paper's energy model ``E_AC x #OPs x (1 -
    sparsity)`` and the energy of the attention operations measured (``qk``, ``lookup``,
    ``av``), nanojoules per inference."""
    rows = []
    for c in (c for c in counts if "map_entries" in c.ops):
        ops = _per_inference(c.ops, samples)
        sparsity = 1.0 - ops["map_nonzero"] / ops["map_entries"]
        rows.append({
            "block": len(rows), "index": c.index, "name": c.name, "sparsity": sparsity,
            "ops": ops["map_entries"], "energy_nj": table3_energy_nj(ops["map_entries"], sparsity),
            "attention_ops": accumulates(ops, ATTENTION_KINDS),
            "attention_energy_nj": energy_nj(ops, ATTENTION_KINDS),
        })  # fmt: skip
    return rows


def totals(counts: list[LayerCount], samples: int) -> dict[str, Any]:
    """Whole network per inference: operations by kind, SOPs (synaptic accumulates), energy
    (nJ), the non-spiking network's MACs and energy at 32-bit float (``E_MAC``) and 8-bit
    integer MACs (nJ), and NASAR (spikes / (neurons x T) over the spiking layers; ``None``
    for a network without any)."""
    ops: dict[str, float] = {}
    for c in counts:
        for k, v in c.ops.items():
            ops[k] = ops.get(k, 0.0) + v / samples
    macs = sum(c.dense_macs for c in counts)
    spiking = [c.ops for c in counts if c.spiking]
    fired = sum(o["spikes"] for o in spiking)
    updates = sum(o["neuron_updates"] for o in spiking)
    return {
        "ops": ops,
        "sops": ops.get("syn", 0.0),
        "accumulates": accumulates(ops),
        "multiply_accumulates": multiply_accumulates(ops),
        "energy_nj": energy_nj(ops),
        "ann_macs": macs,
        "ann_energy_nj_fp32": macs * E_MAC_PJ / PJ_PER_NJ,
        "ann_energy_nj_int8": macs * E_MAC_INT8_PJ / PJ_PER_NJ,
        "nasar": fired / updates if updates else None,
    }


def summarize(spec: NetworkSpec, counts: list[LayerCount], samples: int) -> dict[str, Any]:
    """The JSON-ready report of one network's counts: ``layers``, ``blocks`` (Table 3) and
    ``totals``, all per inference."""
    t = spec.time_steps or 1
    return {
        "layers": layer_rows(counts, samples, t),
        "blocks": block_rows(counts, samples),
        "totals": totals(counts, samples),
    }
