"""Dataset registry: ``build_datasets(name, **kw) -> (train_ds, test_ds, info)``.

Each dataset yields ``(x, label)`` with x float32 in SLAYER-compatible layout: static images
(C, H, W) (the model repeats them over T) or event frames (C, H, W, T). ``info`` holds
``num_classes``, ``in_channels`` and ``img_size`` (and, where the data fixes them, ``time_steps``
and ``input_levels``); the trainer checks them against the model config. Real data sets
(``cifar10``, ``cifar100``, ``dvsgesture``, ``cifar10dvs``) take ``root`` and ``download``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from torch.utils.data import Dataset

from lava_ds2ta.data.cifar import build_cifar
from lava_ds2ta.data.digits import build_digits
from lava_ds2ta.data.dvs import build_cifar10dvs
from lava_ds2ta.data.dvs import build_dvsgesture
from lava_ds2ta.data.dvs_digits import build_dvs_digits
from lava_ds2ta.errors import DataError

DATASETS: dict[str, Callable[..., tuple[Dataset, Dataset, dict]]] = {
    "digits": build_digits,
    "dvs-digits": build_dvs_digits,
    "cifar10": functools.partial(build_cifar, "cifar10"),
    "cifar100": functools.partial(build_cifar, "cifar100"),
    "dvsgesture": build_dvsgesture,
    "cifar10dvs": build_cifar10dvs,
}

#: Model config keys handed to builders that take them (the model config is the one source of
#: the frame count, the image size and the input grid).
MODEL_KEYS = ("img_size", "time_steps", "input_levels")


def _common_options(params, kw: dict, model: dict | None) -> dict:
    """Adapt the options every data set gets from the trainer to one builder's signature:
    ``root`` (also accepted as ``data_root``) and ``download`` are dropped for builders without
    them (embedded data sets), :data:`MODEL_KEYS` are filled in from ``model`` when the builder
    takes them and they were not given explicitly."""
    kw = dict(kw)
    if "root" in kw and "root" not in params:
        root = kw.pop("root")
        if "data_root" in params and root is not None and "data_root" not in kw:
            kw["data_root"] = root
    if "download" in kw and "download" not in params:
        kw.pop("download")
    for key in MODEL_KEYS:
        if model is not None and key in params and key not in kw and key in model:
            kw[key] = model[key]
    return kw


def build_datasets(name: str, model: dict | None = None, **kw) -> tuple[Dataset, Dataset, dict]:
    """Build ``(train_ds, test_ds, info)`` for the registered dataset ``name``.

    Keyword arguments are passed to the dataset builder; ``subset=k`` keeps the first k samples of
    each split (for fast tests). ``model`` (a model config dict) supplies ``img_size``,
    ``time_steps`` and ``input_levels`` to builders that take them. Unknown names or options
    raise a one-line :class:`DataError`.
    """
    if name not in DATASETS:
        raise DataError(f"data: unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    builder = DATASETS[name]
    params = inspect.signature(builder).parameters
    kw = _common_options(params, kw, model)
    unknown = sorted(k for k in kw if k not in params)
    if unknown:
        raise DataError(
            f"data: dataset {name!r} has no option {unknown[0]!r} (known: {', '.join(params)})"
        )
    return builder(**kw)


__all__ = ["DATASETS", "MODEL_KEYS", "build_datasets"]
