"""Functional helpers: straight-through rounding, the TASA window sum and spike max-pooling.

All tensors use SLAYER's layout ``N, C, [H, W,] T`` (time last).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from lava_ds2ta.fixed_point import W_SCALE


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` (round half up) in the forward pass, identity gradient."""
    return x + (torch.floor(x + 0.5) - x).detach()


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x)`` in the forward pass, identity gradient."""
    return x + (torch.floor(x) - x).detach()


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
    if min(window, y.shape[-1]) == 1:
        return y
    return _AttenuatedWindowSum.apply(y, tau, window)


class _AttenuatedWindowSum(torch.autograd.Function):
    """:func:`attenuated_window_sum` in a few elementwise passes, forward and backward.

    The sequences ``N, ..., T`` are contiguous, so a delay of ``m`` steps is an offset of ``m``
    in the flattened tensor. All taps are scaled in one multiply by per-tap patterns that are
    zero at the steps the offset would carry into the neighbouring sequence (the last ``m``
    steps forward, the first ``m`` backward), laid over rows of several sequences so that the
    multiply vectorises. Every tap value is an integer multiple of ``1/W_SCALE`` scaled by a
    power of two, so the result equals the per-tap formula exactly.
    """

    @staticmethod
    def forward(ctx, y: torch.Tensor, tau: torch.Tensor, window: int) -> torch.Tensor:
        y = y.contiguous()
        rows, taps = _sequence_rows(y), min(window, y.shape[-1])
        neg_delays, head, _ = _tap_masks(y.shape[-1], rows.shape[1], taps, y.device, y.dtype)
        # floor(W_SCALE 2^(-tau m) y[t-m]) for every tap m >= 1, as a (taps - 1, rows) stack
        scales = torch.exp2(neg_delays * tau)
        shifted = torch.mul(rows, (scales.unsqueeze(1) * head).unsqueeze(1)).floor_()
        flat, out = y.view(-1), torch.empty_like(y)
        for m in range(1, taps):  # out[t] += tap_m[t - m] / W_SCALE
            src = flat if m == 1 else out.view(-1)
            tap = shifted[m - 1].view(-1)[:-m]
            torch.add(src[m:], tap, alpha=1.0 / W_SCALE, out=out.view(-1)[m:])
        out.view(-1)[:1] = flat[:1]
        ctx.save_for_backward(flat if ctx.needs_input_grad[1] else None, tau)
        ctx.taps = taps
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        flat, tau = ctx.saved_tensors
        grad, taps = grad.contiguous(), ctx.taps
        rows = _sequence_rows(grad)
        steps, width = grad.shape[-1], rows.shape[1]
        neg_delays, _, tail = _tap_masks(steps, width, taps, grad.device, grad.dtype)
        factors = torch.exp2(neg_delays * tau)  # d tap_m / d y = 2^(-tau m) (straight-through)
        scaled = torch.mul(rows, (factors.unsqueeze(1) * tail).unsqueeze(1))
        grad_flat, grad_y = grad.view(-1), torch.empty_like(grad)
        for m in range(1, taps):  # grad_y[t] += 2^(-tau m) grad[t+m]
            src = grad_flat if m == 1 else grad_y.view(-1)
            torch.add(src[:-m], scaled[m - 1].view(-1)[m:], out=grad_y.view(-1)[:-m])
        grad_y.view(-1)[-1:] = grad_flat[-1:]
        grad_tau = None
        if flat is not None:  # d/dtau 2^(-tau m) = -m ln2 2^(-tau m); gemv (unlike dot) keeps
            grad_tau = torch.zeros(1, dtype=grad.dtype, device=grad.device)  # its speed on
            for m in range(1, taps):  # these misaligned offset vectors
                tap = scaled[m - 1].view(1, -1)[:, m:]
                torch.addmv(grad_tau, tap, flat[:-m], alpha=-m * math.log(2.0), out=grad_tau)
            grad_tau = grad_tau.view(tau.shape)
        return grad_y, grad_tau, None


def _sequence_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` (contiguous, ``..., T``) as rows of up to 16 whole sequences, so that a per-step
    pattern broadcast over the rows runs vectorised."""
    steps = x.shape[-1]
    sequences = x.numel() // steps
    per_row = min(sequences & -sequences, 16) if sequences else 1
    return x.view(-1, steps * per_row)


@functools.lru_cache(maxsize=32)
def _tap_masks(
    steps: int, width: int, taps: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The negated delays ``-m``, ``m = 1 .. taps - 1`` (float), and two float masks of shape
    ``(taps - 1, width)`` over rows of whole sequences: for tap ``m`` (row ``m - 1``), ``head``
    is ``W_SCALE`` except at the last ``m`` steps of every sequence and ``tail`` is 1 except at
    the first ``m``, where both are 0."""
    t = torch.arange(width, device=device) % steps
    m = torch.arange(1, taps, device=device).unsqueeze(1)
    return -m.squeeze(1).to(dtype), W_SCALE * (t < steps - m).to(dtype), (t >= m).to(dtype)


def spike_maxpool(x: torch.Tensor, kernel_size: int = 3, stride: int = 2, padding: int = 1):
    """Max-pool binary spikes over ``H, W`` at every time step (``N, C, H, W, T`` layout).

    On binary spikes this is a logical OR over each window, which Lava computes exactly as a
    sum-pool into a memoryless neuron whose threshold is below one spike.
    """
    n, c, h, w, t = x.shape
    y = x.permute(0, 4, 1, 2, 3).reshape(n * t, c, h, w)
    y = F.max_pool2d(y, kernel_size, stride, padding)
    return y.reshape(n, t, c, y.shape[-2], y.shape[-1]).permute(0, 2, 3, 4, 1)
