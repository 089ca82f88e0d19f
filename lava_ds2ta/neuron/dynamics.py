"""Fused fixed-point CUBA-LIF dynamics: SLAYER's arithmetic in a few passes over the sequence.

SLAYER's CPU neuron (``lava.lib.dl.slayer.neuron.cuba``) runs two leaky integrators (current and
voltage) and the spike function as Python loops of many small int64 tensor operations. For the
configuration of the paper's LIF (``current_decay = 1``, no persistent state, binary spikes,
fixed decays) it computes, per neuron and step, in state units of ``1/4096``
(``s_scale = 64 * 64``)::

    u[t]  = trunc(4096 x[t])                        current stage: the identity up to truncation
    w[t]  = trunc(4096 (u[t] / 4096 - b))           b: the mean-only norm's 8-bit bias (or 0)
    v[t]  = trunc(v[t-1] d / 4096) + w[t]           d = 4096 - quantize(voltage_decay)
    s[t]  = float32(v[t]) >= float32(4096 (theta + eps))
    v[t]  = 0 where s[t]                            hard reset; voltage output is v[t] / 4096

with ``eps = 0.01 / 4096`` (Loihi fires on ``v > theta``). Its surrogate gradient is the
Laplace kernel ``scale / 2 / tau exp(-|v / 4096 - theta'| / tau)`` of ``spike.Spike``, propagated
back in time through the decay ``1 - quantize(voltage_decay) / 4096`` while ignoring the reset
(SLAYER's ``_li_dynamics_bwd``); the current stage passes the gradient unchanged.

:func:`cuba_lif` computes exactly these values with float tensors instead of int64: while
``|x| < MAX_INPUT`` every intermediate is an integer below ``2^24`` (float32 is exact) or, for
a decay ``d`` that is not a power of two, below ``2^53`` (float64 is exact). The sequence is
processed time-major (``T, N, C, ...``) with the negated voltage ``-v`` as the state, so that
one ``torch.threshold`` per step is the whole spike-and-reset, and the backward pass is one
elementwise surrogate, one multiply-add per step and one transposing copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from lava_ds2ta.fixed_point import STATE_SCALE

#: Surrogate exponents are clamped here: ``exp`` of an underflowing argument is 15-50x slower
#: on CPU, and the surrogate below ``exp(-80) < 2e-35`` is zero for every practical purpose.
EXP_FLOOR = -80.0

#: Inputs (real units) below this magnitude keep the drive ``|4096 (x - b)|`` below ``2^23`` and,
#: for decays ``d <= 2048``, the voltage below ``2^24`` state units: there the float arithmetic
#: of :func:`cuba_lif` equals SLAYER's int64 arithmetic exactly.
MAX_INPUT = 2000.0


@dataclass(frozen=True)
class CubaLIFConstants:
    """Fixed-point constants of one CUBA-LIF neuron group, in state units (``1/4096``).

    Attributes
    ----------
    decay:
        ``d`` in ``v <- trunc(v d / 4096)``, an integer in ``[0, 4096]``.
    reset_threshold:
        the voltage resets where ``v >= reset_threshold`` (a float32 value).
    spike_threshold:
        an output spike where ``v >= spike_threshold`` (a float32 value).
    grad_center, grad_rate, grad_scale:
        surrogate ``grad_scale * exp(-|v - grad_center| * grad_rate)``.
    grad_decay:
        SLAYER's backward decay per step, ``1 - quantize(voltage_decay) / 4096`` in float32.
    """

    decay: int
    reset_threshold: float
    spike_threshold: float
    grad_center: float
    grad_rate: float
    grad_scale: float
    grad_decay: float

    @property
    def dtype(self) -> torch.dtype:
        """float32 is exact for ``d`` in ``{0, 1, 2, 4, ..., 2048}`` (``|v| <= 2 max|w|``),
        float64 otherwise (``v d`` needs up to 36 bits)."""
        if self.decay == 0 or (self.decay <= STATE_SCALE // 2 and STATE_SCALE % self.decay == 0):
            return torch.float32
        return torch.float64


def cuba_lif(
    x: torch.Tensor,
    bias: torch.Tensor | None,
    constants: CubaLIFConstants,
    current: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary spikes of SLAYER's CUBA-LIF (``current_decay = 1``) for the input current ``x``.

    Parameters
    ----------
    x:
        input current, layout ``N, C, [H, W,] T``, float32, ``|x| < MAX_INPUT``.
    bias:
        per-channel norm offset ``b`` (shape ``C``, on the 8-bit grid, may require grad), or
        ``None``. The neuron integrates ``x - b``.
    constants:
        the neuron's fixed-point constants.
    current:
        ``trunc(4096 x)`` if the caller already computed it (layout of ``x``), else ``None``.

    Returns
    -------
    Spikes (0/1 float32) with the layout of ``x``; gradients reach ``x`` and ``bias``.
    """
    return _CubaLIF.apply(x, bias, constants, current)


@torch.no_grad()
def cuba_lif_voltage(
    x: torch.Tensor, bias: torch.Tensor | None, constants: CubaLIFConstants
) -> torch.Tensor:
    """The pre-reset voltage ``v / 4096`` (float32, layout of ``x``) of the fused dynamics:
    what SLAYER's ``cuba.Neuron.dynamics`` returns as ``voltage``. No gradient."""
    neg_v = _negated_drive(x, bias, None, constants.dtype)
    _integrate(neg_v, constants)
    return (neg_v.movedim(0, -1) / -STATE_SCALE).to(x.dtype).contiguous()


class _CubaLIF(torch.autograd.Function):
    """Voltage dynamics, spike and reset over whole sequences; SLAYER's surrogate gradient."""

    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        bias: torch.Tensor | None,
        constants: CubaLIFConstants,
        current: torch.Tensor | None,
    ) -> torch.Tensor:
        neg_v = _negated_drive(x, bias, current, constants.dtype)
        _integrate(neg_v, constants)
        ctx.save_for_backward(neg_v)
        ctx.constants = constants
        spikes = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        torch.le(neg_v.movedim(0, -1), -constants.spike_threshold, out=spikes)
        return spikes

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_spikes: torch.Tensor):
        (neg_v,) = ctx.saved_tensors
        k: CubaLIFConstants = ctx.constants
        # Surrogate at the pre-reset voltage, times the incoming gradient (time-major).
        g = torch.add(neg_v, k.grad_center).abs_().mul_(-k.grad_rate)
        g.clamp_min_(EXP_FLOOR).exp_().mul_(grad_spikes.movedim(-1, 0))
        for t in range(g.shape[0] - 2, -1, -1):  # BPTT through the decay, reset ignored
            g[t].add_(g[t + 1], alpha=k.grad_decay)
        grad_x = torch.empty(grad_spikes.shape, dtype=grad_spikes.dtype, device=g.device)
        torch.mul(g.movedim(0, -1), k.grad_scale, out=grad_x)
        grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_bias = -grad_x.sum([d for d in range(grad_x.dim()) if d != 1])
        return grad_x, grad_bias, None, None


def _negated_drive(
    x: torch.Tensor, bias: torch.Tensor | None, current: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """``-w = 4096 b - trunc(4096 x)``, time-major (``T, N, C, ...``), in ``dtype``.

    Exact: ``trunc(4096 x)`` and ``4096 b`` are integers below ``2^23`` in magnitude, so SLAYER's
    ``trunc(4096 (u / 4096 - b))`` equals ``u - 4096 b``.
    """
    out = torch.empty((x.shape[-1],) + x.shape[:-1], dtype=dtype, device=x.device)
    offset = None
    if bias is not None:
        offset = (bias.detach() * STATE_SCALE).view((-1,) + (1,) * (x.dim() - 3))
    if current is not None:
        if offset is None:
            return torch.neg(current.movedim(-1, 0), out=out)
        return torch.sub(offset, current.movedim(-1, 0), out=out)
    # x / -2^-12 is -4096 x exactly; ``div`` truncates far faster than ``trunc`` on CPU.
    torch.div(x.movedim(-1, 0), -1.0 / STATE_SCALE, rounding_mode="trunc", out=out)
    if offset is not None:
        out.add_(offset)
    return out


def _integrate(neg_v: torch.Tensor, k: CubaLIFConstants) -> None:
    """Turn ``-w`` into the negated pre-reset voltages ``-v`` in place (time-major).

    The state is ``-v`` after reset: ``torch.threshold`` keeps it where ``v < reset_threshold``
    and zeroes it where the neuron fires. ``trunc`` is odd, so decaying ``-v`` gives ``-`` the
    decayed ``v``, exactly as SLAYER's right shift toward zero.
    """
    steps = neg_v.shape[0]
    if k.decay == 0 or steps == 1:
        return
    state = torch.empty_like(neg_v[0])
    carry = torch.empty_like(neg_v[0])
    for t in range(steps - 1):
        torch.threshold(neg_v[t], -k.reset_threshold, 0.0, out=state)
        if STATE_SCALE % k.decay == 0:
            torch.div(state, STATE_SCALE // k.decay, rounding_mode="trunc", out=carry)
        else:
            torch.mul(state, k.decay, out=carry).div_(STATE_SCALE, rounding_mode="trunc")
        neg_v[t + 1].add_(carry)
