"""The paper's LIF neuron (DS2TA Eq. 2-3) as a lava-dl SLAYER CUBA neuron.

``V[t] = (1 - 1/tau_m) V[t-1] (1 - s[t-1]) + I[t]``, ``s[t] = H(V[t] - theta)``.

SLAYER's CUBA neuron is a fixed-point model of Loihi's CUBA LIF (docs/fixed-point.md):
``current_decay = 1`` removes the current memory (``u[t] = I[t]``), ``voltage_decay = 1/tau_m``
gives Eq. 2, reset is a hard reset to zero, states live on a 1/4096 grid (12-bit decays, 6+6 bit
scale) and a neuron fires on ``v > vth`` in hardware integers. Normalisation is SLAYER's
``MeanOnlyBatchNorm``: in eval mode it is a constant bias (the negative 8-bit quantised running
mean), so it folds exactly into the bias of a Loihi neuron.
"""

from __future__ import annotations

import functools
from typing import Any

from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm

from lava_ds2ta.errors import ExportError


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
) -> cuba.Neuron:
    """A CUBA LIF neuron; with ``num_features`` it gets a per-channel mean-only batch norm.

    Input and output layout: ``N, C, [H, W,] T``. ``num_features=None`` gives a neuron without
    normalisation (the attention LIF of Spikformer has none).
    """
    norm = None
    if num_features is not None:
        norm = functools.partial(MeanOnlyBatchNorm, num_features=num_features)
    return cuba.Neuron(**lif_params(threshold, tau_m, tau_grad, scale_grad), norm=norm)


def export_params(neuron: cuba.Neuron) -> dict[str, Any]:
    """The neuron's ``device_params`` (the ``neuron/`` group of a network file), after checking
    that it is deployable: binary spikes, no persistent state, parameters shared per layer."""
    if neuron.graded_spike or neuron.persistent_state or not neuron.shared_param:
        raise ExportError(
            "neuron must have binary spikes, no persistent state and shared parameters"
        )
    return dict(neuron.device_params)
