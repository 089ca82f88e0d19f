"""Per-step learning-rate schedule: linear warmup then cosine decay to ``min_lr``."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine_factor(
    step: int, total_steps: int, warmup_steps: int, min_factor: float = 0.0
) -> float:
    """LR multiplier for optimizer step ``step`` (0-based).

    Warmup: ``(step + 1) / warmup_steps`` (never 0, so the first step already learns).
    Then cosine from 1 to ``min_factor`` over the remaining steps.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float,
    lr: float,
    min_lr: float = 0.0,
) -> LambdaLR:
    """LambdaLR stepped once per optimizer step (not per epoch)."""
    total = steps_per_epoch * epochs
    warmup = int(round(warmup_epochs * steps_per_epoch))
    min_factor = min_lr / lr

    def factor(step: int) -> float:
        return warmup_cosine_factor(step, total, warmup, min_factor)

    return LambdaLR(optimizer, factor)
