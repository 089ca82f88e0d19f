"""Training loss: label-smoothed cross-entropy (``ce``), or the mean squared error between the
logits and the (smoothed) one-hot target (``mse``, MA-SNN's), each with soft targets under
mixup/CutMix."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lava_ds2ta.training.mixing import smooth_one_hot

#: ``optim.loss`` values.
LOSSES = ("ce", "mse")


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum(target * log_softmax(logits))``; logits/target (B, K)."""
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def training_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    soft_target: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    kind: str = "ce",
) -> torch.Tensor:
    """The ``kind`` loss (:data:`LOSSES`) of ``(B, K)`` logits. Mixing's ``soft_target`` holds the
    smoothing already; otherwise the target is ``labels`` with ``label_smoothing``. ``mse``
    averages over the batch and the classes (``nn.MSELoss``). Computed in float32."""
    logits = logits.float()
    if kind == "mse":
        if soft_target is None:
            soft_target = smooth_one_hot(labels, logits.shape[-1], label_smoothing)
        return F.mse_loss(logits, soft_target)
    if soft_target is not None:
        return soft_cross_entropy(logits, soft_target)
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
