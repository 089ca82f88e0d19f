"""Optimiser: AdamW with weight decay on weight matrices only (never on biases, neuron or norm
parameters, TASA exponents or NSAD parameters: every parameter with fewer than 2 dims)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lava_ds2ta.training.config import OptimSection


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on weights with ndim >= 2, none on 1-D/scalar params."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, optim: OptimSection) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, optim.weight_decay), lr=optim.lr)
