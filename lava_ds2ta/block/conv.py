"""Spiking convolution block: 8-bit synapse (plain or TASA) -> mean-only BN -> CUBA LIF."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from lava.lib.dl import slayer

from lava_ds2ta.errors import ExportError
from lava_ds2ta.fixed_point import synapse_weight_int
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.neuron import export_params
from lava_ds2ta.neuron import lif_neuron
from lava_ds2ta.synapse import TASAConv


class SpikingConv(torch.nn.Module):
    """``Conv(k) -> BN (bias) -> LIF``; input and output ``N, C, H, W, T``, output binary spikes.

    Unlike SLAYER's blocks there is no ``delay_shift``: every path of the transformer is time
    aligned here, and the Lava deployment compensates its per-layer latency.

    Parameters
    ----------
    in_features, out_features, kernel_size, padding:
        the convolution (``kernel_size=1`` is a token-wise projection).
    neuron:
        keyword arguments of :func:`lava_ds2ta.neuron.lif_neuron` (threshold, tau_m, ...).
    tasa_window:
        ``None`` for a plain synapse, else the TASA window ``T_AW`` of a :class:`TASAConv`.
    tau_init:
        initial TASA attenuation exponent.
    """

    def __init__(
        self, in_features: int, out_features: int, kernel_size: int = 1, padding: int = 0,
        neuron: dict[str, Any] | None = None, tasa_window: int | None = None, tau_init: int = 4,
    ) -> None:  # fmt: skip
        super().__init__()
        self.neuron = lif_neuron(out_features, **(neuron or {}))
        hook = self.neuron.quantize_8bit
        if tasa_window is None:
            self.synapse = slayer.synapse.Conv(
                in_features, out_features, kernel_size, padding=padding, pre_hook_fx=hook
            )
        else:
            self.synapse = TASAConv(
                in_features, out_features, kernel_size, padding, tasa_window, tau_init, hook
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.synapse(x))

    def data_init_site(self) -> tuple[torch.nn.Parameter, torch.nn.Module, float]:
        """For :func:`lava_ds2ta.init.data_init`: the weight that scales the neuron's input, the
        neuron, and its input gain (1)."""
        return self.synapse.weight, self.neuron, 1.0

    @property
    def layer_type(self) -> str:
        """``tasa`` with a TASA window, else ``conv`` (docs/hdf5-format.md)."""
        return "tasa" if isinstance(self.synapse, TASAConv) else "conv"

    def export_hdf5(self, handle) -> None:
        """Write this layer (``conv`` or ``tasa``) into an HDF5 group, lava-dl's conv datasets
        with integer weights (``weight`` mantissas, ``bias`` = ``-round_8bit(running_mean)`` in
        weight units) plus ``window``/``tau`` for TASA."""
        syn, neuron = self.synapse, self.neuron
        if syn.pre_hook_fx is None:
            raise ExportError("synapse has no 8-bit quantisation pre-hook")
        bias = np.zeros(syn.out_channels)
        if neuron.norm is not None:
            bias = neuron.norm.bias.detach().cpu().numpy().flatten()
        values: dict[str, Any] = dict(
            inChannels=syn.in_channels,
            outChannels=syn.out_channels,
            kernelSize=syn.kernel_size[:-1],
            stride=syn.stride[:-1],
            padding=syn.padding[:-1],
            dilation=syn.dilation[:-1],
            groups=syn.groups,
            weight=synapse_weight_int(syn),
            bias=bias,
            neuron=export_params(neuron),
        )
        if isinstance(syn, TASAConv):
            values.update(window=syn.window, tau=syn.tau_int)
        REGISTRY[self.layer_type].write(handle, neuron.shape, **values)
