"""Data-dependent weight initialisation (LSUV-style) for networks without variance BN.

Spikformer normalises every projection with a full BatchNorm. A per-channel variance scale does
not fold exactly into 8-bit Loihi weights, so our neurons use a mean-only BatchNorm (a bias) and
the variance scale is set once, before training: each :class:`SpikingConv`'s weights are scaled
so that its synaptic current has standard deviation ``target_std`` (in units of the threshold)
on a batch of real data, layer after layer in forward order. Training then learns the scale.

The trainer calls :func:`data_init` once, on the first training batch; it sets the model's
``initialized`` flag (saved in checkpoints), so a resumed or loaded model is never re-initialised.
"""

from __future__ import annotations

import torch

from lava_ds2ta.block.conv import SpikingConv
from lava_ds2ta.utils.hooks import hooked


@torch.no_grad()
def data_init(model: torch.nn.Module, x: torch.Tensor, target_std: float = 1.0) -> None:
    """Rescale the weights of every spiking convolution of ``model`` from one batch ``x`` (in
    train mode, so running statistics see the batch too) and mark the model initialised."""
    handles = []

    def rescale(block: SpikingConv):
        def hook(_neuron, args):
            (current,) = args
            std = current.std().item()
            if std == 0.0:
                return None
            scale = target_std * block.neuron.threshold / std
            block.synapse.weight.mul_(scale)
            return (current * scale,)

        return hook

    for module in model.modules():
        if isinstance(module, SpikingConv):
            handles.append(module.neuron.register_forward_pre_hook(rescale(module)))
    with hooked(model, handles, train=True):
        model(x)
    if isinstance(getattr(model, "initialized", None), torch.Tensor):
        model.initialized.fill_(True)
