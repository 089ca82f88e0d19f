"""Nonlinear spiking attention denoiser (NSAD, DS2TA section 3.2, Eq. 6-7).

Per head ``h`` and time step, the spiking attention map ``S = Q[t] K[t]^T`` holds integers in
``[0, d]`` (``d`` = head dimension). NSAD replaces every entry by a lookup in a per-head table of
``d + 1`` integers, ``A = AD_h[S]``, with ``AD_h[s] = round(f_h(s))`` and::

    f_h(s) = 1(s > u_h) * (a_h s + b_h (s - c_h)^2 + d_h / (1 + exp(s - e_h)))

The integer table is used in the forward pass; the continuous ``f_h`` is trained by gradient,
straight-through on the rounding, with a sigmoid surrogate for the threshold ``1(s > u_h)``.
Rounding is half up: ``round(x) = floor(x + 0.5)``. Table entries may be negative.

Initialisation (the paper gives only ``u_h``): ``a = 1, b = c = d = e = 0`` so that the
untrained denoiser is Spikformer's attention with the noise floor ``s <= u_h`` cut.
"""

from __future__ import annotations

import torch

#: Slope of the sigmoid surrogate of the threshold step ``1(s > u)`` (per unit of ``s``).
GATE_SLOPE = 4.0


class NSAD(torch.nn.Module):
    """Per-head integer lookup denoiser for attention maps ``S`` of layout ``N, H, T, Nq, Nk``.

    Parameters
    ----------
    num_heads:
        ``H``.
    head_dim:
        ``d``; ``S`` takes integer values ``0..d``.
    u_init:
        initial denoising threshold ``u_h`` (paper: 3 for CIFAR, 2 for DVS).
    """

    def __init__(self, num_heads: int, head_dim: int, u_init: float = 3.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.a = torch.nn.Parameter(torch.ones(num_heads))
        self.b = torch.nn.Parameter(torch.zeros(num_heads))
        self.c = torch.nn.Parameter(torch.zeros(num_heads))
        self.d = torch.nn.Parameter(torch.zeros(num_heads))
        self.e = torch.nn.Parameter(torch.zeros(num_heads))
        self.u = torch.nn.Parameter(torch.full((num_heads,), float(u_init)))
        self.register_buffer("levels", torch.arange(head_dim + 1, dtype=torch.float32), False)

    def g(self, s: torch.Tensor) -> torch.Tensor:
        """``g_h(s)`` of Eq. 7 for ``s`` of shape ``(H, K)``."""
        a, b, c, d, e = (p[:, None] for p in (self.a, self.b, self.c, self.d, self.e))
        return a * s + b * (s - c) ** 2 + d * torch.sigmoid(e - s)

    def f(self, s: torch.Tensor) -> torch.Tensor:
        """``f_h(s) = 1(s > u_h) g_h(s)`` of Eq. 6 for ``s`` of shape ``(H, K)`` (hard step)."""
        return (s > self.u[:, None]).to(s.dtype) * self.g(s)

    def _gate(self, s: torch.Tensor) -> torch.Tensor:
        """Hard step ``1(s > u)`` in the forward pass, sigmoid surrogate gradient."""
        soft = torch.sigmoid(GATE_SLOPE * (s - self.u[:, None]))
        hard = (s > self.u[:, None]).to(s.dtype)
        return hard + soft - soft.detach()

    def table_ste(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The lookup table ``(H, d+1)`` with straight-through gradient, and its slope in ``s``."""
        levels = self.levels.expand(self.num_heads, -1)
        return _Table.apply(self.a, self.b, self.c, self.d, self.e, self.u, levels)

    @torch.no_grad()
    def tables(self) -> torch.Tensor:
        """The integer tables ``AD_h`` as an ``int64`` tensor of shape ``(H, d+1)``."""
        return torch.floor(self.f(self.levels.expand(self.num_heads, -1)) + 0.5).long()

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """Denoise attention maps ``s`` (``N, H, T, Nq, Nk``, integer values ``0..d``).

        Returns ``AD_h[s]`` exactly; its gradient flows to the six parameters through ``f_h``
        and to ``s`` through the slope of ``f_h`` at ``s``.
        """
        table, slope = self.table_ste()
        return _TableLookup.apply(table, slope, s)


class _Table(torch.autograd.Function):
    """``AD = round(f(s))`` on the levels ``s`` (``H, d+1``) and the slope ``df/ds``, with the
    gradients of ``a..e, u`` written out in one node: straight-through rounding, and the gate
    ``1(s > u)`` differentiated through its sigmoid surrogate, as in :meth:`NSAD._gate`."""

    @staticmethod
    def forward(ctx, a, b, c, d, e, u, s):
        a, b, c, d, e, u = (p[:, None] for p in (a, b, c, d, e, u))
        rise = torch.sigmoid(e - s)
        g = a * s + b * (s - c) ** 2 + d * rise
        soft = torch.sigmoid(GATE_SLOPE * (s - u))
        hard = (s > u).to(s.dtype)
        d_soft, d_rise = GATE_SLOPE * soft * (1 - soft), rise * (1 - rise)
        slope = d_soft * g + hard * (a + 2 * b * (s - c) - d * d_rise)
        ctx.save_for_backward(s, b, c, d, g, hard, rise, d_rise, d_soft)
        ctx.mark_non_differentiable(slope)
        return torch.floor(hard * g + 0.5), slope

    @staticmethod
    def backward(ctx, grad: torch.Tensor, _grad_slope: torch.Tensor):
        s, b, c, d, g, hard, rise, d_rise, d_soft = ctx.saved_tensors
        gated, centred = grad * hard, s - c
        grads = (s, centred**2, -2 * b * centred, rise, d * d_rise)
        return (*((gated * x).sum(1) for x in grads), -(grad * g * d_soft).sum(1), None)


class _TableLookup(torch.autograd.Function):
    """``out = table[h, s]`` per head; backward: scatter-add into the table, slope for ``s``."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, slope: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        heads, levels = table.shape
        # Flat table indices head * levels + s, formed in float (exact small integers) and
        # kept as int32: several times faster than int64 arithmetic on the maps.
        offset = torch.arange(heads, device=s.device, dtype=s.dtype).view(1, -1, 1, 1, 1)
        flat = torch.add(s.detach().clamp(0, levels - 1), offset, alpha=levels)
        flat = flat.to(torch.int32).reshape(-1)
        ctx.save_for_backward(flat, slope)
        ctx.table_shape = table.shape
        return table.detach().reshape(-1).index_select(0, flat).view(s.shape).to(s.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        flat, slope = ctx.saved_tensors
        g = grad.reshape(-1)
        heads, levels = ctx.table_shape
        grad_table = torch.zeros(heads * levels, dtype=grad.dtype, device=grad.device)
        grad_table.index_add_(0, flat, g)
        grad_s = None
        if ctx.needs_input_grad[2]:
            grad_s = slope.reshape(-1).index_select(0, flat).mul_(g).view(grad.shape)
        return grad_table.view(heads, levels), None, grad_s
