"""What a network did on a batch of inputs, from one of three sources: the Lava run, the integer
reference simulation of the file, or the trained PyTorch model (eval mode).

Each gives every layer's output (``N, C, H, W, T`` int64, by layer index) and every attention
layer's map ``A`` (``N, heads, T, tokens, tokens``: ``AD_h[Q K^T]`` with NSAD, ``Q K^T``
without). The Lava and reference maps are computed from their recorded Q and K spikes with the
file's tables; the PyTorch maps by the model's own attention (its NSAD denoiser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.record import layer_indices
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers.attention import AttentionLayer
from lava_ds2ta.layers.attention import attention_map
from lava_ds2ta.report.counter import complete_outputs


@dataclass
class Observed:
    """Every layer's output (``outputs``), the attention maps by attention-layer index
    (``maps``) and the integer logits ``(N, classes)`` of one source, named by ``source``."""

    source: str
    outputs: dict[int, np.ndarray]
    maps: dict[int, np.ndarray]
    logits: np.ndarray


def file_maps(spec: NetworkSpec, outputs: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The map ``A`` of every ``attention`` layer from its Q and K inputs in ``outputs``."""
    maps = {}
    for layer in (x for x in spec.layers if x.type == "attention"):
        q, k = (outputs[j] for j in layer.inputs[:2])
        heads = int(layer.params["numHeads"])
        maps[layer.index] = attention_map(q, k, heads, AttentionLayer.tables(layer))[1]
    return maps


def _logits(spec: NetworkSpec, outputs: dict[int, np.ndarray]) -> np.ndarray:
    last = outputs[spec.layers[-1].index]
    return last.reshape(last.shape[0], -1, last.shape[-1]).sum(axis=-1)


def observe_lava(spec: NetworkSpec, levels: np.ndarray, progress: bool = False) -> Observed:
    """Run ``levels`` (``N, C, H, W, T``) on Lava ``fixed_pt`` with every neuron layer
    recorded; the layers without neurons are filled in from the recording."""
    result = run_network(spec, levels, "fixed_pt", record=True, progress=progress)
    outputs = complete_outputs(spec, levels, result.spikes)
    return Observed("Lava fixed_pt", outputs, file_maps(spec, outputs), result.logits)


def observe_reference(spec: NetworkSpec, levels: np.ndarray) -> Observed:
    """The integer reference simulation of the file on ``levels``."""
    logits, recorded = simulate(spec, levels)
    outputs = complete_outputs(spec, levels, recorded)
    return Observed("integer reference", outputs, file_maps(spec, outputs), logits)


@torch.no_grad()
def torch_maps(model: torch.nn.Module, outputs: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The map ``A`` of every attention node of ``model.graph()``, by its own module
    (``denoised_map``) from the recorded Q and K spikes."""
    maps = {}
    for i, node in enumerate(model.graph()):
        if node.type == "attention":
            q, k = (torch.as_tensor(outputs[j], dtype=torch.float32) for j in node.inputs[:2])
            maps[i] = np.rint(node.module.denoised_map(q, k).double().numpy()).astype(np.int64)
    return maps


def observe_torch(spec: NetworkSpec, inputs: dict[str, Any], model: torch.nn.Module) -> Observed:
    """The PyTorch eval model ``model`` (the one ``spec`` was exported from:
    :func:`lava_ds2ta.export.match.load_matching_model`) on ``inputs`` (the dict of
    :func:`lava_ds2ta.deploy.compare.load_test_inputs`)."""
    index = layer_indices(model)
    if list(index) != [layer.name for layer in spec.layers]:
        raise InputError(
            f"the PyTorch model has other layers than the network {spec.path}: pass the "
            "checkpoint the network was exported from"
        )
    recorded = {index[name]: v for name, v in record_layers(model, inputs["float"]).items()}
    outputs = complete_outputs(spec, inputs["levels"], recorded)
    maps = torch_maps(model, outputs)
    return Observed("PyTorch eval model", outputs, maps, _logits(spec, outputs))
