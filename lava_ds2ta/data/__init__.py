"""Dataset registry: ``build_datasets(name, **kw) -> (train_ds, test_ds, info)``.

Each dataset yields ``(x, label)`` with x float32 in SLAYER-compatible layout: static images
(C, H, W) (the model repeats them over T) or event frames (C, H, W, T). ``info`` holds
``num_classes``, ``in_channels`` and ``img_size``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch.utils.data import Dataset

from lava_ds2ta.data.digits import build_digits
from lava_ds2ta.errors import DataError

DATASETS: dict[str, Callable[..., tuple[Dataset, Dataset, dict]]] = {
    "digits": build_digits,
}


def build_datasets(name: str, **kw) -> tuple[Dataset, Dataset, dict]:
    """Build ``(train_ds, test_ds, info)`` for the registered dataset ``name``.

    Keyword arguments are passed to the dataset builder; ``subset=k`` keeps the first k samples of
    each split (for fast tests). Unknown names or options raise a one-line :class:`DataError`.
    """
    if name not in DATASETS:
        raise DataError(f"data: unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    builder = DATASETS[name]
    params = inspect.signature(builder).parameters
    unknown = sorted(k for k in kw if k not in params)
    if unknown:
        raise DataError(
            f"data: dataset {name!r} has no option {unknown[0]!r} (known: {', '.join(params)})"
        )
    return builder(**kw)


__all__ = ["DATASETS", "build_datasets"]
