"""dvs-digits: simulated N-MNIST-style recordings of the digits, tonic frames, training through
the config's data path, and a briefly trained model running bit-exactly on Lava.

Every test works on a few samples in a temporary cache folder (never the user's cache).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from lava_ds2ta.data import build_datasets
from lava_ds2ta.data import dvs_digits as dd
from lava_ds2ta.errors import DataError

CONFIG = Path(__file__).resolve().parents[1] / "train" / "configs" / "ds2ta_dvs_digits.yaml"
N = 6


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dvs_digits")


@pytest.fixture(scope="module")
def dsets(root):
    return build_datasets("dvs-digits", subset=N, data_root=str(root))


def test_info_and_sizes(dsets):
    train, test, info = dsets
    assert (len(train), len(test)) == (N, N)
    assert info == {
        "num_classes": 10,
        "in_channels": 2,
        "img_size": 16,
        "time_steps": 10,
        "input_levels": 1,
    }


def test_events_are_valid_tonic_streams(dsets):
    for ds in dsets[:2]:
        for ev in ds.events:
            assert ev.dtype == np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "<i2"), ("t", "<i8")])
            assert 1000 < len(ev) < 5000
            assert ev["x"].min() >= 0 and ev["x"].max() < 16
            assert ev["y"].min() >= 0 and ev["y"].max() < 16
            assert set(np.unique(ev["p"])) == {0, 1}
            assert np.all(np.diff(ev["t"]) >= 0)
            assert ev["t"][0] >= 0 and ev["t"][-1] < dd.DURATION_US
            # ~balanced polarities: the digit returns to where it started
            on = int((ev["p"] == 1).sum())
            assert 0.3 < on / len(ev) < 0.7
            # activity in all three saccades
            assert len(np.unique(ev["t"] // dd.SACCADE_US)) == 3


def test_labels_follow_the_digits_split(dsets):
    _, _, y_train, y_test = dd.digits_arrays()
    assert torch.equal(dsets[0].targets, torch.from_numpy(y_train[:N]))
    assert torch.equal(dsets[1].targets, torch.from_numpy(y_test[:N]))


def test_deterministic_prefix_and_cache_reused(dsets, root, tmp_path, monkeypatch):
    # A fresh generation of fewer samples gives the same events (sample i is independent of n).
    train2, test2, _ = build_datasets("dvs-digits", subset=3, data_root=str(tmp_path))
    for a, b in ((dsets[0], train2), (dsets[1], test2)):
        for i in range(3):
            np.testing.assert_array_equal(a.events[i], b.events[i])
    # Streams differ between samples (per-sample seeds and images).
    assert len(dsets[0].events[0]) != len(dsets[0].events[1])
    # The cache is read, not regenerated, for the same or a smaller subset.
    files = sorted(root.glob("*.npz"))
    assert [f.name for f in files] == ["dvs_digits_v2_test.npz", "dvs_digits_v2_train.npz"]
    mtimes = [f.stat().st_mtime_ns for f in files]
    monkeypatch.setattr(dd, "generate", lambda *a, **k: pytest.fail("regenerated"))
    train3, _, _ = build_datasets("dvs-digits", subset=N - 1, data_root=str(root))
    np.testing.assert_array_equal(train3.events[-1], dsets[0].events[N - 2])
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert not list(root.glob(".*.tmp"))


def test_corrupt_or_stale_cache_is_regenerated(dsets, tmp_path):
    path = dd.cache_path(tmp_path, "train")
    path.write_bytes(b"not a zip file")
    dd.cache_path(tmp_path, "test").write_bytes(b"")
    train, test, _ = build_datasets("dvs-digits", subset=2, data_root=str(tmp_path))
    np.testing.assert_array_equal(train.events[1], dsets[0].events[1])
    np.testing.assert_array_equal(test.events[0], dsets[1].events[0])
    assert dd._read_cache(path, train.targets.numpy(), 2) is not None


def test_unwritable_cache_and_bad_options_are_one_line_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write the event cache"):
        build_datasets("dvs-digits", subset=1, data_root=str(blocker / "sub"))
    for kw in ({"subset": 0}, {"time_steps": 0}, {"colour": 1}):
        with pytest.raises(DataError, match="dvs-digits|option"):
            build_datasets("dvs-digits", data_root=str(tmp_path), **kw)


@pytest.mark.parametrize("steps", [1, 4, 10, 18])
def test_frames_are_integer_counts_of_all_events(dsets, steps):
    train, _, _ = dsets
    ds = dd.DvsDigits(train.events, train.targets.numpy(), steps)
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (2, 16, 16, steps) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and int(y) == int(train.targets[i])
        assert torch.equal(x, x.round()) and x.min() >= 0
        ev = ds.events[i]
        assert int(x.sum()) == len(ev)
        assert int(x[1].sum()) == int((ev["p"] == 1).sum())
        # layout (P, H, W, T): pixel (x, y) of the first event is counted at [p, y, x, 0..]
        e = ev[0]
        assert x[int(e["p"]), int(e["y"]), int(e["x"])].sum() >= 1


def test_frames_match_tonic_layout(dsets):
    train, _, _ = dsets
    tonic_frames = train.frames(0)  # (T, P, H, W)
    assert tonic_frames.shape == (10, 2, 16, 16)
    assert torch.equal(train[0][0], torch.from_numpy(tonic_frames).float().permute(1, 2, 3, 0))


def test_one_training_step_through_the_config(root, tmp_path):
    from lava_ds2ta.training.config import load_config
    from lava_ds2ta.training.trainer import Trainer

    cfg = load_config(
        CONFIG,
        [
            "model.embed_dim=16",
            "model.num_heads=2",
            f"data.root={root}",
            f"data.subset={N}",
            "data.batch_size=4",
            f"data.eval_batch_size={N}",
            "optim.epochs=1",
            "optim.warmup_epochs=0",
            f"output_dir={tmp_path / 'run'}",
            "device=cpu",
        ],
    )
    assert cfg.data.name == "dvs-digits"
    result = Trainer(cfg, progress=False, log=lambda _m: None).fit()
    assert result.epochs_done == 1 and np.isfinite(result.history[0]["train_loss"])
    assert (tmp_path / "run" / "last.pt").is_file()


# ------------------------------------------------------------------------------ Lava, bit-exact
SAMPLES = 3


@pytest.fixture(scope="module")
def deployed(root, tmp_path_factory, request):
    from lava_ds2ta import create_model
    from lava_ds2ta.deploy.compare import load_test_inputs
    from lava_ds2ta.deploy.runner import run_network
    from lava_ds2ta.export.reader import read_network
    from lava_ds2ta.export.writer import export_model
    from lava_ds2ta.init import data_init
    from lava_ds2ta.training.config import load_config
    from lava_ds2ta.training.optim import param_groups

    torch.manual_seed(1)
    section = load_config(CONFIG).model.to_dict()  # the config's model, full tiny size
    model = create_model(**section)
    train, _, _ = build_datasets("dvs-digits", subset=N, data_root=str(root))
    x = torch.stack([train[i][0] for i in range(N)])
    y = train.targets
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=5e-3)
    data_init(model, x)
    for _ in range(4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    path = export_model(model, tmp_path_factory.mktemp("dvs_net") / "model.net")
    spec = read_network(path)
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    # load_test_inputs builds the full test split; keep it to a few cached samples.
    mp.setattr(
        "lava_ds2ta.deploy.compare.build_datasets",
        functools.partial(build_datasets, subset=SAMPLES, data_root=str(root)),
    )
    xs, ys = load_test_inputs(spec, "dvs-digits", SAMPLES)
    result = run_network(spec, xs["levels"], "fixed_pt", record=True)
    return model, spec, xs, ys, result


def test_lava_runs_every_layer_bit_exact(deployed):
    from lava_ds2ta.deploy.compare import compare_with_torch
    from lava_ds2ta.export.record import layer_indices
    from lava_ds2ta.export.record import record_layers

    model, spec, xs, _, result = deployed
    assert xs["levels"].shape == (SAMPLES, 2, 16, 16, 10)
    np.testing.assert_array_equal(xs["levels"], xs["float"].numpy().astype(np.int64))
    expected = record_layers(model, xs["float"])
    index = layer_indices(model)
    checked = 0
    for name, ref in expected.items():
        i = index[name]
        if i not in result.spikes:
            continue
        assert ref.sum() > 0, f"{name} is silent: the test would prove nothing"
        np.testing.assert_array_equal(result.spikes[i], ref, err_msg=name)
        checked += 1
    assert checked == len(result.spikes) > 5
    report = compare_with_torch(spec, xs, result, None)
    assert report["prediction_agreement"] == 1.0 and report["logit_agreement"] == 1.0
    with torch.no_grad():
        logits = model(xs["float"]).double().numpy()
    np.testing.assert_array_equal(result.logits, np.rint(spec.logit_scale * logits))
