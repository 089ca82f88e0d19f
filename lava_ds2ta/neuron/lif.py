"""The paper's LIF neuron (DS2TA Eq. 2-3) as a lava-dl SLAYER CUBA neuron.

``V[t] = (1 - 1/tau_m) V[t-1] (1 - s[t-1]) + I[t]``, ``s[t] = H(V[t] - theta)``.

SLAYER's CUBA neuron is a fixed-point model of Loihi's CUBA LIF (docs/fixed-point.md):
``current_decay = 1`` removes the current memory (``u[t] = I[t]``), ``voltage_decay = 1/tau_m``
gives Eq. 2, reset is a hard reset to zero, states live on a 1/4096 grid (12-bit decays, 6+6 bit
scale) and a neuron fires on ``v > vth`` in hardware integers. Normalisation is SLAYER's
``MeanOnlyBatchNorm``: in eval mode it is a constant bias (the negative 8-bit quantised running
mean), so it folds exactly into the bias of a Loihi neuron.

On CPU the neuron runs the fused dynamics of :mod:`lava_ds2ta.neuron.dynamics` (the same
spikes, voltages and running means as SLAYER, bit for bit; SLAYER's surrogate gradients); on
CUDA, and for any configuration the fused path does not cover, it is SLAYER's own neuron.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm

from lava_ds2ta.errors import ExportError
from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.neuron.dynamics import MAX_INPUT
from lava_ds2ta.neuron.dynamics import CubaLIFConstants
from lava_ds2ta.neuron.dynamics import cuba_lif


def lif_params(
    threshold: float = 1.0,
    tau_m: float = 2.0,
    tau_grad: float = 0.01,
    scale_grad: float = 10.0,
) -> dict[str, Any]:
    """CUBA neuron parameters for the paper's LIF.

    ``tau_grad`` and ``scale_grad`` shape SLAYER's surrogate gradient: with these defaults its
    width is ``100 * tau_grad * threshold`` (1 for threshold 1) and its peak
    ``0.1 * scale_grad / (2 * width)`` (0.5), close to spikingjelly's sigmoid surrogate
    (alpha = 4) that Spikformer and DS2TA train with.
    """
    return {
        "threshold": threshold,
        "current_decay": 1.0,
        "voltage_decay": 1.0 / tau_m,
        "tau_grad": tau_grad,
        "scale_grad": scale_grad,
    }


def lif_neuron(
    num_features: int | None,
    threshold: float = 1.0,
    tau_m: float = 2.0,
    tau_grad: float = 0.01,
    scale_grad: float = 10.0,
) -> Neuron:
    """A CUBA LIF neuron; with ``num_features`` it gets a per-channel mean-only batch norm.

    Input and output layout: ``N, C, [H, W,] T``. ``num_features=None`` gives a neuron without
    normalisation (the attention LIF of Spikformer has none).
    """
    norm = None
    if num_features is not None:
        norm = functools.partial(MeanOnlyBatchNorm, num_features=num_features)
    return Neuron(**lif_params(threshold, tau_m, tau_grad, scale_grad), norm=norm)


def export_params(neuron: cuba.Neuron) -> dict[str, Any]:
    """The neuron's ``device_params`` (the ``neuron/`` group of a network file), after checking
    that it is deployable: binary spikes, no persistent state, parameters shared per layer."""
    if neuron.graded_spike or neuron.persistent_state or not neuron.shared_param:
        raise ExportError(
            "neuron must have binary spikes, no persistent state and shared parameters"
        )
    return dict(neuron.device_params)


class Neuron(cuba.Neuron):
    """SLAYER's CUBA neuron, with the fused fixed-point dynamics on CPU. Layout ``N, C, [H, W,] T``.

    The fused path (:func:`lava_ds2ta.neuron.dynamics.cuba_lif`) covers the configuration of
    :func:`lif_neuron`: ``current_decay = 1``, shared non-learnable decays, no persistent state,
    binary spikes, no dropout, no norm or SLAYER's ``MeanOnlyBatchNorm``, float32 inputs below
    ``MAX_INPUT``. It gives SLAYER's spikes and running means exactly and its gradients up to
    float rounding. Everything else, and every CUDA tensor (lava-dl's CUDA kernels), runs
    ``cuba.Neuron.forward``. Parameters, buffers and the exported device parameters are SLAYER's.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Binary spikes for the input current ``input`` (``N, C, [H, W,] T``)."""
        constants = self.fused_constants(input)
        if constants is None:
            return super().forward(input)
        if self.shape is None:
            self.shape = input.shape[1:-1]
            self.num_neurons = np.prod(self.shape)
        elif input.shape[1:-1] != self.shape:
            raise AssertionError(
                f"Input tensor shape ({input.shape}) does not match with "
                f"Neuron shape ({self.shape})."
            )
        bias, current = self._norm_bias(input)
        return cuba_lif(input, bias, constants, current)

    def fused_constants(self, input: torch.Tensor) -> CubaLIFConstants | None:
        """The fixed-point constants if ``input`` can take the fused path, else ``None``."""
        if (
            input.device.type != "cpu"
            or input.dtype != torch.float32
            or input.dim() < 3
            or input.numel() == 0
            or self.persistent_state
            or not self.shared_param
            or self.graded_spike
            or self.requires_grad
            or self.drop is not None
            or self.debug
            or not self._norm_supported(input.shape[1])
            or not self.threshold < MAX_INPUT
            or round(float(self.current_decay)) != STATE_SCALE
        ):
            return None
        low, high = torch.aminmax(input.detach())
        if not -MAX_INPUT < low.item() <= high.item() < MAX_INPUT:  # also False for NaN
            return None
        return _constants(
            self.threshold + self.threshold_eps,
            float(self.voltage_decay),
            self.tau_rho * cuba.TAU_RHO_MULT,
            self.scale_rho * cuba.SCALE_RHO_MULT,
        )

    def _norm_supported(self, channels: int) -> bool:
        norm = self.norm
        return norm is None or (
            type(norm) is MeanOnlyBatchNorm
            and norm.num_features == channels
            and norm.running_mean.numel() == channels
        )

    def _norm_bias(self, input: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The norm's per-channel offset (shape ``C``) and, when it had to be computed for the
        batch mean, ``trunc(4096 input)``. Updates the running mean as SLAYER's norm does."""
        norm = self.norm
        if norm is None:
            return None, None
        if not (norm.training and norm.update):
            return norm.pre_hook_fx(norm.running_mean), None
        current = torch.div(input.detach(), 1.0 / STATE_SCALE, rounding_mode="trunc")
        # SLAYER averages current = trunc(4096 x) / 4096; scaling by 2^-12 commutes exactly
        # with the float sum and division, so this is the same float32 mean, bit for bit.
        n, c = input.shape[:2]
        mean = torch.mean(current.view(n, c, -1), dim=[0, 2]) / STATE_SCALE
        with torch.no_grad():
            norm.running_mean = (1 - norm.momentum) * norm.running_mean + norm.momentum * mean
        return norm.pre_hook_fx(_ChannelMean.apply(input, mean)), current


class _ChannelMean(torch.autograd.Function):
    """Returns a precomputed per-channel mean of ``x`` (``N, C, ...``); backward spreads the
    gradient evenly over the channel, as the mean's own gradient (the current's truncation is
    straight-through in SLAYER)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        return mean.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        shape = ctx.shape
        per_channel = grad / (np.prod(shape) // shape[1])
        view = (1, shape[1]) + (1,) * (len(shape) - 2)
        return per_channel.view(view).expand(shape), None


@functools.cache  # one entry per distinct neuron configuration
def _constants(
    threshold: float, voltage_decay: float, tau_rho: float, scale_rho: float
) -> CubaLIFConstants:
    """SLAYER's constants as its float32 tensor arithmetic sees them.

    ``threshold`` includes SLAYER's ``threshold_eps``; ``voltage_decay`` is the parameter value
    (``4096 / tau_m``), quantised here as ``slayer.utils.quantize`` does (round half to even).
    """
    q = round(voltage_decay)
    theta = np.float32(threshold)
    tau, scale = np.float32(tau_rho), np.float32(scale_rho)
    return CubaLIFConstants(
        decay=STATE_SCALE - q,
        reset_threshold=float(np.float32(threshold * STATE_SCALE)),
        spike_threshold=float(theta) * STATE_SCALE,
        grad_center=float(theta) * STATE_SCALE,
        grad_rate=1.0 / (float(tau) * STATE_SCALE),
        grad_scale=float(scale / np.float32(2) / tau),
        grad_decay=float(np.float32(1) - np.float32(q) / np.float32(STATE_SCALE)),
    )
