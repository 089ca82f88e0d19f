"""Temporally attenuated spatiotemporal attention (TASA) synapse (DS2TA section 3.1).

The input current of a neuron sums the presynaptic spikes of the last ``T_AW`` steps through
one weight matrix ``W`` attenuated by ``2^(-tau m)`` per step back (Eq. 1, 4, 5)::

    I[t] = sum_{m=0}^{T_AW-1} 2^(-tau m) W s[t-m]

No weights are added beyond ``W``: on Loihi each tap ``m`` is a replica of ``W`` with weight
exponent ``-tau m`` and an axonal delay of ``m`` steps (a "delay-weight layer"). ``tau`` is a
learnable integer per layer (a real latent, rounded straight-through). With ``T_AW = 1`` the
synapse is the plain spatial-only projection of Spikformer.
"""

from __future__ import annotations

import torch
from lava.lib.dl import slayer

from lava_ds2ta.fixed_point import TAU_MAX
from lava_ds2ta.functional import attenuated_window_sum
from lava_ds2ta.functional import round_ste


class TASAConv(slayer.synapse.Conv):
    """SLAYER convolution synapse with a TASA temporal window. Layout ``N, C, H, W, T``.

    Token-wise projections of the transformer are 1x1 convolutions over the token grid.

    Parameters
    ----------
    in_features, out_features, kernel_size, padding, pre_hook_fx:
        as in :class:`lava.lib.dl.slayer.synapse.Conv` (``pre_hook_fx`` quantises weights).
    window:
        ``T_AW``, the number of taps (>= 1).
    tau_init:
        initial integer attenuation exponent (paper: 4 for CIFAR, 2 for DVS).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int = 1,
        padding: int = 0,
        window: int = 3,
        tau_init: int = 4,
        pre_hook_fx=None,
    ) -> None:
        super().__init__(
            in_features, out_features, kernel_size, padding=padding, pre_hook_fx=pre_hook_fx
        )
        if window < 1:
            raise ValueError(f"TASA window T_AW must be >= 1, got {window}")
        self.window = int(window)
        self.tau_latent = torch.nn.Parameter(torch.tensor(float(tau_init)))

    def tau(self) -> torch.Tensor:
        """The integer attenuation exponent used in the forward pass (0-d tensor, has grad)."""
        return round_ste(self.tau_latent.clamp(0, TAU_MAX))

    @property
    def tau_int(self) -> int:
        """The attenuation exponent as a Python integer (what the exporter writes)."""
        return int(self.tau().item())

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return attenuated_window_sum(super().forward(input), self.tau(), self.window)
