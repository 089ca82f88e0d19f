"""Check a network against the layer types' schemas: every field, neuron, input and shape.

The reader runs it on every file and the Lava builder on every network it builds (a network may
be assembled in code), so a bad value is one line naming the layer before any Lava process
starts. A layer type states what it needs in its ``fields`` and ``check``.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.layers.base import COMMON_FIELDS
from lava_ds2ta.layers.base import REGISTRY
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.cuba import NEURON_FIELDS
from lava_ds2ta.layers.cuba import check_neuron
from lava_ds2ta.layers.cuba import is_cuba


def validate_network(spec: NetworkSpec) -> None:
    """Raise a one-line :class:`~lava_ds2ta.errors.FormatError` for the first problem."""
    for layer in spec.layers:
        validate_layer(spec, layer)


def validate_layer(spec: NetworkSpec, layer: LayerSpec) -> None:
    """Check ``layer`` against its layer type's schema (fields, neuron, inputs, shapes)."""
    ours = spec.version > 0
    fail = Failure(spec.path, layer)
    kind = REGISTRY.get(layer.type)
    if kind is None:
        if ours:
            fail(f"unknown layer type {layer.type!r} (known: {', '.join(sorted(REGISTRY))})",
                 "use a lava_ds2ta version that knows this layer type")  # fmt: skip
        return  # a netx layer we cannot run: the builder refuses it with one line
    if layer.type == "input" and layer.index > 0:
        fail("only layer 0 can be an 'input' layer")
    if layer.index == 0 and ours and layer.type != "input":
        fail("layer 0 must be the 'input' layer")
    bad = [j for j in layer.inputs if not 0 <= j < layer.index]
    if bad:
        fail(f"input {bad[0]} is not an earlier layer (inputs must be < {layer.index})")
    lo, hi = kind.num_inputs if ours else (min(1, layer.index), 1)
    if not lo <= len(layer.inputs) <= hi:
        fail(f"a {layer.type} layer takes {lo}..{min(hi, 99)} inputs, found {len(layer.inputs)}")
    for f in kind.fields:
        if f.name not in layer.params:
            if f.required and (ours or not f.optional_in_netx):
                fail(f"missing dataset '{f.name}'")
            continue
        problem = f.problem(layer.params[f.name])
        if problem is not None:
            fail(f"{f.name} {problem}")
    if kind.has_neuron and (ours or is_cuba(layer.neuron)):
        check_neuron(layer.neuron, fail)
    _check_other_values(layer, kind, fail)
    kind.check(layer, spec, fail)


def _check_other_values(layer: LayerSpec, kind: LayerType, fail: Failure) -> None:
    """Datasets outside the schema (netx extras such as ``neuron/tauRho``) must be finite."""
    groups = (
        ("", layer.params, {f.name for f in kind.fields}),
        ("neuron/", layer.neuron or {}, {f.name for f in NEURON_FIELDS}),
    )
    for prefix, values, known in groups:
        for key, value in values.items():
            a = np.asarray(value)
            if key not in known and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                fail(f"{prefix}{key} contains NaN or infinite values")


def schema_table() -> str:
    """The value ranges of every dataset of every layer type, as the Markdown table of
    docs/hdf5-format.md ("Value ranges"); a test keeps the two equal."""
    rows = ["| layer type | dataset | range | meaning |", "|---|---|---|---|"]
    for f in COMMON_FIELDS:
        rows.append(f"| (every) | `{f.name}` | {f.range_text()} | {f.doc} |")
    for f in NEURON_FIELDS:
        rows.append(f"| (with a neuron) | `neuron/{f.name}` | {f.range_text()} | {f.doc} |")
    for name in sorted(REGISTRY, key=str.lower):
        for f in REGISTRY[name].fields:
            optional = "" if f.required else " (optional)"
            rows.append(f"| `{name}` | `{f.name}`{optional} | {f.range_text()} | {f.doc} |")
    return "\n".join(rows) + "\n"
