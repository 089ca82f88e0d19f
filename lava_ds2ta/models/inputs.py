"""Model inputs: static images or event frames brought to SLAYER's ``N, C, H, W, T`` integer
levels, shared by every model family."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lava_ds2ta.errors import InputError

_INTEGER_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def encode_input(x: Any, config: Any, device: torch.device | str = "cpu") -> torch.Tensor:
    """Check ``x`` against ``config`` (``in_channels``, ``img_size``, ``time_steps``,
    ``input_levels``) and return ``floor(x * input_levels + 1/2)`` as float32 ``N, C, H, W, T``
    on ``device``.

    Static images ``N, C, H, W`` are repeated over the T steps (direct encoding); the first layer
    receives integer graded spikes, as on Loihi. Numpy arrays and other real dtypes are
    converted; anything else is an :class:`InputError` with one line.
    """
    c = config
    x = as_float_tensor(x, device)
    if x.dim() == 4:
        x = x.unsqueeze(-1).expand(*x.shape, c.time_steps)
    expected = f"(N, {c.in_channels}, {c.img_size}, {c.img_size}[, {c.time_steps}])"
    if x.dim() != 5 or tuple(x.shape[1:]) != (c.in_channels, c.img_size, c.img_size,
                                               c.time_steps):  # fmt: skip
        raise InputError(
            f"input shape {tuple(x.shape)} does not match the model: expected {expected}"
        )
    if not torch.isfinite(x).all():
        raise InputError("input contains NaN or infinite values: clean or re-encode the data")
    return torch.floor(x * c.input_levels + 0.5)


def as_float_tensor(x: Any, device: torch.device | str = "cpu") -> torch.Tensor:
    """A float32 tensor on ``device``: numpy arrays and other dtypes (float64, integers) are
    converted; anything else, or an empty batch, is an :class:`InputError`."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError):
            raise InputError(
                f"input must be a tensor or numpy array of numbers, got {type(x).__name__}"
            ) from None
    if x.dtype.is_complex or not (x.is_floating_point() or x.dtype in _INTEGER_DTYPES):
        raise InputError(f"input must hold real numbers, got dtype {x.dtype}")
    if x.dim() >= 1 and x.shape[0] == 0:
        raise InputError("input is an empty batch (N = 0): pass at least one sample")
    return x.to(device=device, dtype=torch.float32)
