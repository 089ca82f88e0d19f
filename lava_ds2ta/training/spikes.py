"""Spike counts of a model's spiking layers on a data set, and MA-SNN's NASAR.

NASAR (network average spiking activity rate, Yao et al. 2023, Sec. 4) is the number of spikes
divided by ``neurons x T``, over every spiking layer (every CUBA neuron's output: the readout and
other non-spiking parts do not count) and every test sample; a sample of K clips counts K times.
Measured on the PyTorch eval model, which is the deployed model (docs/fixed-point.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lava.lib.dl.slayer.neuron import cuba
from torch import nn
from torch.utils.data import DataLoader

from lava_ds2ta.training.loop import CLIP_DIMS


@dataclass
class SpikeStats:
    """Per spiking layer: ``(spikes, neuron steps)`` summed over the samples."""

    layers: dict[str, tuple[int, int]]

    @property
    def nasar(self) -> float:
        """Spikes / (neurons x T x samples) over all spiking layers."""
        spikes = sum(s for s, _ in self.layers.values())
        return spikes / max(1, sum(n for _, n in self.layers.values()))

    def rates(self) -> dict[str, float]:
        """Each layer's spikes / (neurons x T x samples)."""
        return {name: s / max(1, n) for name, (s, n) in self.layers.items()}


@torch.no_grad()
def spike_stats(model: nn.Module, loader: DataLoader, device: torch.device) -> SpikeStats:
    """Count every CUBA neuron's output spikes of ``model`` (eval mode) over ``loader``."""
    counts: dict[str, list[int]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, cuba.Neuron):
            counts[name] = [0, 0]

            def hook(_m, _args, out, name=name):
                counts[name][0] += int(out.sum())
                counts[name][1] += out.numel()

            handles.append(module.register_forward_hook(hook))
    model.eval()
    try:
        for x, _ in loader:
            x = x.to(device)
            model(x.flatten(0, 1) if x.dim() == CLIP_DIMS else x)
    finally:
        for h in handles:
            h.remove()
    return SpikeStats({name: (s, n) for name, (s, n) in counts.items()})
