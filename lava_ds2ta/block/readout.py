"""Classification head: token and time mean of the residual stream, then a quantised linear map.

``logits = W mean_{tokens, t}(x) + b`` with 8-bit weight and bias (Spikformer averages the
tokens, the head output over time; both are linear, so the order does not matter). In integers,
``logit_scale(N_tokens, T) * logits = sum_{tokens, t} W_int x + N_tokens * T * b_int`` with
``logit_scale = W_SCALE N_tokens T`` (:func:`lava_ds2ta.fixed_point.logit_scale`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.fixed_point import to_int
from lava_ds2ta.layers import REGISTRY


class Readout(torch.nn.Module):
    """Linear readout of ``N, D, H, W, T`` spike counts to ``N, classes`` logits."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = torch.nn.Parameter(
            torch.empty(num_classes, in_features).uniform_(-bound, bound)
        )
        self.bias = torch.nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.mean(dim=(2, 3, 4)), quantize_8bit(self.weight), quantize_8bit(self.bias))

    def export_hdf5(self, handle) -> None:
        """Write this head (layer type ``readout``) into an HDF5 group: ``weight``
        ``(classes, C)`` and ``bias`` ``(classes,)``, 8-bit mantissas."""
        REGISTRY["readout"].write(
            handle, (self.weight.shape[0],), weight=to_int(self.weight), bias=to_int(self.bias)
        )
