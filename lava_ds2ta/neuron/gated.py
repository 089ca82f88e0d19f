"""MA-SNN's gated LIF (Yao et al., TPAMI 2023, Eq. 4 and 14) on SLAYER's fixed-point CUBA neuron.

MA-SNN's LIF, ``U[t] = H[t-1] + X[t]``, ``S[t] = U[t] > theta``, ``H[t] = beta U[t] (1 - S[t])``,
is SLAYER's CUBA neuron with ``current_decay = 1`` and ``voltage_decay = 1 - beta``. MA-SNN gates
it in three places (Eq. 14): TA scales the input ``X`` (all T steps, before integration), CA and
then SA scale the potential ``U[t]`` at every step before the neuron fires, and the *gated*
potential is what fires, resets and decays into the next step. SLAYER's neuron runs the whole
time loop inside one call, so this module runs SLAYER's arithmetic step by step (docs/ma-snn.md):

    x     = trunc(STATE_SCALE x) / STATE_SCALE - bias      SLAYER's current stage and mean-only norm
    x     = TA(x)                                          gate_product on the state grid
    U[t]  = trunc(V[t-1] d) + x[t]                         d = 1 - vDecay / DECAY_SCALE, on the grid
    U[t]  = SA(CA(U[t]));  S[t] = U[t] >= theta + eps;  V[t] = U[t] (1 - S[t])

Gradients follow SLAYER's: its surrogate (``spike.Spike``) at the gated potential, the decay
``d`` back through time with the reset ignored, straight-through truncations. Without gates
it reproduces SLAYER's ``cuba.Neuron`` exactly, spikes and gradients
(``tests/test_ma_snn_neuron.py``).
"""

from __future__ import annotations

import functools

import torch
from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm
from lava.lib.dl.slayer.spike.spike import Spike
from lava.lib.dl.slayer.utils import quantize

from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.neuron.lif import lif_params


def _trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """``trunc(x)``, identity gradient (exact forward value)."""
    return torch.trunc(x.detach()) + (x - x.detach())


class GatedLIF(cuba.Neuron):
    """CUBA LIF with optional MA-SNN gates; input and output ``N, C, [H, W,] T``.

    Parameters
    ----------
    num_features:
        channels of the mean-only batch norm (``None``: no norm).
    threshold, tau_m, tau_grad, scale_grad:
        the LIF of :func:`lava_ds2ta.neuron.lif_params` (``beta = 1 - 1/tau_m``).
    temporal:
        TA on the input ``X`` (all steps), or ``None``.
    channel, spatial:
        CA and SA on the potential ``U[t]`` of one step ``N, C, H, W``, or ``None``.
    """

    def __init__(
        self, num_features: int | None, threshold: float = 1.0, tau_m: float = 2.0,
        tau_grad: float = 0.01, scale_grad: float = 10.0, temporal: torch.nn.Module | None = None,
        channel: torch.nn.Module | None = None, spatial: torch.nn.Module | None = None,
    ) -> None:  # fmt: skip
        norm = None
        if num_features is not None:
            norm = functools.partial(MeanOnlyBatchNorm, num_features=num_features)
        super().__init__(**lif_params(threshold, tau_m, tau_grad, scale_grad), norm=norm)
        self.temporal, self.channel, self.spatial = temporal, channel, spatial

    def gates(self) -> list[torch.nn.Module]:
        """The gates present, in the order they act (TA, CA, SA)."""
        return [g for g in (self.temporal, self.channel, self.spatial) if g is not None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape is None:
            self.shape = x.shape[1:-1]
        current = _trunc_ste(x * STATE_SCALE) / STATE_SCALE  # SLAYER's current stage (decay 1)
        if self.norm is not None:
            current = self.norm(current)
        if self.temporal is not None:
            current = self.temporal(current)
        return self._voltage_steps(current)

    def _voltage_steps(self, current: torch.Tensor) -> torch.Tensor:
        """SLAYER's voltage stage with CA/SA on ``U[t]``, one step at a time; returns spikes."""
        v_decay = quantize(self.voltage_decay)
        keep = DECAY_SCALE - int(v_decay.item())
        grad_keep = 1 - v_decay / DECAY_SCALE  # SLAYER's backward decay factor (float32)
        # trunc(v_int keep / DECAY_SCALE) in float32 when keep / DECAY_SCALE is a power of two.
        dtype = torch.float32 if keep & (keep - 1) == 0 else torch.float64
        spike_args = (
            self.threshold + self.threshold_eps, self.tau_rho * cuba.TAU_RHO_MULT,
            self.scale_rho * cuba.SCALE_RHO_MULT, False, self.voltage_state, 1,
        )  # fmt: skip
        v = torch.zeros_like(current[..., 0])
        spikes = []
        for t in range(current.shape[-1]):
            exact = torch.trunc(v.detach().to(dtype) * (STATE_SCALE * keep / DECAY_SCALE))
            u = (exact / STATE_SCALE).float() + (v - v.detach()) * grad_keep + current[..., t]
            if self.channel is not None:
                u = self.channel(u)
            if self.spatial is not None:
                u = self.spatial(u)
            s = Spike.apply(u, *spike_args)
            v = u - (u * s).detach()  # hard reset; SLAYER's gradient ignores it
            spikes.append(s)
        return torch.stack(spikes, dim=-1)
