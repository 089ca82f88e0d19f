"""CIFAR-10 / CIFAR-100 through torchvision, with the paper's training augmentation.

Files: torchvision's own layout, ``<root>/cifar-10-batches-py`` or ``<root>/cifar-100-python``
(``download=True`` lets torchvision fetch and md5-check them). Without them the builder stops
with one line naming the expected folder.

Augmentation (training split only; the DS2TA paper follows Spikformer's recipe): random crop
32 with 4-pixel zero padding, horizontal flip, RandAugment (``randaugment: [num_ops, magnitude]``,
default ``[1, 9]`` as timm's ``rand-m9-n1``) and random erasing (``random_erasing`` probability,
default 0.25, erased pixels set to 0). Mixup, CutMix and label smoothing are the trainer's
(``optim.*``). The test split is only converted.

Input grid: **no mean/std normalisation**. The model quantises its input to
``round(x * input_levels)`` integer graded spikes, so a normalised float input would be silently
re-quantised to a different grid. Pixels p in 0..255 are returned as
``x = round(p * L / 255) / L`` with ``L = input_levels`` (passed from the model config; 16 in the
``vit-4-384`` preset, i.e. 17 grey levels per channel, which keeps the first layer's integer input
<= 16 per pixel, as for the digits), so ``round(x * L)`` is exact and the data the trainer sees is
exactly what the deployed network receives. ``model.input_levels: 255`` gives lossless 8-bit input.
The first stage's threshold is scaled by ``L`` (see ``SpikingPatchSplitting``), which plays the role
of the normalisation. Random erasing writes 0, which is on the grid. ``img_size`` other than 32
resizes (antialiased) before the quantisation, for fast tests. Output: float32 ``(3, H, W)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch.utils.data import Subset
from torchvision import datasets
from torchvision import transforms as tv

from lava_ds2ta.errors import DataError

NATIVE_SIZE = 32
_SPECS = {
    "cifar10": ("CIFAR-10", "CIFAR10", 10),
    "cifar100": ("CIFAR-100", "CIFAR100", 100),
}


class QuantiseToGrid:
    """``x -> round(x * levels) / levels`` for x in [0, 1] (float32 tensors)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x * self.levels + 0.5) / self.levels

    def __repr__(self) -> str:
        return f"QuantiseToGrid(levels={self.levels})"


def cifar_transform(
    train: bool,
    img_size: int = NATIVE_SIZE,
    input_levels: int = 16,
    randaugment: tuple[int, int] | list[int] | None = (1, 9),
    random_erasing: float = 0.25,
):
    """The torchvision transform of one split (PIL image -> float32 (3, H, W) on the grid)."""
    steps: list = []
    if train:
        steps += [tv.RandomCrop(NATIVE_SIZE, padding=4), tv.RandomHorizontalFlip()]
        if randaugment:
            num_ops, magnitude = randaugment
            steps.append(tv.RandAugment(num_ops=int(num_ops), magnitude=int(magnitude)))
    if img_size != NATIVE_SIZE:
        steps.append(tv.Resize(img_size, antialias=True))
    steps += [tv.ToTensor(), QuantiseToGrid(input_levels)]
    if train and random_erasing > 0:
        steps.append(tv.RandomErasing(p=random_erasing, value=0))
    return tv.Compose(steps)


def _check_files(cls, root: Path, title: str) -> None:
    folder = root / cls.base_folder
    names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        what = "not found" if len(missing) == len(names) else f"incomplete ({missing[0]} missing)"
        raise DataError(
            f"data: {title} {what} under {folder}: download it with --download or place "
            "torchvision's files there"
        )


def _validate(name: str, img_size, input_levels, randaugment, random_erasing, subset) -> None:
    def bad(key: str, want: str, value) -> DataError:
        return DataError(f"{name}: {key} must be {want}, got {value!r}")

    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(img_size) or not 1 <= img_size <= NATIVE_SIZE:
        raise bad("img_size", f"an integer in [1, {NATIVE_SIZE}]", img_size)
    if not is_int(input_levels) or input_levels < 1:
        raise bad("input_levels", "an integer >= 1", input_levels)
    if randaugment and (
        not isinstance(randaugment, list | tuple)
        or len(randaugment) != 2
        or not all(is_int(v) and v >= 0 for v in randaugment)
    ):
        raise bad("randaugment", "null or [num_ops, magnitude] (integers >= 0)", randaugment)
    if not isinstance(random_erasing, int | float) or not 0 <= random_erasing <= 1:
        raise bad("random_erasing", "a probability in [0, 1]", random_erasing)
    if subset is not None and (not is_int(subset) or subset < 1):
        raise bad("subset", "a positive integer or null", subset)


def _build(
    name: str,
    root: str | None,
    download: bool,
    subset: int | None,
    img_size: int,
    input_levels: int,
    randaugment,
    random_erasing: float,
) -> tuple[Dataset, Dataset, dict]:
    title, cls_name, num_classes = _SPECS[name]
    cls = getattr(datasets, cls_name)
    _validate(name, img_size, input_levels, randaugment, random_erasing, subset)
    base = Path(root if root is not None else "data").expanduser()
    if not download:
        _check_files(cls, base, title)
    splits = []
    for train in (True, False):
        tf = cifar_transform(train, img_size, input_levels, randaugment, random_erasing)
        try:
            ds = cls(str(base), train=train, transform=tf, download=download)
        except RuntimeError as exc:  # torchvision: md5 mismatch ("not found or corrupted")
            raise DataError(
                f"data: {title} under {base / cls.base_folder} is corrupt ({exc}); delete it "
                "and download it again with --download"
            ) from None
        except OSError as exc:  # download failures (no network, HTTP errors)
            raise DataError(
                f"data: could not download {title} into {base}: {exc}; place torchvision's "
                f"files under {base / cls.base_folder}"
            ) from None
        if subset is not None:
            ds = Subset(ds, range(min(subset, len(ds))))
        splits.append(ds)
    info = {
        "num_classes": num_classes,
        "in_channels": 3,
        "img_size": img_size,
        "input_levels": input_levels,
    }
    return splits[0], splits[1], info


def build_cifar(
    name: str,
    root: str | None = None,
    download: bool = False,
    subset: int | None = None,
    img_size: int = NATIVE_SIZE,
    input_levels: int = 16,
    randaugment: list[int] | None = (1, 9),
    random_erasing: float = 0.25,
) -> tuple[Dataset, Dataset, dict]:
    """CIFAR-10 (``name="cifar10"``, from ``<root>/cifar-10-batches-py``) or CIFAR-100
    (``"cifar100"``, fine labels, from ``<root>/cifar-100-python``): 50,000 train / 10,000 test."""
    return _build(name, root, download, subset, img_size, input_levels, randaugment, random_erasing)
