"""8-bit quantisation shared by every synapse, and conversion to Loihi integers.

The rule is SLAYER's ``Neuron.quantize_8bit`` with ``w_scale = 64``: step ``2/64``, clamp to
``[-256/64, 254/64]``. Descaled (times 64) a weight is an even integer in ``[-256, 254]``, the
8-bit mantissa Loihi and Lava's fixed-point models use.
"""

from __future__ import annotations

import numpy as np
import torch
from lava.lib.dl.slayer.utils import quantize

from lava_ds2ta.functional import W_SCALE


def quantize_8bit(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """Quantise to SLAYER's 8-bit weight grid (straight-through gradient)."""
    q = quantize(x, step=2 / W_SCALE).clamp(-256 / W_SCALE, 254 / W_SCALE)
    return q * W_SCALE if descale else q


def to_int(x: torch.Tensor) -> np.ndarray:
    """Descaled quantised values as ``int32`` (exact: they lie on an integer grid)."""
    return np.rint(quantize_8bit(x.detach(), descale=True).cpu().numpy()).astype(np.int32)


def synapse_weight_int(synapse: torch.nn.Module) -> np.ndarray:
    """Integer weight mantissas of a SLAYER synapse, as its ``pre_hook_fx`` quantises them.

    Layout follows the synapse: ``out, in[, kH, kW]`` (SLAYER's trailing time axis dropped).
    """
    w = synapse.pre_hook_fx(synapse.weight.detach(), descale=True)
    w = w.reshape(synapse.weight.shape[:-1]).cpu().numpy()
    return np.rint(w).astype(np.int32)
