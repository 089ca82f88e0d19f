"""Training loss: label-smoothed cross-entropy, or soft-target cross-entropy with mixup/CutMix."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum(target * log_softmax(logits))``; logits/target (B, K)."""
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def training_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    soft_target: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Soft-target CE when mixing produced ``soft_target`` (it holds the smoothing already),
    else CE on ``labels`` with ``label_smoothing``. Computed in float32."""
    if soft_target is not None:
        return soft_cross_entropy(logits.float(), soft_target)
    return F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
