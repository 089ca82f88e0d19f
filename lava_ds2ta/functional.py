"""Functional helpers: straight-through rounding, the TASA window sum and spike max-pooling.

All tensors use SLAYER's layout ``N, C, [H, W,] T`` (time last).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

#: Scale between SLAYER's real-valued weights/currents and Loihi's 8-bit weight mantissas.
W_SCALE = 64


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` (round half up) in the forward pass, identity gradient."""
    return x + (torch.floor(x + 0.5) - x).detach()


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
    if window == 1:
        return y
    return _AttenuatedWindowSum.apply(y, tau, window)


class _AttenuatedWindowSum(torch.autograd.Function):
    """:func:`attenuated_window_sum` in three elementwise passes per tap.

    The sequence ``N, ..., T`` is contiguous, so delaying by ``m`` steps is an offset of ``m``
    in the flattened tensor; the last ``m`` steps of every tap, which that offset would carry
    into the next sequence, are zeroed first. Every tap value is a float32 integer multiple of
    ``1/W_SCALE`` scaled by a power of two, so the result equals the per-tap formula exactly.
    """

    @staticmethod
    def forward(ctx, y: torch.Tensor, tau: torch.Tensor, window: int) -> torch.Tensor:
        y = y.contiguous()
        steps = y.shape[-1]
        rows, flat = y.view(-1, steps), y.view(-1)
        out = y.clone()
        tap = torch.empty_like(rows)
        for m in range(1, min(window, steps)):
            torch.mul(rows, torch.exp2(-tau * m) * W_SCALE, out=tap).floor_()
            tap[:, steps - m :] = 0
            out.view(-1)[m:].add_(tap.view(-1)[:-m], alpha=1.0 / W_SCALE)
        ctx.save_for_backward(flat if ctx.needs_input_grad[1] else None, tau)
        ctx.window = window
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        flat, tau = ctx.saved_tensors
        grad = grad.contiguous()
        steps = grad.shape[-1]
        rows = grad.view(-1, steps)
        grad_y = grad.clone()
        grad_tau = torch.zeros_like(tau) if flat is not None else None
        scaled = torch.empty_like(rows)
        for m in range(1, min(ctx.window, steps)):
            factor = torch.exp2(-tau * m)
            torch.mul(rows, factor, out=scaled)
            scaled[:, :m] = 0  # gradient of output steps t < m has no tap-m source
            grad_y.view(-1)[:-m].add_(scaled.view(-1)[m:])
            if grad_tau is not None:  # d/dtau 2^(-tau m) = -m ln2 2^(-tau m)
                dot = torch.dot(scaled.view(-1)[m:], flat[:-m])
                grad_tau -= m * math.log(2.0) * dot
        return grad_y, grad_tau, None


def spike_maxpool(x: torch.Tensor, kernel_size: int = 3, stride: int = 2, padding: int = 1):
    """Max-pool binary spikes over ``H, W`` at every time step (``N, C, H, W, T`` layout).

    On binary spikes this is a logical OR over each window, which Lava computes exactly as a
    sum-pool into a memoryless neuron whose threshold is below one spike.
    """
    n, c, h, w, t = x.shape
    y = x.permute(0, 4, 1, 2, 3).reshape(n * t, c, h, w)
    y = F.max_pool2d(y, kernel_size, stride, padding)
    return y.reshape(n, t, c, y.shape[-2], y.shape[-1]).permute(0, 2, 3, 4, 1)
