"""Check a network against the layer types' schemas: every field, neuron, input and shape.

The reader runs it on every file and the Lava builder on every network it builds (a network may
be assembled in code), so a bad value is one line naming the layer before any Lava process
starts. A layer type states what it needs in its ``fields`` and ``check``.
"""

from __future__ import annotations

from lava_ds2ta.layers.base import REGISTRY
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import NetworkSpec
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
    kind.check(layer, spec, fail)
