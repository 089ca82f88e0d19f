"""Spiking patch splitting (SPS) with relative position embedding (Spikformer).

Stages of ``Conv3x3 -> BN -> LIF`` with channels ``D/2^(S-1), ..., D/2, D``; a stage marked in
``pool`` is followed by a spike max-pool (3x3, stride 2: a logical OR of spikes). The relative
position embedding ``x + LIF(BN(Conv3x3(x)))`` closes it. Layout ``N, C, H, W, T`` in and out;
the output grid ``H', W'`` is the token grid. With ``gates`` the stages are MA-SNN layers
(:class:`~lava_ds2ta.block.ma.GatedSpikingConv`: TA/CA/SA around the LIF, docs/ma-snn.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lava_ds2ta.block.conv import SpikingConv
from lava_ds2ta.block.ma import GatedSpikingConv
from lava_ds2ta.functional import spike_maxpool


class SpikingPatchSplitting(torch.nn.Module):
    """Spiking patch splitting plus relative position embedding.

    Parameters
    ----------
    in_channels, dim:
        input channels and embedding dimension ``D``.
    pool:
        one flag per stage: max-pool the stage's spikes (CIFAR ``0011``, DVS ``1111``).
    neuron:
        LIF parameters.
    input_levels:
        the input arrives as integers ``round(x * input_levels)`` (graded spikes); the first
        stage's threshold is scaled by the same factor, so it sees the real-valued input.
    gates:
        ``None`` for plain stages, else the keyword arguments of
        :class:`~lava_ds2ta.block.ma.GatedSpikingConv` that choose and size the gates (``dims``,
        ``time_steps``, ``t_ratio``, ``c_ratio``).
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        pool: Sequence[bool],
        neuron: dict[str, Any],
        input_levels: int = 1,
        gates: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        n = len(pool)
        channels = [in_channels] + [dim // 2 ** (n - 1 - i) for i in range(n)]
        first = {**neuron, "threshold": neuron.get("threshold", 1.0) * input_levels}

        def stage(i: int) -> torch.nn.Module:
            kw = first if i == 0 else neuron
            if gates is None:
                return SpikingConv(channels[i], channels[i + 1], 3, 1, kw)
            return GatedSpikingConv(channels[i], channels[i + 1], 3, 1, neuron=kw, **gates)

        self.stages = torch.nn.ModuleList(stage(i) for i in range(n))
        self.pool = [bool(p) for p in pool]
        self.rpe = SpikingConv(dim, dim, 3, 1, neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage, pool in zip(self.stages, self.pool, strict=True):
            x = stage(x)
            if pool:
                x = spike_maxpool(x)
        return x + self.rpe(x)
