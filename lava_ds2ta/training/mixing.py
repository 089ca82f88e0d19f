"""Mixup / CutMix with soft targets (timm-style "batch" mode), driven by a ``torch.Generator``.

Inputs are static images (B, C, H, W) or SLAYER event frames (B, C, H, W, T); in both layouts H and
W are dims 2 and 3, so the CutMix box is cut there (the same box over all time steps). Each batch is
mixed with its own flipped copy, as in timm. Targets are label-smoothed one-hot vectors (B, K)
whose rows sum to 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def smooth_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """(B,) int64 labels -> (B, K) targets: ``1 - s + s/K`` on the label, ``s/K`` elsewhere."""
    off = smoothing / num_classes
    out = torch.full((labels.shape[0], num_classes), off, device=labels.device)
    out.scatter_(1, labels.view(-1, 1), 1.0 - smoothing + off)
    return out


def _rand_box(h: int, w: int, lam: float, g: torch.Generator) -> tuple[int, int, int, int]:
    """CutMix box covering about ``1 - lam`` of an h x w image, centre uniform, clipped."""
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy = int(torch.randint(0, h, (1,), generator=g))
    cx = int(torch.randint(0, w, (1,), generator=g))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    return y0, y1, x0, x1


class Mixer:
    """Apply mixup or CutMix to a batch with probability ``mix_prob``.

    When both alphas are > 0, CutMix is chosen with probability ``switch_prob``. Without mixing
    the targets are just smoothed one-hot vectors, so the same soft-target loss applies.
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        mix_prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
    ) -> None:
        self.num_classes = num_classes
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.mix_prob = mix_prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing

    @property
    def active(self) -> bool:
        return self.mix_prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

    def _sample(self, g: torch.Generator) -> tuple[float, bool]:
        """Return (lam, use_cutmix); lam = 1 means no mixing."""
        if not self.active or float(torch.rand((), generator=g)) >= self.mix_prob:
            return 1.0, False
        use_cutmix = self.cutmix_alpha > 0 and (
            self.mixup_alpha <= 0 or float(torch.rand((), generator=g)) < self.switch_prob
        )
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        # Beta sample from a NumPy generator seeded from the torch generator (deterministic).
        seed = int(torch.randint(0, 2**62, (1,), generator=g))
        lam = float(np.random.default_rng(seed).beta(alpha, alpha))
        return lam, use_cutmix

    def __call__(
        self, x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix ``x`` (B, C, H, W[, T]) and int64 ``labels`` (B,) -> (x_mixed, targets (B, K)).

        ``x`` is not modified in place.
        """
        if x.dim() not in (4, 5):
            raise ValueError(
                f"mixing expects (B, C, H, W) or (B, C, H, W, T), got {tuple(x.shape)}"
            )
        lam, use_cutmix = self._sample(generator)
        target = smooth_one_hot(labels, self.num_classes, self.label_smoothing)
        if lam >= 1.0:
            return x, target
        if use_cutmix:
            y0, y1, x0, x1 = _rand_box(x.shape[2], x.shape[3], lam, generator)
            mixed = x.clone()
            mixed[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
            lam = 1.0 - (y1 - y0) * (x1 - x0) / float(x.shape[2] * x.shape[3])
        else:
            mixed = x * lam + x.flip(0) * (1.0 - lam)
        return mixed, target * lam + target.flip(0) * (1.0 - lam)
