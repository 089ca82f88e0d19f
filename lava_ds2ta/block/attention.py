"""Spiking self-attention: Spikformer's SSA, with DS2TA's TASA projections and NSAD denoiser.

Per head ``h`` and time step ``t`` (``d`` = head dimension)::

    S = Q_h[t] K_h[t]^T            integers in [0, d]
    A = AD_h[S]  (NSAD)  or  S     (Spikformer)
    x = LIF_attn(2^-shift * A V_h[t])
    out = LIF(BN(W_o x))           (TASA on Q, K, V and the output projection in DS2TA)

Spikformer scales ``Q K^T`` by 0.125; here that scale is the power of two ``2^-shift`` applied
after ``A V`` so the attention path stays integer arithmetic.
"""

from __future__ import annotations

from typing import Any

import torch

from lava_ds2ta.block.conv import SpikingConv
from lava_ds2ta.denoiser import NSAD
from lava_ds2ta.errors import ExportError
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.neuron import export_params
from lava_ds2ta.neuron import lif_neuron


class SpikingSelfAttention(torch.nn.Module):
    """Multi-head spiking self-attention over a token grid. Layout ``N, D, H, W, T``.

    Parameters
    ----------
    dim, num_heads:
        embedding dimension ``D`` and heads ``H`` (``D % H == 0``).
    neuron:
        LIF parameters of the Q/K/V and output neurons.
    attn_neuron:
        LIF parameters of the attention neuron (Spikformer: threshold 0.5, no BN).
    tasa_window, tau_init:
        TASA window ``T_AW`` and initial exponent, or ``None`` for plain projections.
    nsad_u_init:
        initial NSAD threshold ``u_h``, or ``None`` for Spikformer's attention (no denoiser).
    scale_shift:
        attention scale ``2^-scale_shift`` (Spikformer: 3, i.e. 0.125).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        neuron: dict[str, Any],
        attn_neuron: dict[str, Any],
        tasa_window: int | None = None,
        tau_init: int = 4,
        nsad_u_init: float | None = None,
        scale_shift: int = 3,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale_shift = scale_shift

        def projection() -> SpikingConv:
            return SpikingConv(dim, dim, 1, 0, neuron, tasa_window, tau_init)

        self.q, self.k, self.v = projection(), projection(), projection()
        self.denoiser = None if nsad_u_init is None else NSAD(num_heads, self.head_dim, nsad_u_init)
        self.attn_neuron = lif_neuron(None, **attn_neuron)
        self.proj = projection()

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """``N, D, H, W, T`` -> ``N, heads, d, tokens, T``."""
        n, _, _, _, t = x.shape
        return x.reshape(n, self.num_heads, self.head_dim, -1, t)

    def attention_map(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Integer attention map ``S`` (``N, heads, T, tokens, tokens``) from Q and K spikes."""
        return torch.einsum("nhcit,nhcjt->nhtij", self.heads(q), self.heads(k))

    def denoised_map(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The map ``A`` that weighs V (``N, heads, T, tokens, tokens``): ``AD_h[S]`` with NSAD,
        ``S`` without."""
        s = self.attention_map(q, k)
        return s if self.denoiser is None else self.denoiser(s)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention-neuron input current ``2^-shift * A V``, layout ``N, D, H, W, T``."""
        a = self.denoised_map(q, k)
        x = torch.einsum("nhtij,nhcjt->nhcit", a, self.heads(v))
        return x.reshape(v.shape) * 2.0**-self.scale_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)
        return self.proj(self.attn_neuron(self.attend(q, k, v)))

    def export_hdf5(self, handle) -> None:
        """Write the attention core (layer type ``attention``) into an HDF5 group; Q, K, V and
        the output projection export themselves as ``SpikingConv`` layers. ``tables`` is
        ``(heads, d+1)``, only for the NSAD denoiser."""
        values: dict[str, Any] = dict(
            numHeads=self.num_heads,
            headDim=self.head_dim,
            scaleShift=self.scale_shift,
            denoiser="none" if self.denoiser is None else "nsad",
            neuron=export_params(self.attn_neuron),
        )
        if self.denoiser is not None:
            tables = self.denoiser.tables()
            if not torch.equal(self.denoiser.table_ste()[0].detach().long(), tables):
                raise ExportError(
                    "NSAD forward table differs from NSAD.tables() (float rounding at a "
                    "half-integer); nudge the NSAD parameters"
                )
            values["tables"] = tables.cpu().numpy()
        REGISTRY["attention"].write(handle, self.attn_neuron.shape, **values)
