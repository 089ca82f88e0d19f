"""Supervised training of a registered model from a :class:`TrainConfig`.

Recipe: AdamW (:mod:`.optim`; no weight decay on 1-D params), per-step cosine schedule with linear
warmup (:mod:`.schedule`), label-smoothing cross-entropy (or MSE on one-hot targets, MA-SNN's)
with soft targets under mixup/CutMix (:mod:`.loss`, :mod:`.mixing`), global grad-norm clipping,
optional CUDA AMP; the epoch loop and evaluation live in :mod:`.loop`, the loaders in
:mod:`.loaders`. Inputs are (B, C, H, W) static images or (B, C, H, W, T) frames; test batches
may hold K clips per sample, (B, K, C, H, W, T), which are voted (:mod:`.loop`).

Determinism: at the start of epoch e every RNG is reseeded from ``seed * 1000 + e`` (global
torch/NumPy/Python RNGs, the shuffling generator and the mixing generator), and checkpoints hold
model, optimizer, scheduler, history and RNG states (:mod:`.checkpoint`), so a run interrupted
after epoch k and resumed ends with exactly the metrics of an uninterrupted run (same device and
thread count). The data-dependent initialisation (:func:`lava_ds2ta.init.data_init`) runs once,
on the first training batch.

Output dir: ``last.pt`` (every epoch), ``best.pt`` (best test accuracy), ``metrics.csv``,
``metrics.json``, ``curves.png`` and ``config.yaml``, all written at the end of the first epoch
and later: a run that fails or is stopped before leaves no folder behind.

Distributed (``torchrun``, :mod:`.distributed`): the model is wrapped in
``DistributedDataParallel``; each rank's RNGs are reseeded from
``seed * 1000 + e + rank * RANK_SEED_STRIDE`` (rank 0: the single-process seed); losses and
accuracies are summed over ranks; only rank 0 writes files. Resuming is exact for the same world
size. ``optim.amp`` (CUDA only) runs training forwards under float16 autocast with a gradient
scaler (its state is checkpointed); evaluation stays float32.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.data import DistributedSampler

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.models.checkpoint import save_checkpoint
from lava_ds2ta.training.checkpoint import check_resume_compatible
from lava_ds2ta.training.checkpoint import load_training_checkpoint
from lava_ds2ta.training.config import TrainConfig
from lava_ds2ta.training.distributed import DistContext
from lava_ds2ta.training.distributed import broadcast_buffers
from lava_ds2ta.training.distributed import init_distributed
from lava_ds2ta.training.loaders import build_loaders
from lava_ds2ta.training.loaders import dataset_options
from lava_ds2ta.training.loop import Engine
from lava_ds2ta.training.loop import evaluate
from lava_ds2ta.training.loop import evaluate_sums
from lava_ds2ta.training.metrics import write_metrics
from lava_ds2ta.training.mixing import Mixer
from lava_ds2ta.training.model_factory import build_model
from lava_ds2ta.training.model_factory import check_data_compat
from lava_ds2ta.training.model_factory import resolve_model_config
from lava_ds2ta.training.optim import build_optimizer
from lava_ds2ta.training.schedule import build_scheduler
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.seed import get_rng_states
from lava_ds2ta.utils.seed import seed_everything
from lava_ds2ta.utils.seed import set_rng_states

MIX_SEED_OFFSET = 2**40
RANK_SEED_STRIDE = 1_000_003  # per-rank seed offset under DDP (rank 0 keeps the plain seed)


@dataclass
class TrainResult:
    """Summary of a finished (or deliberately stopped) run; accuracies in percent."""

    output_dir: Path
    history: list[dict[str, Any]]
    best_acc: float
    best_epoch: int

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def final_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")


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
        # None: tqdm decides (off when stderr is not a terminal); off on CI.
        self.progress = False if progress is None and os.environ.get("CI") else progress
        self.log = log or (lambda msg: print(msg, flush=True))
        self.out = Path(cfg.output_dir)
        self.dist = DistContext()
        self.history: list[dict[str, Any]] = []
        self.start_epoch, self.best_acc, self.best_epoch = 0, -1.0, 0

    def fit(self, stop_after_epoch: int | None = None) -> TrainResult:
        """Train (or resume) to ``optim.epochs``; ``stop_after_epoch`` stops early (for tests).

        Under ``torchrun`` this joins the process group first (and stays in it:
        :func:`~lava_ds2ta.training.distributed.in_process_group`)."""
        self.dist, self.device = init_distributed(self.cfg.device)
        if not self.dist.is_main:
            self.log = lambda _msg: None
        self._prepare_output_dir()
        self.dist.barrier()
        train_loader, test_loader, shuffle_gen = self._setup()
        for epoch in range(self.start_epoch + 1, self.cfg.optim.epochs + 1):
            self._epoch(epoch, train_loader, test_loader, shuffle_gen)
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                break
        self.dist.barrier()
        return TrainResult(self.out, self.history, self.best_acc, self.best_epoch)

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
        for name in ("last.pt", "best.pt", "metrics.csv", "metrics.json"):  # --overwrite
            (self.out / name).unlink(missing_ok=True)

    def _datasets(self, model_cfg: dict[str, Any]):
        d = self.cfg.data
        kw = dataset_options(d)
        if d.download and self.dist.enabled:  # rank 0 downloads, the others wait
            if self.dist.is_main:
                build_datasets(d.name, model=model_cfg, **kw)
            self.dist.barrier()
            kw["download"] = False
        return build_datasets(d.name, model=model_cfg, **kw)

    def _setup(self) -> tuple[DataLoader, DataLoader, torch.Generator]:
        cfg, o = self.cfg, self.cfg.optim
        model_cfg = resolve_model_config(cfg.model)
        train_ds, test_ds, info = self._datasets(model_cfg)
        loaders = build_loaders(cfg.data, cfg.seed, train_ds, test_ds, self.device, self.dist)
        check_data_compat(model_cfg, info, cfg.data.name)
        seed_everything(cfg.seed)
        self.model = build_model(cfg.model).to(self.device)
        optimizer = build_optimizer(self.model, o)
        scheduler = build_scheduler(optimizer, len(loaders[0]), o.epochs, o.warmup_epochs, o.lr,
                                    o.min_lr)  # fmt: skip
        scaler = None
        if o.amp and self.device.type == "cuda":
            scaler = torch.cuda.amp.GradScaler()
        elif o.amp:
            self.log(f"warning: optim.amp needs CUDA; training in float32 on {self.device}")
        mixer = Mixer(info["num_classes"], o.mixup_alpha, o.cutmix_alpha, o.mix_prob,
                      label_smoothing=o.label_smoothing)  # fmt: skip
        self.engine = Engine(self.model, self.model, optimizer, scheduler, mixer, o, self.device,
                             self.dist, self.out / "last.pt", scaler, self.progress)  # fmt: skip
        if self.resume:
            self._restore()
        if self.dist.enabled:
            cuda = self.device.type == "cuda"
            self.engine.model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if cuda else None
            )
            per_rank = cfg.data.batch_size // self.dist.world_size
            backend = "nccl" if cuda else "gloo"
            self.log(f"distributed: {self.dist.world_size} processes ({backend}), {per_rank} "
                     "samples per process and step")  # fmt: skip
        return loaders

    def _restore(self) -> None:
        path, e = self.out / "last.pt", self.engine
        state = load_training_checkpoint(path)
        check_resume_compatible(self.cfg.to_dict(), state["config"], path)
        try:
            self.model.load_state_dict(state["model"])
            e.optimizer.load_state_dict(state["optimizer"])
            e.scheduler.load_state_dict(state["scheduler"])
            if e.scaler is not None and "scaler" in state:
                e.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(
                f"checkpoint {path} does not fit this model/optimizer "
                f"({str(exc).splitlines()[0][:120]}); start over with --overwrite or use a new "
                "--output-dir"
            ) from None
        self.start_epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.best_acc, self.best_epoch = float(state["best_acc"]), int(state["best_epoch"])
        set_rng_states(state["rng"])
        self.log(f"resumed from {path} after epoch {self.start_epoch}")
        if self.start_epoch >= self.cfg.optim.epochs:
            epochs = self.cfg.optim.epochs
            self.log(f"training already complete ({self.start_epoch}/{epochs} epochs)")

    # ----------------------------------------------------------------- epochs
    def _epoch(self, epoch: int, train: DataLoader, test: DataLoader, gen: torch.Generator) -> None:
        """Reseed, train one epoch, evaluate, record metrics and write checkpoints."""
        t0 = time.perf_counter()
        rank_base = self.cfg.seed * 1000 + epoch + self.dist.rank * RANK_SEED_STRIDE
        seed_everything(rank_base)
        gen.manual_seed(rank_base)
        if isinstance(train.sampler, DistributedSampler):
            train.sampler.set_epoch(epoch)  # permutation seed: seed * 1000 + epoch
        mix_gen = torch.Generator().manual_seed(MIX_SEED_OFFSET + rank_base)
        train_loss, train_acc = self.engine.train_epoch(epoch, train, mix_gen)
        test_loss, test_acc = self._evaluate(test)
        if not math.isfinite(test_loss):
            self.engine.non_finite("test loss", test_loss, f"epoch {epoch}")
        row = {
            "epoch": epoch,
            "lr": self.engine.optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "epoch_seconds": round(time.perf_counter() - t0, 3),
        }
        self.history.append(row)
        improved = test_acc > self.best_acc
        if improved:
            self.best_acc, self.best_epoch = test_acc, epoch
        if self.dist.is_main:
            if epoch == 1:  # the run's folder appears with its first results, never empty
                write_text_atomic(self.out / "config.yaml",
                                  yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))  # fmt: skip
            if improved:
                save_checkpoint(self._state(epoch), self.out / "best.pt")
            save_checkpoint(self._state(epoch), self.out / "last.pt")  # commit point
            write_metrics(self.out, self.history)
        self.log(
            f"epoch {epoch:3d}/{self.cfg.optim.epochs}  lr {row['lr']:.2e}  "
            f"train loss {train_loss:.4f} acc {train_acc:6.2f} %  "
            f"test loss {test_loss:.4f} acc {test_acc:6.2f} %  ({row['epoch_seconds']:.1f} s)"
        )

    def _evaluate(self, loader: DataLoader) -> tuple[float, float]:
        kind = self.cfg.optim.loss
        if not self.dist.enabled:
            return evaluate(self.model, loader, self.device, kind)
        broadcast_buffers(self.model)  # running statistics drift apart during the epoch
        total_loss, correct, n = self.dist.sum(
            list(evaluate_sums(self.model, loader, self.device, kind)), self.device
        )
        return total_loss / max(n, 1), 100.0 * correct / max(n, 1)

    def _state(self, epoch: int) -> dict[str, Any]:
        """The checkpoint dict after ``epoch``."""
        e = self.engine
        return {
            "model": self.model.state_dict(),
            "model_config": self.model.config.to_dict(),
            "config": self.cfg.to_dict(),
            "optimizer": e.optimizer.state_dict(),
            "scheduler": e.scheduler.state_dict(),
            "epoch": epoch,
            "best_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "rng": get_rng_states(),
            **({"scaler": e.scaler.state_dict()} if e.scaler is not None else {}),
        }


def train(cfg: TrainConfig, **kwargs: Any) -> TrainResult:
    """Convenience wrapper: ``Trainer(cfg, **init_kwargs).fit(stop_after_epoch=...)``."""
    stop = kwargs.pop("stop_after_epoch", None)
    return Trainer(cfg, **kwargs).fit(stop_after_epoch=stop)


__all__ = ["Trainer", "TrainResult", "evaluate", "train"]
