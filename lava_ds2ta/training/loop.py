"""One training epoch (forward, loss, backward, optimiser and schedule step) and evaluation.

Test metrics are measured in ``model.eval()`` under ``torch.no_grad()``; SLAYER's weight
quantisation hook is active in eval too, so they are the metrics of the deployed model. A test
batch of clips, ``(B, K, C, H, W, T)`` (a data set's clip protocol, e.g. DVS128 Gesture's 10-clip
voting), is voted: a sample counts as correct when more than half of its K clips are; its loss is
the mean over the clips.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.init import data_init
from lava_ds2ta.training.config import OptimSection
from lava_ds2ta.training.distributed import DistContext
from lava_ds2ta.training.distributed import broadcast_state
from lava_ds2ta.training.loss import training_loss
from lava_ds2ta.training.mixing import Mixer


class TrainingError(Ds2taError):
    """Training cannot continue (e.g. the loss became NaN/inf)."""


CLIP_DIMS = 6  # (B, K, C, H, W, T): K clips of event frames per sample


@torch.no_grad()
def evaluate_sums(model: nn.Module, loader: DataLoader, device: torch.device, loss: str = "ce"):
    """``(summed loss, correct predictions, samples)`` in eval mode; ``loss`` is the training
    loss's kind (:data:`~lava_ds2ta.training.loss.LOSSES`), without label smoothing."""
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        clips = x.shape[1] if x.dim() == CLIP_DIMS else 1
        logits = model(x.flatten(0, 1) if x.dim() == CLIP_DIMS else x)
        y_clips = y.repeat_interleave(clips)
        per_clip = training_loss(logits, y_clips, kind=loss) * y_clips.shape[0]
        total_loss += float(per_clip) / clips
        hits = (logits.argmax(-1) == y_clips).view(-1, clips).sum(dim=1)
        correct += int((2 * hits > clips).sum())
        n += y.shape[0]
    return total_loss, correct, n


def evaluate(
    model: nn.Module, loader: DataLoader, device: torch.device, loss: str = "ce"
) -> tuple[float, float]:
    """``(mean loss, accuracy in %)`` in eval mode, without label smoothing."""
    total_loss, correct, n = evaluate_sums(model, loader, device, loss)
    return total_loss / max(n, 1), 100.0 * correct / max(n, 1)


@dataclass
class Engine:
    """Everything one training step needs. ``model`` is what is trained (the DDP wrapper under
    ``torchrun``), ``base`` the model itself; ``checkpoint`` is named in error messages."""

    model: nn.Module
    base: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    mixer: Mixer
    optim: OptimSection
    device: torch.device
    dist: DistContext
    checkpoint: Path
    scaler: torch.cuda.amp.GradScaler | None = None
    progress: bool | None = None

    def train_epoch(self, epoch: int, loader: DataLoader, mix_gen: torch.Generator):
        """Train one epoch; returns ``(mean loss, accuracy in %)`` over all processes."""
        self.model.train()
        total_loss, correct, n = 0.0, 0, 0
        disable = None if self.progress is None else not self.progress  # None: tqdm decides
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.optim.epochs}", unit="batch", leave=False,
                   mininterval=1.0, dynamic_ncols=True,
                   disable=disable if self.dist.is_main else True)  # fmt: skip
        for step, (x, y) in enumerate(bar, start=1):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            loss, logits = self.step(x, y, mix_gen, f"epoch {epoch}, step {step}")
            total_loss += loss * y.shape[0]
            correct += int((logits.argmax(-1) == y).sum())
            n += y.shape[0]
            if bar.n % 10 == 0:
                bar.set_postfix(loss=f"{total_loss / n:.3f}", refresh=False)
        bar.close()
        if self.dist.enabled:
            total_loss, correct, n = self.dist.sum([total_loss, correct, n], self.device)
        return total_loss / n, 100.0 * correct / n

    def step(self, x: torch.Tensor, y: torch.Tensor, mix_gen: torch.Generator, where: str):
        """One optimiser step on a batch; returns ``(loss value, logits)``."""
        soft = None
        if self.mixer.active:
            x, soft = self.mixer(x, y, mix_gen)
        if not bool(getattr(self.base, "initialized", True)):
            self.initialize(x)
        with self.autocast():
            logits = self.model(x)
            loss = training_loss(logits, y, soft, self.optim.label_smoothing, self.optim.loss)
        finite = bool(torch.isfinite(loss))
        if self.dist.enabled:
            finite = self.dist.all_true(finite, self.device)
        if not finite:
            self.non_finite("training loss", float(loss), where)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.amp_step(loss)
        else:
            loss.backward()
            if self.optim.grad_clip > 0:
                norm = nn.utils.clip_grad_norm_(self.base.parameters(), self.optim.grad_clip)
                if not torch.isfinite(norm):
                    self.non_finite("gradient norm", float(norm), where)
            self.optimizer.step()
        self.scheduler.step()
        return float(loss), logits

    def initialize(self, x: torch.Tensor) -> None:
        """The model's data-dependent initialisation (:func:`lava_ds2ta.init.data_init`), once,
        on the first training batch; under ``torchrun`` rank 0's result goes to every rank."""
        data_init(self.base, x)
        if self.dist.enabled:
            broadcast_state(self.base)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.scaler is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def amp_step(self, loss: torch.Tensor) -> None:
        """Scaled backward and step; steps with inf/NaN gradients are skipped by the scaler."""
        assert self.scaler is not None
        self.scaler.scale(loss).backward()
        if self.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.base.parameters(), self.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def non_finite(self, what: str, value: float, where: str) -> None:
        saved = (f"; last good checkpoint: {self.checkpoint}" if self.checkpoint.is_file()
                 else "; no checkpoint was written yet")  # fmt: skip
        raise TrainingError(
            f"{what} became {value} at {where}: lower optim.lr (now {self.optim.lr:g}) or "
            f"raise optim.warmup_epochs{saved}"
        )
