"""Model inputs: static images or event frames brought to SLAYER's ``N, C, H, W, T`` integer
levels, shared by every model family."""

from __future__ import annotations

from typing import Any

import torch

from lava_ds2ta.errors import InputError


def encode_input(x: torch.Tensor, config: Any) -> torch.Tensor:
    """Check ``x`` against ``config`` (``in_channels``, ``img_size``, ``time_steps``,
    ``input_levels``) and return ``floor(x * input_levels + 1/2)`` as ``N, C, H, W, T``.

    Static images ``N, C, H, W`` are repeated over the T steps (direct encoding); the first layer
    receives integer graded spikes, as on Loihi.
    """
    c = config
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
