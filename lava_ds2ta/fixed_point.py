"""The fixed-point contract shared by SLAYER training, the network file and Lava / Loihi 2.

Every constant of the contract lives here (docs/fixed-point.md explains them):

- **Weight units.** SLAYER quantises weights to a step of ``2 / W_SCALE`` in
  ``[-256, 254] / W_SCALE`` (``quantize_8bit``); descaled (times ``W_SCALE``) a weight is an even
  integer mantissa in ``[W_MIN, W_MAX]``, as Loihi's 8-bit weights and Lava's fixed-point models
  use them. Synaptic currents are counted in the same units.
- **State units.** Neuron states ``u, v`` are weight units times ``W_SCALE`` (Lava shifts ``a_in``
  and the bias left by ``WEIGHT_EXP = 6`` bits); decays are 12-bit (``DECAY_SCALE``) and states are
  24-bit on Loihi: Lava wraps ``u`` and clips ``v`` at ``STATE_LIMIT``.
- **Ranges** the exporter and the reader enforce: thresholds (17-bit mantissa), biases (13-bit),
  TASA exponents (Loihi's weight exponent reaches ``-TAU_MAX``), the attention scale shift, delays.
- **MA-SNN gates** (docs/ma-snn.md): gates are integers ``g`` in ``[0, 2^GATE_BITS]`` standing
  for ``g / 2^GATE_BITS``; their logits are integers in units of ``2^-LOGIT_FRAC_BITS``, clamped
  to ``+-LOGIT_LIMIT`` (real) before the sigmoid table.
"""

from __future__ import annotations

import numpy as np
import torch
from lava.lib.dl.slayer.utils import quantize

#: Scale between SLAYER's real-valued weights / currents and the 8-bit weight mantissas.
W_SCALE = 64
#: ``log2(W_SCALE)``: Lava's LIF shifts ``a_in`` and ``bias_mant`` left by this many bits.
WEIGHT_EXP = 6
#: Even integer weight mantissas lie in ``[W_MIN, W_MAX]``.
W_MIN, W_MAX = -256, 254
#: Scale of the 12-bit current and voltage decays (``iDecay``, ``vDecay``).
DECAY_SCALE = 4096
#: State units per real unit: SLAYER's CUBA states live on a ``1 / STATE_SCALE`` grid.
STATE_SCALE = W_SCALE << WEIGHT_EXP
#: Lava wraps ``u`` and clips ``v`` at 24 bits: ``|state|`` must stay below ``STATE_LIMIT``.
STATE_LIMIT = 1 << 23
#: Largest threshold mantissa ``vThMant`` (17 bits on Loihi).
VTH_MAX = (1 << 17) - 1
#: Largest bias mantissa magnitude (13-bit signed on Loihi).
BIAS_MAX = 4095
#: Largest TASA attenuation exponent ``tau`` (Loihi's weight exponent reaches ``-8``).
TAU_MAX = 8
#: Largest attention scale shift: ``2^(WEIGHT_EXP - shift)`` must be an integer.
SCALE_SHIFT_MAX = WEIGHT_EXP
#: Largest synaptic delay of Loihi 2 (and Lava's ``DelayDense``).
DELAY_MAX = 62
#: MA-SNN gates are ``g / 2^GATE_BITS`` with integer ``g`` in ``[0, 2^GATE_BITS]``.
GATE_BITS = 8
#: MA-SNN gate logits are integers in units of ``2^-LOGIT_FRAC_BITS``.
LOGIT_FRAC_BITS = 5
#: Gate logits are clamped to ``[-LOGIT_LIMIT, LOGIT_LIMIT]`` (real units) before the sigmoid.
LOGIT_LIMIT = 8


def logit_scale(tokens: int, time_steps: int) -> int:
    """Integer logits of the readout are ``logit_scale(tokens, T) * model logits``.

    The readout sums ``W_int x`` over ``tokens`` positions and ``T`` steps, where the PyTorch model
    takes the mean of ``W x`` with real weights ``W = W_int / W_SCALE``.
    """
    return W_SCALE * int(tokens) * int(time_steps)


def quantize_8bit(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """SLAYER's 8-bit weight grid (straight-through gradient); ``descale`` multiplies by
    ``W_SCALE``, giving the integer mantissas as floats."""
    q = quantize(x, step=2 / W_SCALE).clamp(W_MIN / W_SCALE, W_MAX / W_SCALE)
    return q * W_SCALE if descale else q


def to_int(x: torch.Tensor) -> np.ndarray:
    """Descaled quantised values as ``int32`` mantissas (exact: they lie on an integer grid)."""
    return np.rint(quantize_8bit(x.detach(), descale=True).cpu().numpy()).astype(np.int32)


def synapse_weight_int(synapse: torch.nn.Module) -> np.ndarray:
    """Integer weight mantissas of a SLAYER synapse, as its ``pre_hook_fx`` quantises them.

    Layout follows the synapse: ``out, in[, kH, kW]`` (SLAYER's trailing time axis dropped).
    """
    w = synapse.pre_hook_fx(synapse.weight.detach(), descale=True)
    w = w.reshape(synapse.weight.shape[:-1]).cpu().numpy()
    return np.rint(w).astype(np.int32)
