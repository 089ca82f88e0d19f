"""MA-SNN layer: ``Conv -> [AvgPool] -> BN (bias) -> [TA] -> LIF with [CA, SA] on U`` (Eq. 5, 14).

The layer's input current is MA-SNN's ``X = AvgPool(BN(Conv(W, S)))`` (the mean-only norm is a
per-channel bias, so it commutes with the pooling); TA gates ``X`` over all T steps (the paper's
recommended Conv-POST place), CA and SA gate the membrane potential at every step (Activate-PRE),
and the gated potential fires, resets and decays (:class:`lava_ds2ta.neuron.GatedLIF`). A fully
connected layer is a convolution whose kernel covers the whole input map (output ``1 x 1``).
"""

from __future__ import annotations

from typing import Any

import torch
from lava.lib.dl import slayer

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.gate import INIT_GATE
from lava_ds2ta.gate import ChannelGate
from lava_ds2ta.gate import SpatialGate
from lava_ds2ta.gate import TemporalGate
from lava_ds2ta.gate.functional import avg_pool_current
from lava_ds2ta.neuron.gated import GatedLIF

#: Attention variant -> the gated dimensions (T: TA, C: CA, S: SA), the paper's Table 6.
ATTENTIONS: dict[str, str] = {
    "none": "", "TA": "T", "CA": "C", "SA": "S",
    "TCA": "TC", "TSA": "TS", "CSA": "CS", "TCSA": "TCS",
}  # fmt: skip


def attention_dims(attention: str, key: str = "model.attention") -> str:
    """The gated dimensions of an attention variant; a one-line :class:`ConfigError` names
    ``key`` for an unknown one."""
    if attention not in ATTENTIONS:
        raise ConfigError(
            f"{key}: unknown attention {attention!r} (known: {', '.join(ATTENTIONS)})"
        )
    return ATTENTIONS[attention]


class GatedSpikingConv(torch.nn.Module):
    """One MA-SNN layer; input ``N, C_in, H, W, T`` spikes (or integer levels), output
    ``N, C_out, H', W', T`` binary spikes, time aligned (no ``delay_shift``).

    Parameters
    ----------
    in_features, out_features, kernel_size, padding:
        the convolution (8-bit weights, SLAYER's ``quantize_8bit``).
    pool:
        ``k`` of the ``k x k`` average pooling of the current (1: none).
    dims:
        gated dimensions, a subset of ``"TCS"`` (:data:`ATTENTIONS`).
    time_steps, t_ratio, c_ratio, sa_kernel:
        TA's MLP ``T -> T / t_ratio -> T``, CA's ``C -> C / c_ratio -> C``, SA's kernel.
    neuron:
        LIF keyword arguments (threshold, tau_m, tau_grad, scale_grad).
    """

    def __init__(
        self, in_features: int, out_features: int, kernel_size: int | tuple[int, int] = 3,
        padding: int = 1, pool: int = 1, dims: str = "", time_steps: int = 1, t_ratio: int = 1,
        c_ratio: int = 1, sa_kernel: int = 7, neuron: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.neuron = GatedLIF(
            out_features,
            **(neuron or {}),
            temporal=TemporalGate(time_steps, t_ratio) if "T" in dims else None,
            channel=ChannelGate(out_features, c_ratio) if "C" in dims else None,
            spatial=SpatialGate(sa_kernel) if "S" in dims else None,
        )
        self.synapse = slayer.synapse.Conv(
            in_features, out_features, kernel_size, padding=padding,
            pre_hook_fx=self.neuron.quantize_8bit,
        )  # fmt: skip
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.synapse(x)
        if self.pool > 1:
            current = avg_pool_current(current, self.pool)
        return self.neuron(current)

    def data_init_site(self) -> tuple[torch.nn.Parameter, torch.nn.Module, float]:
        """For :func:`lava_ds2ta.init.data_init`: the weight that scales the neuron's input, the
        neuron, and the gain of the gates at initialisation (``1/2`` each)."""
        return self.synapse.weight, self.neuron, INIT_GATE ** len(self.neuron.gates())
