"""Functional helpers: straight-through estimators, the TASA window sum and spike max-pooling.

All tensors use SLAYER's layout ``N, C, [H, W,] T`` (time last).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lava_ds2ta.fixed_point import W_SCALE


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` (round half up) in the forward pass, identity gradient."""
    return x + (torch.floor(x + 0.5) - x).detach()


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x)`` in the forward pass, identity gradient."""
    return x + (torch.floor(x) - x).detach()


def delay(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Delay ``x`` (``..., T``) by ``steps`` time steps, with zeros before the sample starts."""
    if steps == 0:
        return x
    return F.pad(x[..., :-steps], (steps, 0))


def attenuated_window_sum(y: torch.Tensor, tau: torch.Tensor, window: int) -> torch.Tensor:
    """Sum of power-of-two attenuated, delayed replicas of a synaptic response (DS2TA Eq. 1, 4, 5).

    ``y[..., t] = W s[t]`` is the response of the undelayed weight matrix. Tap ``m`` adds
    ``2^(-tau m) W s[t-m]``. Like a Lava ``Dense`` with ``weight_exp = -tau m``, each tap is
    accumulated in integer weight units (``W_SCALE * y``) and then arithmetically shifted right
    (floor), so the result is exactly what a fixed-point delay-weight layer computes::

        I[t] = sum_{m=0}^{window-1} floor(W_SCALE * y[t-m] / 2^(tau m)) / W_SCALE

    ``y`` must lie on the 1/W_SCALE grid (true for 8-bit quantised weights and integer spikes).
    ``tau`` is a 0-d tensor holding an integer value; gradients reach it through ``2^(-tau m)``
    (the floor is straight-through). Inputs before the sample starts are zero.
    """
    out = y
    for m in range(1, window):
        scale = torch.exp2(-tau * m) * W_SCALE
        out = out + floor_ste(delay(y, m) * scale) / W_SCALE
    return out


def spike_maxpool(x: torch.Tensor, kernel_size: int = 3, stride: int = 2, padding: int = 1):
    """Max-pool binary spikes over ``H, W`` at every time step (``N, C, H, W, T`` layout).

    On binary spikes this is a logical OR over each window, which Lava computes exactly as a
    sum-pool into a memoryless neuron whose threshold is below one spike.
    """
    n, c, h, w, t = x.shape
    y = x.permute(0, 4, 1, 2, 3).reshape(n * t, c, h, w)
    y = F.max_pool2d(y, kernel_size, stride, padding)
    return y.reshape(n, t, c, y.shape[-2], y.shape[-1]).permute(0, 2, 3, 4, 1)
