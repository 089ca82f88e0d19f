"""Supervised training loop for the spiking transformers (SLAYER blocks, PyTorch autograd).

Recipe: AdamW (no weight decay on 1-D params: biases, norms, thresholds), per-step cosine schedule
with linear warmup, label-smoothing cross-entropy (soft-target CE when mixup/CutMix is on),
global grad-norm clipping. Inputs are (B, C, H, W) static images or (B, C, H, W, T) frames.

Determinism: at the start of epoch e every RNG is reseeded from ``seed * 1000 + e`` (global
torch/NumPy/Python RNGs, the shuffling generator and the mixing generator), and checkpoints hold
model, optimizer, scheduler, history and RNG states, so a run interrupted after epoch k and resumed
ends with exactly the metrics of an uninterrupted run (same device and thread count).

Output dir: ``last.pt`` (every epoch), ``best.pt`` (best test accuracy), ``metrics.csv``,
``metrics.json`` and ``config.yaml``. Test metrics are measured in ``model.eval()`` under
``torch.no_grad()``; SLAYER's weight quantisation hook is active in eval too.

Distributed (``torchrun``, see :mod:`lava_ds2ta.training.distributed`): the model is wrapped in
``DistributedDataParallel``; ``data.batch_size`` is the global batch, split evenly over the W
processes; a ``DistributedSampler`` (seed ``seed * 1000``, ``set_epoch(e)``, so the permutation of
epoch e is fixed by ``seed * 1000 + e`` as in single-process runs) deals the training set and each
rank's RNGs are reseeded from ``seed * 1000 + e + rank * RANK_SEED_STRIDE`` (rank 0: the
single-process seed). The data-dependent initialisation runs before wrapping, and DDP copies rank
0's result to every rank. Losses/accuracies are summed over ranks; the test set is sharded without
padding, so test metrics are exact. Only rank 0 writes checkpoints, metrics, config and logs.
Resuming is exact for the same world size. ``optim.amp`` (CUDA only) runs training forwards under
float16 autocast with a gradient scaler (its state is checkpointed); evaluation stays float32.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import ConfigError, Ds2taError
from lava_ds2ta.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lava_ds2ta.training.config import TrainConfig
from lava_ds2ta.training.distributed import (
    DistContext,
    ShardSampler,
    broadcast_buffers,
    init_distributed,
)
from lava_ds2ta.training.metrics import write_metrics
from lava_ds2ta.training.mixing import Mixer
from lava_ds2ta.training.model_factory import build_model, check_data_compat, resolve_model_config
from lava_ds2ta.training.schedule import build_scheduler
from lava_ds2ta.utils.seed import get_rng_states, seed_everything, set_rng_states

# Config keys that may differ between the original run and a resumed one.
RESUME_FREE_KEYS = {
    "output_dir",
    "device",
    "data.num_workers",
    "data.eval_batch_size",
    "data.root",
    "data.download",
    "data.options.cache",
    "data.options.cache_dir",
}
MIX_SEED_OFFSET = 2**40
RANK_SEED_STRIDE = 1_000_003  # per-rank seed offset under DDP (rank 0 keeps the plain seed)


class TrainingError(Ds2taError):
    """Training cannot continue (e.g. the loss became NaN/inf)."""


@dataclass
class TrainResult:
    """Summary of a finished (or deliberately stopped) run; accuracies in percent."""

    output_dir: Path
    history: list[dict[str, Any]]
    best_acc: float
    best_epoch: int
    epochs_done: int
    epochs_total: int

    @property
    def final_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    @property
    def last_checkpoint(self) -> Path:
        return self.output_dir / "last.pt"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def check_resume_compatible(current: dict[str, Any], saved: dict[str, Any], path: Path) -> None:
    """Refuse to resume when the recipe changed (results would not match an uninterrupted run)."""
    cur, old = _flatten(current), _flatten(saved)
    defaults = _flatten(TrainConfig().to_dict())
    for key in sorted(set(cur) | set(old)):
        if key in RESUME_FREE_KEYS or cur.get(key) == old.get(key):
            continue
        if key not in old and key in defaults and cur[key] == defaults[key]:
            continue  # a key added after the checkpoint was written, at its default
        raise CheckpointError(
            f"cannot resume from {path}: '{key}' is {cur.get(key)!r} in the config but "
            f"{old.get(key)!r} in the checkpoint; use the original config or a new --output-dir"
        )


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


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum(target * log_softmax(logits))``; logits/target (B, K)."""
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


@torch.no_grad()
def evaluate_sums(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[float, int, int]:
    """Return (summed CE loss, correct predictions, samples) in eval mode."""
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
        n += y.shape[0]
    return total_loss, correct, n


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Return (mean CE loss, accuracy in %) in eval mode without label smoothing."""
    total_loss, correct, n = evaluate_sums(model, loader, device)
    return total_loss / max(n, 1), 100.0 * correct / max(n, 1)


def _progress_enabled(progress: bool | None) -> bool | None:
    """None -> tqdm decides (off when stderr is not a TTY); also off when $CI is set."""
    if progress is None and os.environ.get("CI"):
        return False
    return progress


class Trainer:
    """Train one config into ``cfg.output_dir``; see the module docstring for the recipe."""

    def __init__(
        self,
        cfg: TrainConfig,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.resume = resume
        self.overwrite = overwrite
        self.progress = _progress_enabled(progress)
        self.log = log or (lambda msg: print(msg, flush=True))
        self.out = Path(cfg.output_dir)
        self.dist = DistContext()
        self.scaler: torch.cuda.amp.GradScaler | None = None

    # ----------------------------------------------------------------- setup
    def _prepare_output_dir(self) -> None:
        last = self.out / "last.pt"
        if self.resume:
            if not last.is_file():
                raise CheckpointError(
                    f"nothing to resume: {last} does not exist; run without --resume to start"
                )
            return
        if last.exists() and not self.overwrite:
            raise Ds2taError(
                f"{self.out} already holds a run ({last.name}); pass --resume to continue it, "
                "--overwrite to start over, or choose another --output-dir"
            )
        if not self.dist.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        for name in ("last.pt", "best.pt", "metrics.csv", "metrics.json"):
            (self.out / name).unlink(missing_ok=True)

    def _loaders(
        self, train_ds: Dataset, test_ds: Dataset, device: torch.device
    ) -> tuple[DataLoader, DataLoader, torch.Generator]:
        d = self.cfg.data
        if len(train_ds) < d.batch_size:
            raise ConfigError(
                f"config: 'data.batch_size' ({d.batch_size}) exceeds the {len(train_ds)} "
                "training samples; lower it or raise data.subset"
            )
        gen = torch.Generator()
        pin = device.type == "cuda"
        if self.dist.enabled:
            return (*self._dist_loaders(train_ds, test_ds, gen, pin), gen)
        train = DataLoader(
            train_ds,
            batch_size=d.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=d.num_workers,
            generator=gen,
            pin_memory=pin,
        )
        test = DataLoader(
            test_ds,
            batch_size=d.eval_batch_size,
            shuffle=False,
            num_workers=d.num_workers,
            pin_memory=pin,
        )
        return train, test, gen

    def _dist_loaders(
        self, train_ds: Dataset, test_ds: Dataset, gen: torch.Generator, pin: bool
    ) -> tuple[DataLoader, DataLoader]:
        d, w, r = self.cfg.data, self.dist.world_size, self.dist.rank
        if d.batch_size % w:
            raise ConfigError(
                f"config: 'data.batch_size' ({d.batch_size}) is the global batch and must be "
                f"divisible by the {w} processes"
            )
        per_rank = d.batch_size // w
        if len(train_ds) // w < per_rank:
            raise ConfigError(
                f"config: 'data.batch_size' ({d.batch_size}) exceeds the {len(train_ds)} "
                "training samples; lower it or raise data.subset"
            )
        sampler = DistributedSampler(
            train_ds,
            num_replicas=w,
            rank=r,
            shuffle=True,
            seed=self.cfg.seed * 1000,
            drop_last=True,
        )
        train = DataLoader(
            train_ds,
            batch_size=per_rank,
            sampler=sampler,
            drop_last=True,
            num_workers=d.num_workers,
            generator=gen,
            pin_memory=pin,
        )
        test = DataLoader(
            test_ds,
            batch_size=max(1, -(-d.eval_batch_size // w)),
            sampler=ShardSampler(len(test_ds), r, w),
            num_workers=d.num_workers,
            pin_memory=pin,
        )
        return train, test

    # ----------------------------------------------------------------- loop
    def _train_epoch(
        self, epoch: int, loader: DataLoader, mix_gen: torch.Generator
    ) -> tuple[float, float]:
        o = self.cfg.optim
        self.train_model.train()
        total_loss, correct, n = 0.0, 0, 0
        bar = tqdm(
            loader,
            desc=f"epoch {epoch}/{o.epochs}",
            unit="batch",
            leave=False,
            mininterval=1.0,
            dynamic_ncols=True,
            disable=(None if self.progress is None else not self.progress)
            if self.dist.is_main
            else True,
        )
        for step, (x, y) in enumerate(bar, start=1):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                if self.mixer.active:
                    x_in, target = self.mixer(x, y, mix_gen)
                    logits = self.train_model(x_in)
                    loss = soft_cross_entropy(logits.float(), target)
                else:
                    logits = self.train_model(x)
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=o.label_smoothing)
            finite = bool(torch.isfinite(loss))
            if self.dist.enabled:
                finite = self.dist.all_true(finite, self.device)
            if not finite:
                self._non_finite("training loss", float(loss), epoch, step)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self._amp_step(loss)
            else:
                loss.backward()
                if o.grad_clip > 0:
                    norm = nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
                    if not torch.isfinite(norm):
                        self._non_finite("gradient norm", float(norm), epoch, step)
                self.optimizer.step()
            self.scheduler.step()
            total_loss += float(loss) * y.shape[0]
            correct += int((logits.argmax(-1) == y).sum())
            n += y.shape[0]
            if bar.n % 10 == 0:
                bar.set_postfix(loss=f"{total_loss / n:.3f}", refresh=False)
        bar.close()
        if self.dist.enabled:
            total_loss, correct, n = self.dist.sum([total_loss, correct, n], self.device)
        return total_loss / n, 100.0 * correct / n

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.scaler is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def _amp_step(self, loss: torch.Tensor) -> None:
        """Scaled backward and step; steps with inf/NaN gradients are skipped by the scaler."""
        assert self.scaler is not None
        self.scaler.scale(loss).backward()
        if self.cfg.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def _evaluate(self, loader: DataLoader) -> tuple[float, float]:
        if not self.dist.enabled:
            return evaluate(self.model, loader, self.device)
        broadcast_buffers(self.model)  # running statistics drift apart during the epoch
        total_loss, correct, n = self.dist.sum(
            list(evaluate_sums(self.model, loader, self.device)), self.device
        )
        return total_loss / max(n, 1), 100.0 * correct / max(n, 1)

    def _init_before_ddp(self, loader: DataLoader) -> None:
        """Run the model's data-dependent initialisation before DDP wraps it (DDP then copies
        rank 0's weights to all ranks); the single-process run does it in its first step."""
        if not hasattr(self.model, "initialized") or bool(self.model.initialized):
            return
        from lava_ds2ta.init import data_init

        sampler = loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self.start_epoch + 1)
        x, _ = next(iter(loader))
        data_init(self.model, x.to(self.device))
        self.model.initialized.fill_(True)

    def _non_finite(self, what: str, value: float, epoch: int, step: int | None) -> None:
        where = f"epoch {epoch}, step {step}" if step is not None else f"epoch {epoch}"
        raise TrainingError(
            f"{what} became {value} at {where}: lower optim.lr (now {self.cfg.optim.lr:g}) or "
            f"raise optim.warmup_epochs; last good checkpoint: {self.out / 'last.pt'}"
        )

    def _state(self, epoch: int) -> dict[str, Any]:
        model_config = getattr(self.model, "config", None)
        model_config = (
            model_config.to_dict() if model_config is not None else self.cfg.model.to_dict()
        )
        return {
            "model": self.model.state_dict(),
            "model_config": model_config,
            "config": self.cfg.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,
            "best_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "rng": get_rng_states(),
            **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
        }

    def _restore(self) -> None:
        path = self.out / "last.pt"
        state = load_checkpoint(path)
        check_resume_compatible(self.cfg.to_dict(), state["config"], path)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            if self.scaler is not None and "scaler" in state:
                self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(
                f"checkpoint {path} does not fit this model/optimizer "
                f"({str(exc).splitlines()[0][:120]}); delete it or use a new --output-dir"
            ) from None
        self.start_epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.best_acc = float(state["best_acc"])
        self.best_epoch = int(state["best_epoch"])
        set_rng_states(state["rng"])

    def fit(self, stop_after_epoch: int | None = None) -> TrainResult:
        """Train (or resume) to ``optim.epochs``; ``stop_after_epoch`` stops early (for tests).

        Under ``torchrun`` this joins the process group first (and leaves it at the end)."""
        self.dist, self.device = init_distributed(self.cfg.device)
        try:
            return self._fit(stop_after_epoch)
        finally:
            self.dist.close()

    def _fit(self, stop_after_epoch: int | None) -> TrainResult:
        cfg, o, main = self.cfg, self.cfg.optim, self.dist.is_main
        if not main:
            self.log = lambda _msg: None
        self._prepare_output_dir()
        self.dist.barrier()
        model_cfg = resolve_model_config(cfg.model)
        data_kw: dict[str, Any] = dict(cfg.data.options)
        data_kw.update(subset=cfg.data.subset, root=cfg.data.root, download=cfg.data.download)
        if cfg.data.download and self.dist.enabled:  # rank 0 downloads, the others wait
            if main:
                build_datasets(cfg.data.name, model=model_cfg, **data_kw)
            self.dist.barrier()
            data_kw["download"] = False
        train_ds, test_ds, info = build_datasets(cfg.data.name, model=model_cfg, **data_kw)
        train_loader, test_loader, shuffle_gen = self._loaders(train_ds, test_ds, self.device)

        check_data_compat(model_cfg, info, cfg.data.name)
        seed_everything(cfg.seed)
        self.model = build_model(cfg.model).to(self.device)
        self.train_model: nn.Module = self.model
        self.optimizer = torch.optim.AdamW(param_groups(self.model, o.weight_decay), lr=o.lr)
        self.scheduler = build_scheduler(
            self.optimizer, len(train_loader), o.epochs, o.warmup_epochs, o.lr, o.min_lr
        )
        if o.amp:
            if self.device.type == "cuda":
                self.scaler = torch.cuda.amp.GradScaler()
            else:
                self.log(f"warning: optim.amp needs CUDA; training in float32 on {self.device}")
        self.mixer = Mixer(
            info["num_classes"],
            o.mixup_alpha,
            o.cutmix_alpha,
            o.mix_prob,
            label_smoothing=o.label_smoothing,
        )
        self.start_epoch, self.history = 0, []
        self.best_acc, self.best_epoch = -1.0, 0
        if self.resume:
            self._restore()
            self.log(f"resumed from {self.out / 'last.pt'} after epoch {self.start_epoch}")
            if self.start_epoch >= o.epochs:
                self.log(f"training already complete ({self.start_epoch}/{o.epochs} epochs)")
        elif main:
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if self.dist.enabled:
            self._init_before_ddp(train_loader)
            cuda = self.device.type == "cuda"
            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if cuda else None
            )
            self.log(
                f"distributed: {self.dist.world_size} processes "
                f"({'nccl' if cuda else 'gloo'}), {cfg.data.batch_size // self.dist.world_size} "
                "samples per process and step"
            )

        for epoch in range(self.start_epoch + 1, o.epochs + 1):
            t0 = time.perf_counter()
            base = cfg.seed * 1000 + epoch
            rank_base = base + self.dist.rank * RANK_SEED_STRIDE
            seed_everything(rank_base)
            shuffle_gen.manual_seed(rank_base)
            if isinstance(train_loader.sampler, DistributedSampler):
                train_loader.sampler.set_epoch(epoch)  # permutation seed: seed * 1000 + epoch
            mix_gen = torch.Generator().manual_seed(MIX_SEED_OFFSET + rank_base)
            train_loss, train_acc = self._train_epoch(epoch, train_loader, mix_gen)
            test_loss, test_acc = self._evaluate(test_loader)
            if not math.isfinite(test_loss):
                self._non_finite("test loss", test_loss, epoch, None)
            row = {
                "epoch": epoch,
                "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": train_loss,
                "train_acc": train_acc,
                "test_loss": test_loss,
                "test_acc": test_acc,
                "epoch_seconds": round(time.perf_counter() - t0, 3),
            }
            self.history.append(row)
            if test_acc > self.best_acc:
                self.best_acc, self.best_epoch = test_acc, epoch
                if main:
                    save_checkpoint(self._state(epoch), self.out / "best.pt")
            if main:
                save_checkpoint(self._state(epoch), self.out / "last.pt")  # commit point
                write_metrics(self.out, self.history)
            self.log(
                f"epoch {epoch:3d}/{o.epochs}  lr {row['lr']:.2e}  "
                f"train loss {train_loss:.4f} acc {train_acc:6.2f} %  "
                f"test loss {test_loss:.4f} acc {test_acc:6.2f} %  "
                f"({row['epoch_seconds']:.1f} s)"
            )
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                break
        self.dist.barrier()
        return TrainResult(
            self.out, self.history, self.best_acc, self.best_epoch, len(self.history), o.epochs
        )


def train(cfg: TrainConfig, **kwargs: Any) -> TrainResult:
    """Convenience wrapper: ``Trainer(cfg, **init_kwargs).fit(stop_after_epoch=...)``."""
    stop = kwargs.pop("stop_after_epoch", None)
    return Trainer(cfg, **kwargs).fit(stop_after_epoch=stop)


__all__ = ["Trainer", "TrainResult", "TrainingError", "evaluate", "train"]
