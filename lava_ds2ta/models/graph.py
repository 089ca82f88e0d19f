"""The layer graph of a model: what the exporter writes and where the PyTorch forward pass
carries each layer's output (for per-layer comparisons).

A model family implements ``model.graph() -> list[Node]`` in topological order (every input
index is smaller than the node's own); node ``i`` becomes ``layer/<i>`` of the network file.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

import torch


@dataclass
class Node:
    """One exported layer.

    ``type`` is a layer type of :mod:`lava_ds2ta.layers`. ``module`` exports itself
    (``module.export_hdf5(handle)``, SLAYER style); without one the layer type writes ``params``.
    ``probe = (module, "input" | "output")`` is where the layer's ``N, C, H, W, T`` output
    appears in the PyTorch forward pass (a forward hook on that module's input or output);
    ``None`` for the readout, whose output is the model's logits.
    """

    name: str
    type: str
    inputs: list[int]
    module: torch.nn.Module | None = None
    probe: tuple[torch.nn.Module, str] | None = None
    params: dict[str, Any] = field(default_factory=dict)


class GraphBuilder:
    """Collects :class:`Node` objects; :meth:`add` returns the new node's index."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    def add(self, name: str, type: str, inputs: list[int], module=None, probe=None, **params):
        self.nodes.append(Node(name, type, list(inputs), module, probe, params))
        return len(self.nodes) - 1

    def block(self, name: str, module: torch.nn.Module, inputs: list[int]) -> int:
        """A block that exports itself (``conv``, ``tasa``, ``gatedConv``), probed at its output."""
        return self.add(name, module.layer_type, inputs, module, (module, "output"))
