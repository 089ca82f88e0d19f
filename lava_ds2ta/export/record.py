"""Record every exported layer's output from the PyTorch model (eval mode), by forward hooks.

``record_layers(model, x)`` returns ``{layer name: int64 array N, C, H, W, T}`` (SLAYER layout):
binary spikes for spiking layers, integer spike counts for ``add`` layers, integer input levels
for ``input``. The names are the ``name`` datasets of the exported file; :func:`layer_indices`
maps them to ``layer/<i>``. The ``readout`` has no spikes: compare its logits with ``model(x)``.
"""

from __future__ import annotations

import numpy as np
import torch

from lava_ds2ta.utils.hooks import hooked

__all__ = ["layer_indices", "record_layers"]


def layer_indices(model: torch.nn.Module) -> dict[str, int]:
    """Layer name -> index of ``layer/<i>`` in the exported file."""
    return {node.name: i for i, node in enumerate(model.graph())}


def _to_int(name: str, t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().double().numpy()
    out = np.rint(a).astype(np.int64)
    if not np.array_equal(out, a):
        raise RuntimeError(f"layer {name}: recorded values are not integers")
    return out


@torch.no_grad()
def record_layers(model: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Run ``model`` on ``x`` (``N, C, H, W[, T]`` in [0, 1]) in eval mode and return every
    layer's output by name. The model's train/eval mode is restored afterwards."""
    out: dict[str, np.ndarray] = {}
    handles = []

    def hook_for(name: str, where: str):
        if where == "input":
            return lambda _m, args: out.__setitem__(name, _to_int(name, args[0]))
        return lambda _m, _args, res: out.__setitem__(name, _to_int(name, res))

    for node in model.graph():
        if node.probe is None:
            continue
        module, where = node.probe
        hook = hook_for(node.name, where)
        if where == "input":
            handles.append(module.register_forward_pre_hook(hook))
        else:
            handles.append(module.register_forward_hook(hook))
    with hooked(model, handles, train=False):
        model(x)
    return out
