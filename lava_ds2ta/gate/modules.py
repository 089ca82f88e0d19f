"""MA-SNN's attention gates as PyTorch modules: TA, CA and SA (Yao et al., TPAMI 2023, Eq. 8-13).

Each module multiplies its input by its gate, ``x_att = g(x) x`` (Eq. 7), with the integer
arithmetic of :mod:`lava_ds2ta.gate.reference` (gates on a ``2^-GATE_BITS`` grid, 8-bit weights,
a sigmoid table; :mod:`lava_ds2ta.gate.functional`). Inputs are real ``float32`` tensors on the
state grid; ``gate(x)`` returns the gate itself (real, on the ``2^-GATE_BITS`` grid).

Initialisation: the last layer (MLP ``W1``, the SA convolution) starts at zero, so every gate
starts at exactly ``sigmoid(0) = 1/2`` (:data:`INIT_GATE`) with the sigmoid's largest slope; the
network at initialisation is the vanilla network with scaled potentials (docs/ma-snn.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.gate.functional import gate_product
from lava_ds2ta.gate.functional import mantissas
from lava_ds2ta.gate.functional import pool_state
from lava_ds2ta.gate.functional import round_div_ste
from lava_ds2ta.gate.functional import sigmoid_gate
from lava_ds2ta.gate.reference import LOGIT_SHIFT

#: Every gate's value at initialisation (its last layer is zero): ``sigmoid(0)``.
INIT_GATE = 0.5


class SharedMLP(torch.nn.Module):
    """``W1 (ReLU(W0 p_avg) + ReLU(W0 p_max))``: ``features -> features / ratio -> features``,
    8-bit weights shared by the average and the maximum branch, no biases (Eq. 9, 11)."""

    def __init__(self, features: int, ratio: int) -> None:
        super().__init__()
        hidden = max(1, features // ratio)
        bound = 1.0 / math.sqrt(features)
        self.w0 = torch.nn.Parameter(torch.empty(hidden, features).uniform_(-bound, bound))
        self.w1 = torch.nn.Parameter(torch.zeros(features, hidden))

    def forward(self, p_avg: torch.Tensor, p_max: torch.Tensor) -> torch.Tensor:
        """Integer logits (``float64``, logit units) of pooled state units ``(N, features)``;
        the hidden layer is in state units (:func:`lava_ds2ta.gate.reference.mlp_logit`)."""
        w0 = mantissas(self.w0)
        h_avg = F.relu(round_div_ste(F.linear(p_avg, w0), W_SCALE))
        h_max = F.relu(round_div_ste(F.linear(p_max, w0), W_SCALE))
        return round_div_ste(F.linear(h_avg + h_max, mantissas(self.w1)), 1 << LOGIT_SHIFT)


class _Gate(torch.nn.Module):
    """``forward(x) = gate_product(x, gate(x))``."""

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gate_product(x, self.gate(x))


class TemporalGate(_Gate):
    """TA (Eq. 8-9) on a layer's input ``X`` ``(N, C, [H, W,] T)``: one gate per sample and step,
    from all T steps pooled over ``C, H, W`` (non-causal: it needs the whole sequence)."""

    def __init__(self, time_steps: int, ratio: int) -> None:
        super().__init__()
        self.time_steps = time_steps
        self.mlp = SharedMLP(time_steps, ratio)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, ..., 1, T)`` gates."""
        g = sigmoid_gate(self.mlp(*pool_state(x.reshape(x.shape[0], -1, x.shape[-1]), 1)))
        return g.view(x.shape[0], *([1] * (x.dim() - 2)), x.shape[-1])


class ChannelGate(_Gate):
    """CA (Eq. 10-11) on one step's potential ``U`` ``(N, C, H, W)``: one gate per channel, from
    ``U`` pooled over ``H, W``; the MLP is shared over time."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        self.mlp = SharedMLP(channels, ratio)

    def gate(self, u: torch.Tensor) -> torch.Tensor:
        """``(N, C, 1, 1)`` gates."""
        return sigmoid_gate(self.mlp(*pool_state(u.flatten(2), 2))).view(*u.shape[:2], 1, 1)


class SpatialGate(_Gate):
    """SA (Eq. 12-13) on one step's potential ``U`` ``(N, C, H, W)``: one gate per position, a
    ``k x k`` convolution (zero padding, no bias, 8-bit weights) of ``[mean_c U; max_c U]``,
    shared over time."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1, 2, kernel_size, kernel_size))

    def gate(self, u: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)`` gates."""
        maps = torch.stack(pool_state(u, 1), dim=1)
        z = F.conv2d(maps, mantissas(self.weight), padding=self.weight.shape[-1] // 2)
        return sigmoid_gate(round_div_ste(z, 1 << LOGIT_SHIFT))
