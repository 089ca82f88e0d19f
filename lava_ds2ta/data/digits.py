"""scikit-learn 8x8 handwritten digits (embedded in scikit-learn, no download) as static images.

Fixed, documented split: ``train_test_split(test_size=360, stratify=y, random_state=0)`` on the
1797 samples gives 1437 training and 360 test images. Pixels are integers 0..16 and are returned as
``x / 16`` (float32, exactly on the 1/16 grid, no mean/std normalisation) so that inputs stay
exactly representable in the fixed-point deployment. Layout: images (N, 1, 8, 8), labels int64 (N,).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from lava_ds2ta.errors import DataError

TEST_SIZE = 360
SPLIT_SEED = 0
NUM_CLASSES = 10
IMG_SIZE = 8
IN_CHANNELS = 1
PIXEL_MAX = 16

INFO = {"num_classes": NUM_CLASSES, "in_channels": IN_CHANNELS, "img_size": IMG_SIZE}


def digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x_train, x_test, y_train, y_test)`` as raw integer arrays (pixels 0..16)."""
    bunch = load_digits()
    x = bunch.images.astype(np.int64)  # (1797, 8, 8), integer-valued floats in sklearn
    y = bunch.target.astype(np.int64)
    if x.min() < 0 or x.max() > PIXEL_MAX or not np.array_equal(bunch.images, x):
        raise DataError("digits: scikit-learn returned pixels outside the integers 0..16")
    return train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)


def _to_dataset(x: np.ndarray, y: np.ndarray, subset: int | None) -> TensorDataset:
    if subset is not None:
        x, y = x[:subset], y[:subset]
    images = torch.from_numpy(x).to(torch.float32).unsqueeze(1) / PIXEL_MAX  # (N, 1, 8, 8)
    return TensorDataset(images, torch.from_numpy(y))


def build_digits(subset: int | None = None) -> tuple[TensorDataset, TensorDataset, dict]:
    """Build the digits train/test datasets; ``subset`` keeps the first k samples of each split."""
    if subset is not None and (
        isinstance(subset, bool) or not isinstance(subset, int) or subset < 1
    ):
        raise DataError(f"digits: subset must be a positive integer or null, got {subset!r}")
    x_train, x_test, y_train, y_test = digits_arrays()
    return _to_dataset(x_train, y_train, subset), _to_dataset(x_test, y_test, subset), dict(INFO)
