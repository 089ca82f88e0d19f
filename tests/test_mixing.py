"""Mixup / CutMix: soft targets sum to 1, shapes preserved, deterministic per generator."""

import pytest
import torch

from lava_ds2ta.training.mixing import Mixer
from lava_ds2ta.training.mixing import smooth_one_hot


def _batch(shape):
    g = torch.Generator().manual_seed(1)
    return torch.rand(shape, generator=g), torch.randint(0, 10, (shape[0],), generator=g)


def test_smooth_one_hot():
    t = smooth_one_hot(torch.tensor([0, 3]), 4, 0.2)
    assert torch.allclose(t.sum(1), torch.ones(2))
    assert t[0, 0] == pytest.approx(0.85) and t[0, 1] == pytest.approx(0.05)


@pytest.mark.parametrize("shape", [(6, 1, 8, 8), (6, 2, 8, 8, 3)])
@pytest.mark.parametrize("mixup,cutmix", [(0.8, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_mix_shapes_and_soft_targets(shape, mixup, cutmix):
    x, y = _batch(shape)
    x0 = x.clone()
    mixer = Mixer(10, mixup_alpha=mixup, cutmix_alpha=cutmix, label_smoothing=0.1)
    for seed in range(5):
        xm, t = mixer(x, y, torch.Generator().manual_seed(seed))
        assert xm.shape == x.shape and t.shape == (shape[0], 10)
        assert torch.allclose(t.sum(1), torch.ones(shape[0]))
        assert (t >= 0).all()
    assert torch.equal(x, x0)  # input untouched


def test_cutmix_box_same_over_time_and_lam_matches_area():
    x = torch.zeros(4, 1, 8, 8, 3)
    x[0] = 1.0
    mixer = Mixer(10, cutmix_alpha=1.0)
    y = torch.tensor([0, 1, 2, 3])
    xm, t = mixer(x, y, torch.Generator().manual_seed(3))
    pasted = xm[3]  # sample 3 receives pixels from sample 0 (batch flip)
    assert all(torch.equal(pasted[..., 0], pasted[..., t]) for t in (1, 2))
    area = pasted[..., 0].mean().item()
    assert t[3, 0].item() == pytest.approx(area) and t[3, 3].item() == pytest.approx(1 - area)


def test_deterministic_and_off():
    x, y = _batch((6, 1, 8, 8))
    mixer = Mixer(10, mixup_alpha=0.8, cutmix_alpha=1.0)
    a = mixer(x, y, torch.Generator().manual_seed(7))
    b = mixer(x, y, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    off = Mixer(10, label_smoothing=0.1)
    assert not off.active
    xo, to = off(x, y, torch.Generator())
    assert xo is x and torch.equal(to.argmax(1), y)
