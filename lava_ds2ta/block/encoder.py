"""Spiking MLP and the transformer encoder block ``x = x + SSA(x); x = x + MLP(x)``.

The residual stream holds integer spike counts (sums of binary spikes), not binary spikes.
"""

from __future__ import annotations

from typing import Any

import torch

from lava_ds2ta.block.attention import SpikingSelfAttention
from lava_ds2ta.block.conv import SpikingConv


class SpikingMLP(torch.nn.Module):
    """Token-wise ``D -> hidden -> D`` MLP of two spiking 1x1 convolutions. ``N, D, H, W, T``."""

    def __init__(self, dim: int, hidden: int, neuron: dict[str, Any]) -> None:
        super().__init__()
        self.fc1 = SpikingConv(dim, hidden, 1, 0, neuron)
        self.fc2 = SpikingConv(hidden, dim, 1, 0, neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


class EncoderBlock(torch.nn.Module):
    """One transformer encoder block with residual sums. Layout ``N, D, H, W, T``."""

    def __init__(self, attn: SpikingSelfAttention, mlp: SpikingMLP) -> None:
        super().__init__()
        self.attn = attn
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)
