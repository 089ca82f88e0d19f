"""Data-dependent weight initialisation (LSUV-style) for networks without variance BN.

Spikformer normalises every projection with a full BatchNorm. A per-channel variance scale does
not fold exactly into 8-bit Loihi weights, so our neurons use a mean-only BatchNorm (a bias) and
the variance scale is set once, before training: every block that names a *data-init site*
(``block.data_init_site() -> (weight, neuron, gain)``: :class:`~lava_ds2ta.block.SpikingConv`,
the MA-SNN layers) gets its weights scaled so that the synaptic current entering its neuron has
standard deviation ``target_std * threshold / gain`` on a batch of real data, layer after layer
in forward order. ``gain`` is what the neuron multiplies its input by at initialisation (1, or
``1/2`` per MA-SNN gate, whose gates start at ``1/2``). Training then learns the scale.

The trainer calls :func:`data_init` once, on the first training batch; it sets the model's
``initialized`` flag (saved in checkpoints), so a resumed or loaded model is never re-initialised.
"""

from __future__ import annotations

import torch

from lava_ds2ta.utils.hooks import hooked


@torch.no_grad()
def data_init(model: torch.nn.Module, x: torch.Tensor, target_std: float = 1.0) -> None:
    """Rescale the weights of every data-init site of ``model`` from one batch ``x`` (in train
    mode, so running statistics see the batch too) and mark the model initialised."""
    handles = []

    def rescale(weight: torch.nn.Parameter, neuron: torch.nn.Module, gain: float):
        def hook(_neuron, args):
            (current,) = args
            std = current.std().item()
            if std == 0.0:
                return None
            scale = target_std * neuron.threshold / (gain * std)
            weight.mul_(scale)
            return (current * scale,)

        return hook

    for module in model.modules():
        if hasattr(module, "data_init_site"):
            weight, neuron, gain = module.data_init_site()
            handles.append(neuron.register_forward_pre_hook(rescale(weight, neuron, gain)))
    with hooked(model, handles, train=True):
        model(x)
    if isinstance(getattr(model, "initialized", None), torch.Tensor):
        model.initialized.fill_(True)
