"""MA-SNN's gate arithmetic in PyTorch: the integers of :mod:`lava_ds2ta.gate.reference`,
computed exactly in the forward pass (training and eval), with straight-through gradients.

Real-valued tensors (``float32``) carry potentials on SLAYER's ``1 / STATE_SCALE`` grid. Integer
arithmetic runs in ``float32`` where every intermediate provably stays below ``2^24`` (checked on
the data: state units, gate products) and in ``float64`` otherwise, for sums and for the MLPs and
the SA convolution (every intermediate below ``2^53``): exact either way. Each rounding
is straight-through: the identity gradient of the real-valued operation it rounds, written as
``exact + (real - real.detach())`` so that the forward value is the exact one, bit for bit. The
sigmoid table passes the gradient of the continuous sigmoid, so the gates learn as
``sigmoid(MLP(avg) + MLP(max))`` would.
"""

from __future__ import annotations

import functools

import torch

from lava_ds2ta.fixed_point import GATE_BITS
from lava_ds2ta.fixed_point import LOGIT_FRAC_BITS
from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.functional import floor_ste
from lava_ds2ta.gate.reference import LOGIT_UNITS
from lava_ds2ta.gate.reference import sigmoid_table

#: The gate ``g = 1`` as an integer.
GATE_ONE = 1 << GATE_BITS
#: ``float32`` holds every integer of magnitude below this exactly.
F32_EXACT = 1 << 24


def _f32_exact(x: torch.Tensor, factor: float) -> bool:
    """Whether ``|x| * factor`` stays below ``F32_EXACT`` everywhere (``float32`` is exact)."""
    return x.dtype == torch.float32 and float(x.detach().abs().max()) * factor < F32_EXACT


def pool_state(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average (``round_div`` of the sum by the count) and maximum over ``dim`` of real values
    on the state grid, as ``float64`` state units; gradients as for ``mean`` and ``amax``."""
    s = x * STATE_SCALE if _f32_exact(x, STATE_SCALE) else x.double() * STATE_SCALE
    return round_div_ste(s.sum(dim, dtype=torch.float64), s.shape[dim]), s.amax(dim).double()


def round_div_ste(a: torch.Tensor, n: int) -> torch.Tensor:
    """``floor(a / n + 1/2)`` of integer-valued ``float64`` ``a`` (exact for ``|a| < 2^51``);
    the gradient is that of ``a / n``."""
    return floor_ste((2 * a + n) / (2 * n))


def mantissas(weight: torch.Tensor) -> torch.Tensor:
    """8-bit weight mantissas (SLAYER's grid, straight-through) as ``float64``."""
    return quantize_8bit(weight, descale=True).double()


@functools.cache
def _table(device: torch.device) -> torch.Tensor:
    """The sigmoid table as ``float64`` on ``device``."""
    return torch.tensor(sigmoid_table(), dtype=torch.float64, device=device)


def sigmoid_gate(z: torch.Tensor) -> torch.Tensor:
    """Gates ``g / 2^GATE_BITS`` (``float32``) of integer logits ``z`` (``float64``, logit units)
    from the sigmoid table; the gradient is that of ``sigmoid(z / 2^LOGIT_FRAC_BITS)``."""
    real = torch.sigmoid(z / (1 << LOGIT_FRAC_BITS))
    table = _table(z.device)
    index = (z.detach().clamp(-LOGIT_UNITS, LOGIT_UNITS) + LOGIT_UNITS).long()
    exact = table[index] / GATE_ONE
    return (exact + (real - real.detach())).float()


def gate_product(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``g x`` rounded half up onto the state grid: ``round_div(g_int x_int, 2^GATE_BITS)`` in
    state units; ``x`` real (``float32``) on the state grid, ``g`` a gate (``float32``)
    broadcastable to ``x``. Gradients reach both factors as for ``g x``."""
    prod = x * g
    if _f32_exact(x, STATE_SCALE * GATE_ONE):  # prod holds g_int x_int / 2^GATE_BITS exactly
        exact = torch.floor(prod.detach() * STATE_SCALE + 0.5)
    else:
        g_int = g.detach().double() * GATE_ONE
        x_int = x.detach().double() * STATE_SCALE
        exact = torch.floor((g_int * x_int + GATE_ONE // 2) / GATE_ONE)
    return (exact / STATE_SCALE).to(x.dtype) + (prod - prod.detach())


def avg_pool_current(x: torch.Tensor, k: int) -> torch.Tensor:
    """MA-SNN's AvgPool of synaptic currents (Eq. 5), ``k x k`` windows with stride ``k`` over
    ``N, C, H, W, T`` (``H``, ``W`` multiples of ``k``), onto the state grid:
    ``round_div(sum of the window in state units, k^2)``; the gradient is the average's."""
    n, c, h, w, t = x.shape
    windows = x.view(n, c, h // k, k, w // k, k, t).permute(0, 1, 2, 4, 6, 3, 5)
    avg, _ = pool_state(windows.reshape(n, c, h // k, w // k, t, k * k), -1)
    return (avg / STATE_SCALE).to(x.dtype)
