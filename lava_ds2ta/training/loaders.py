"""Data loaders for training and evaluation, single-process or under ``torchrun``.

``data.batch_size`` is the global batch: each of the W processes loads ``batch_size / W``
samples per step from a ``DistributedSampler`` (seed ``seed * 1000``; ``set_epoch(e)`` fixes the
permutation of epoch e) and evaluates a disjoint shard of the test set (no padding, so summed
test metrics are exact). Single-process runs shuffle with the returned generator, which the
trainer reseeds every epoch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset
from torch.utils.data import DistributedSampler

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.training.config import DataSection
from lava_ds2ta.training.distributed import DistContext
from lava_ds2ta.training.distributed import ShardSampler


def dataset_options(data: DataSection) -> dict[str, Any]:
    """Keyword arguments of :func:`lava_ds2ta.data.build_datasets` for a data section: its
    ``options`` plus ``subset``, ``root`` and ``download``."""
    return {**data.options, "subset": data.subset, "root": data.root, "download": data.download}


def build_loaders(
    data: DataSection,
    seed: int,
    train_ds: Dataset,
    test_ds: Dataset,
    device: torch.device,
    dist: DistContext,
) -> tuple[DataLoader, DataLoader, torch.Generator]:
    """``(train loader, test loader, shuffling generator)``; one-line errors for batch sizes
    that do not fit the data set or the number of processes."""
    w, r = dist.world_size, dist.rank
    if data.batch_size % w:
        raise ConfigError(
            f"config: 'data.batch_size' ({data.batch_size}) is the global batch and must be "
            f"divisible by the {w} processes"
        )
    per_rank = data.batch_size // w
    if len(train_ds) // w < per_rank:
        raise ConfigError(
            f"config: 'data.batch_size' ({data.batch_size}) exceeds the {len(train_ds)} "
            "training samples; lower it or raise data.subset"
        )
    gen = torch.Generator()
    common = dict(num_workers=data.num_workers, pin_memory=device.type == "cuda")
    sampler = None
    if dist.enabled:
        sampler = DistributedSampler(
            train_ds, num_replicas=w, rank=r, shuffle=True, seed=seed * 1000, drop_last=True
        )
    train = DataLoader(
        train_ds,
        batch_size=per_rank,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=True,
        generator=gen,
        **common,
    )
    test = DataLoader(
        test_ds,
        batch_size=max(1, -(-data.eval_batch_size // w)),
        sampler=ShardSampler(len(test_ds), r, w) if dist.enabled else None,
        **common,
    )
    return train, test, gen
