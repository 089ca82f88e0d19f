"""The layer graph of a :class:`~lava_ds2ta.models.SpikingTransformer`, in topological order.

One :class:`Node` per exported layer ``layer/<i>``; ``inputs`` are indices of earlier nodes. Each
node also names where :mod:`lava_ds2ta.export.record` reads the layer's output in the PyTorch
model (a forward hook on a module's input or output), so that file layers and recorded tensors
share one name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from lava_ds2ta.errors import ExportError


@dataclass
class Node:
    """One layer. ``module`` exports itself (``conv``/``tasa``/``attention``/``readout``);
    otherwise the writer writes ``type`` and ``params``. ``probe = (module, 'input'|'output')``
    is where the layer's ``N, C, H, W, T`` output appears in the PyTorch forward pass."""

    name: str
    type: str
    inputs: list[int]
    module: torch.nn.Module | None
    probe: tuple[torch.nn.Module, str] | None
    params: dict[str, Any] = field(default_factory=dict)


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []

    def add(self, name, type, inputs, module=None, probe=None, **params) -> int:
        self.nodes.append(Node(name, type, list(inputs), module, probe, params))
        return len(self.nodes) - 1


def _conv_type(block) -> str:
    return "tasa" if hasattr(block.synapse, "window") else "conv"


def model_graph(model: torch.nn.Module) -> list[Node]:
    """The layers of ``model`` in topological order (every input index is smaller)."""
    from lava_ds2ta.models import SpikingTransformer

    if not isinstance(model, SpikingTransformer):
        raise ExportError(
            f"cannot export a {type(model).__name__}: only SpikingTransformer models "
            "(spikformer, ds2ta_nsad, ds2ta) have an exporter"
        )
    c, sps, g = model.config, model.sps, _Builder()
    x = g.add(
        "input", "input", [], probe=(sps, "input"),
        timeSteps=c.time_steps, inputLevels=c.input_levels,
    )  # fmt: skip
    following = [*sps.stages[1:], sps.rpe]
    for i, (stage, pool) in enumerate(zip(sps.stages, sps.pool, strict=True)):
        x = g.add(f"sps.stages.{i}", _conv_type(stage), [x], stage, (stage, "output"))
        if pool:
            x = g.add(
                f"sps.pool.{i}", "spikeMaxPool", [x], probe=(following[i], "input"),
                kernelSize=[3, 3], stride=[2, 2], padding=[1, 1],
            )  # fmt: skip
    rpe = g.add("sps.rpe", _conv_type(sps.rpe), [x], sps.rpe, (sps.rpe, "output"))
    x = g.add("sps.add_rpe", "add", [x, rpe], probe=(sps, "output"))
    for b, block in enumerate(model.blocks):
        p, attn, mlp = f"blocks.{b}", block.attn, block.mlp
        qkv = [
            g.add(f"{p}.attn.{k}", _conv_type(m), [x], m, (m, "output"))
            for k, m in (("q", attn.q), ("k", attn.k), ("v", attn.v))
        ]
        a = g.add(f"{p}.attn", "attention", qkv, attn, (attn.attn_neuron, "output"))
        proj = g.add(f"{p}.attn.proj", _conv_type(attn.proj), [a], attn.proj, (attn.proj, "output"))
        x = g.add(f"{p}.add_attn", "add", [x, proj], probe=(mlp, "input"))
        h = g.add(f"{p}.mlp.fc1", _conv_type(mlp.fc1), [x], mlp.fc1, (mlp.fc1, "output"))
        h = g.add(f"{p}.mlp.fc2", _conv_type(mlp.fc2), [h], mlp.fc2, (mlp.fc2, "output"))
        x = g.add(f"{p}.add_mlp", "add", [x, h], probe=(block, "output"))
    g.add("head", "readout", [x], model.head, None)
    return g.nodes


def layer_indices(model: torch.nn.Module) -> dict[str, int]:
    """Layer name -> index of ``layer/<i>`` in the exported file."""
    return {node.name: i for i, node in enumerate(model_graph(model))}
