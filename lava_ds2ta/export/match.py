"""Does a checkpoint belong to a network file? The same model config and the same integer
weights, thresholds and every other dataset: exporting the checkpoint's model (in memory) must
give the file's network, value for value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.errors import ExportError
from lava_ds2ta.export.writer import network_spec
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.models import load_model


def _differs(a: Any, b: Any) -> str | None:
    """How two dataset values differ (``None`` if equal)."""
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return f"has shape {y.shape} in the checkpoint, {x.shape} in the network"
    if not np.array_equal(x, y):
        if x.dtype.kind in "biuf" and y.dtype.kind in "biuf":
            return f"differs in {int(np.sum(x != y))} of {x.size} values"
        return f"is {b!r} in the checkpoint, {a!r} in the network"
    return None


def _layer_difference(a: LayerSpec, b: LayerSpec) -> str | None:
    where = f"layer {a.index} ({a.name})"
    for what in ("type", "name", "inputs", "shape"):
        if getattr(a, what) != getattr(b, what):
            return f"{where} {what} is {getattr(b, what)!r} in the checkpoint"
    for group, pa, pb in (("", a.params, b.params), ("neuron/", a.neuron or {}, b.neuron or {})):
        for key in sorted(set(pa) | set(pb)):
            if key not in pa or key not in pb:
                side = "network" if key in pa else "checkpoint"
                return f"{where} has dataset '{group}{key}' only in the {side}"
            problem = _differs(pa[key], pb[key])
            if problem:
                return f"{where} {group}{key} {problem}"
    return None


def network_difference(network: NetworkSpec, exported: NetworkSpec) -> str | None:
    """The first difference between a network file and a model's export, or ``None``."""
    for key in sorted(set(network.config) | set(exported.config)):
        mine, theirs = network.config.get(key), exported.config.get(key)
        if mine != theirs:
            return f"model config '{key}' is {theirs!r} in the checkpoint, {mine!r} in the network"
    n, m = len(network.layers), len(exported.layers)
    if n != m:
        return f"{m} layers in the checkpoint, {n} in the network"
    for a, b in zip(network.layers, exported.layers, strict=True):
        problem = _layer_difference(a, b)
        if problem:
            return problem
    return None


def load_matching_model(checkpoint: str | Path, network: NetworkSpec) -> nn.Module:
    """The checkpoint's model (eval mode, CPU), after checking that it is the model the network
    file was exported from; one-line :class:`CheckpointError` otherwise."""
    model, _ = load_model(checkpoint)
    try:
        exported = network_spec(model, str(checkpoint))
    except ExportError as exc:
        raise CheckpointError(f"checkpoint {checkpoint} cannot be exported ({exc})") from None
    problem = network_difference(network, exported)
    if problem:
        raise CheckpointError(
            f"checkpoint {checkpoint} does not belong to the network {network.path}: {problem}; "
            "pass the checkpoint the network was exported from, or leave --checkpoint out to "
            "compare with the network's own integer simulation"
        )
    return model
