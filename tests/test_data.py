"""Digits data set: fixed stratified split, exact 1/16 pixel grid, determinism, registry errors."""

import numpy as np
import pytest
import torch

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return build_datasets("digits")


def test_split_sizes_and_info(digits):
    train, test, info = digits
    assert (len(train), len(test)) == (1437, 360)
    assert info == {"num_classes": 10, "in_channels": 1, "img_size": 8}
    x, y = train.tensors
    assert x.shape == (1437, 1, 8, 8) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))


def test_split_is_stratified(digits):
    train, test, _ = digits
    n_train = np.bincount(train.tensors[1].numpy(), minlength=10)
    n_test = np.bincount(test.tensors[1].numpy(), minlength=10)
    total = n_train + n_test
    # Stratified: each class holds its share of the 360 test samples, to within one sample.
    assert np.all(np.abs(n_test - total * 360 / 1797) <= 1)


def test_pixels_exactly_on_sixteenth_grid(digits):
    for ds in digits[:2]:
        x = ds.tensors[0]
        k = x * 16
        assert torch.equal(k, k.round())
        assert k.min() == 0 and k.max() == 16
        assert torch.equal(x, k.round() / 16)


def test_deterministic_and_disjoint(digits):
    train2, test2, _ = build_datasets("digits")
    assert torch.equal(digits[0].tensors[0], train2.tensors[0])
    assert torch.equal(digits[1].tensors[1], test2.tensors[1])
    train_rows = {tuple(r) for r in digits[0].tensors[0].flatten(1).tolist()}
    test_rows = [tuple(r) for r in digits[1].tensors[0].flatten(1).tolist()]
    # sklearn digits hold a few duplicate images; the split itself must not copy samples.
    assert sum(r in train_rows for r in test_rows) < 10


def test_subset_keeps_first_k(digits):
    train, test, _ = build_datasets("digits", subset=20)
    assert len(train) == len(test) == 20
    assert torch.equal(train.tensors[0], digits[0].tensors[0][:20])
    assert torch.equal(test.tensors[1], digits[1].tensors[1][:20])


@pytest.mark.parametrize("kwargs", [{"subset": 0}, {"subset": "5"}, {"colour": True}])
def test_bad_options(kwargs):
    with pytest.raises(DataError) as err:
        build_datasets("digits", **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_dataset():
    with pytest.raises(DataError, match=r"unknown dataset 'mnist' \(known: [^)]*\bdigits\b"):
        build_datasets("mnist")
