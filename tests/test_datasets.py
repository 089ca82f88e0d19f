"""Real data sets (CIFAR-10/100, DVS128 Gesture, CIFAR10-DVS) on tiny fixtures in the real on-disk
formats: torchvision's CIFAR pickles, tonic's DVSGesture folders, CIFAR10-DVS through a patched
aedat4 reader. One training step through each shipped config's real data path with the model
shrunk by overrides; one-line errors for missing or incomplete data folders."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from lava_ds2ta.data import build_datasets
from lava_ds2ta.data.dvs import cifar10dvs_split
from lava_ds2ta.data.dvs import events_to_frames
from lava_ds2ta.data.dvs import nda_augment
from lava_ds2ta.errors import DataError
from lava_ds2ta.training.cli import main
from lava_ds2ta.training.config import load_config
from lava_ds2ta.training.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"
CIFAR10_DVS_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


# ----------------------------------------------------------------------------- fixtures
def _pickle(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


def _images(rng, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def write_cifar(root: Path, hundred: bool, n: int = 6) -> Path:
    """torchvision's layout: pickled dicts with 'data' (N, 3072) uint8 and the label lists."""
    rng = np.random.default_rng(1)
    k = 100 if hundred else 10
    key = "fine_labels" if hundred else "labels"
    if hundred:
        folder = root / "cifar-100-python"
        for name in ("train", "test"):
            _pickle(folder / name, {"data": _images(rng, n), key: list(rng.integers(0, k, n))})
        _pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(k)]})
    else:
        folder = root / "cifar-10-batches-py"
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            _pickle(folder / name, {"data": _images(rng, n), key: list(rng.integers(0, k, n))})
        _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(k)]})
    return folder


def _events(rng, n: int = 300, duration_ms: int = 1000) -> np.ndarray:
    """(N, 4) [x, y, p, t_ms] as tonic's DVSGesture .npy files."""
    t = np.sort(rng.integers(0, duration_ms, n))
    return np.stack(
        [rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t], axis=1
    ).astype(np.int64)


def write_gesture(root: Path) -> Path:
    rng = np.random.default_rng(2)
    folder = root / "DVSGesture"
    for split, users in (
        ("ibmGestureTrain", ("user01_fluorescent", "user02_led")),
        ("ibmGestureTest", ("user24_natural",)),
    ):
        for user in users:
            d = folder / split / user
            d.mkdir(parents=True)
            for label in range(11):
                np.save(d / f"{label}.npy", _events(rng))
    return folder


AEDAT_DTYPE = np.dtype([("t", np.uint64), ("x", np.uint16), ("y", np.uint16), ("p", bool)])


def write_cifar10dvs(root: Path, per_class: int = 10) -> Path:
    """``CIFAR10DVS/<class>/<k>.aedat4``; the fixture files hold .npy data, read by a patched
    ``read_aedat4`` (the real reader needs the ``aedat`` package)."""
    rng = np.random.default_rng(3)
    folder = root / "CIFAR10DVS"
    for name in CIFAR10_DVS_CLASSES:
        (folder / name).mkdir(parents=True)
        for k in range(per_class):
            ev = _events(rng, 200, 1300)
            arr = np.zeros(len(ev), AEDAT_DTYPE)
            arr["x"], arr["y"], arr["p"], arr["t"] = ev[:, 0], ev[:, 1], ev[:, 2], ev[:, 3] * 1000
            with open(folder / name / f"cifar10_{name}_{k}.aedat4", "wb") as fh:
                np.save(fh, arr)
    return folder


def _fake_read_aedat4(path):
    with open(path, "rb") as fh:
        return np.load(fh)


@pytest.fixture
def no_md5(monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)


@pytest.fixture
def fake_aedat(monkeypatch):
    import tonic.datasets.cifar10dvs as c10dvs

    monkeypatch.setattr(c10dvs, "read_aedat4", _fake_read_aedat4)


# ----------------------------------------------------------------------------- one step per config
SHRINK = [
    "model.embed_dim=16",
    "model.num_heads=2",
    "model.depth=1",
    "model.time_steps=2",
    "data.subset=4",
    "data.batch_size=4",
    "data.eval_batch_size=4",
    "data.num_workers=0",
    "optim.epochs=1",
    "optim.warmup_epochs=0",
    "device=cpu",
]


@pytest.mark.parametrize(
    "config, writer, img_size",
    [
        ("cifar10", lambda r: write_cifar(r, False), 16),
        ("cifar100", lambda r: write_cifar(r, True), 16),
        ("dvsgesture", write_gesture, 32),
        ("cifar10dvs", write_cifar10dvs, 32),
    ],
)
def test_one_training_step_through_each_config(
    config, writer, img_size, tmp_path, no_md5, fake_aedat
):
    root = tmp_path / "data"
    writer(root)
    overrides = [*SHRINK, f"model.img_size={img_size}", f"data.root={root}"]
    overrides.append(f"output_dir={tmp_path / 'run'}")
    cfg = load_config(CONFIGS / f"{config}.yaml", overrides)
    assert cfg.data.name == config and cfg.optim.epochs == 1
    result = Trainer(cfg, progress=False, log=lambda _: None).fit()
    assert result.epochs_done == 1 and np.isfinite(result.history[0]["train_loss"])
    assert (tmp_path / "run" / "last.pt").is_file()
    if config in ("dvsgesture", "cifar10dvs"):  # frames cached per configuration
        cached = list((root / "ds2ta_frames").glob(f"*-T2-{img_size}px-v1/*.npz"))
        assert len(cached) == 8  # 4 training + 4 test samples


def test_paper_recipes_in_configs():
    for name, classes, preset, t in (
        ("cifar10", 10, "vit-4-384", 4),
        ("cifar100", 100, "vit-4-384", 4),
        ("dvsgesture", 11, "vit-2-256", 10),
        ("cifar10dvs", 10, "vit-2-256", 10),
    ):
        cfg = load_config(CONFIGS / f"{name}.yaml")
        m = cfg.model.to_dict()
        assert (m["preset"], m["num_classes"], cfg.data.batch_size) == (preset, classes, 256)
        assert cfg.optim.lr == 1e-3 and cfg.optim.epochs == (300 if preset == "vit-4-384" else 200)
        from lava_ds2ta.training.model_factory import resolve_model_config

        full = resolve_model_config(cfg.model)
        assert full["time_steps"] == t
        if preset == "vit-2-256":
            assert (full["num_heads"], full["tau_init"], full["nsad_u_init"]) == (16, 2, 2.0)
            assert full["img_size"] == 128 and cfg.data.options["nda"] is True


# ----------------------------------------------------------------------------- data details
def test_cifar_pixels_on_model_grid_and_augmentation(tmp_path, no_md5):
    write_cifar(tmp_path, False)
    torch.manual_seed(0)
    train, test, info = build_datasets("cifar10", root=str(tmp_path), model={"input_levels": 16})
    assert len(train) == 30 and len(test) == 6
    assert info == {"num_classes": 10, "in_channels": 3, "img_size": 32, "input_levels": 16}
    for ds in (train, test):
        x, y = ds[0]
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
        assert torch.equal(x * 16, (x * 16).round()) and 0 <= x.min() and x.max() <= 1
    # The test split is only converted: round(p * 16 / 255) / 16 of the stored pixels.
    raw = pickle.load(open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb"))["data"][0]
    want = np.floor(raw.reshape(3, 32, 32).astype(np.float32) / 255 * 16 + 0.5) / 16
    assert np.allclose(test[0][0].numpy(), want)
    # The training split is augmented (different draws differ).
    assert not torch.equal(train[0][0], train[0][0])


def test_dvs_frames_nda_and_split(tmp_path, fake_aedat):
    write_gesture(tmp_path)
    train, test, info = build_datasets(
        "dvsgesture", root=str(tmp_path), time_steps=3, img_size=64, cache=False
    )
    assert (len(train), len(test)) == (22, 11) and info["num_classes"] == 11
    x, y = test[0]
    assert x.shape == (2, 64, 64, 3) and torch.equal(x, x.round())
    # Every event lands in one frame (sum-pooled 2x2 pixels), except that tonic's time bins are
    # half-open, so events at the very last timestamp fall outside.
    assert 298 <= x.sum() <= 300
    clone = pickle.loads(pickle.dumps(test))  # loader workers started by spawn
    assert torch.equal(clone[0][0], x)
    torch.manual_seed(0)
    for _ in range(8):  # all NDA operations keep integer event counts and the layout
        xa = nda_augment(x)
        assert xa.shape == x.shape and torch.equal(xa, xa.round()) and xa.min() >= 0
    # ToFrame layout: (P, H, W, T) from [x, y, p, t] events.
    ev = np.zeros(3, np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)]))
    ev["x"], ev["y"], ev["p"], ev["t"] = (
        [5, 100, 0],
        [7, 3, 0],
        [True, False, False],
        [0, 600, 1000],
    )
    f = events_to_frames(ev, 2, 128)  # bins [0, 500) and [500, 1000)
    assert f.shape == (2, 128, 128, 2) and f[1, 7, 5, 0] == 1 and f[0, 3, 100, 1] == 1
    assert f.sum() == 2
    # CIFAR10-DVS: 9:1 per class, fixed by the seed.
    targets = [c for c in range(10) for _ in range(20)]
    tr, te = cifar10dvs_split(targets, 0)
    assert len(te) == 20 and np.bincount([targets[i] for i in te]).tolist() == [2] * 10
    assert cifar10dvs_split(targets, 0) == (tr, te) and cifar10dvs_split(targets, 1) != (tr, te)
    assert sorted(tr + te) == list(range(200))


def test_cifar10dvs_needs_aedat(tmp_path):
    write_cifar10dvs(tmp_path, per_class=2)
    train, _, _ = build_datasets("cifar10dvs", root=str(tmp_path), time_steps=2, cache=False)
    try:
        import aedat  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(DataError, match="needs the 'aedat' package: pip install aedat"):
            train[0]


# ----------------------------------------------------------------------------- missing data
@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "cifar10",
            "CIFAR-10 not found under {root}/cifar-10-batches-py: download it with "
            "--download or place torchvision's files there",
        ),
        ("cifar100", "CIFAR-100 not found under {root}/cifar-100-python"),
        ("dvsgesture", "DVS128 Gesture not found under {root}/DVSGesture/ibmGestureTrain"),
        ("cifar10dvs", "CIFAR10-DVS not found under {root}/CIFAR10DVS"),
    ],
)
def test_missing_data_one_line_error(name, expected, tmp_path):
    with pytest.raises(DataError) as err:
        build_datasets(name, root=str(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg and expected.format(root=tmp_path) in msg and "--download" in msg


def test_incomplete_data_one_line_error(tmp_path):
    folder = write_cifar(tmp_path, False)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"CIFAR-10 incomplete \(data_batch_3 missing\) under "):
        build_datasets("cifar10", root=str(tmp_path))
    gesture = write_gesture(tmp_path)
    for f in (gesture / "ibmGestureTest").glob("*/*.npy"):
        f.unlink()
    with pytest.raises(DataError, match="DVS128 Gesture incomplete .* under .*ibmGestureTest"):
        build_datasets("dvsgesture", root=str(tmp_path))
    dvs = write_cifar10dvs(tmp_path, per_class=1)
    for f in (dvs / "frog").glob("*"):
        f.unlink()
    with pytest.raises(DataError, match=r"CIFAR10-DVS incomplete \(no frog/\*.aedat4\)"):
        build_datasets("cifar10dvs", root=str(tmp_path))


def test_cli_data_root_and_missing_data(tmp_path, capsys):
    empty = tmp_path / "nothing here"
    code = main(
        [
            "--config",
            str(CONFIGS / "cifar10.yaml"),
            "--data-root",
            str(empty),
            "--output-dir",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"error: data: CIFAR-10 not found under {empty}/cifar-10-batches-py: download it with "
        "--download or place torchvision's files there"
    ]


# ----------------------------------------------------------------------------- plumbing
def test_cli_flags_and_options_overrides(tmp_path):
    from lava_ds2ta.training.checkpoint import check_resume_compatible
    from lava_ds2ta.training.config import apply_overrides
    from lava_ds2ta.training.config import config_from_dict

    raw = apply_overrides(
        {"data": {"name": "dvsgesture", "options": {"nda": True, "cache": True}}},
        ["data.options.nda=false", "data.root='/x y'", "data.download=true"],
    )
    assert raw["data"] == {
        "name": "dvsgesture",
        "options": {"nda": False, "cache": True},
        "root": "/x y",
        "download": True,
    }
    cfg = config_from_dict({**raw, "model": {"preset": "vit-2-256", "num_classes": 11}})
    assert cfg.data.options == {"nda": False, "cache": True} and cfg.data.root == "/x y"
    # A checkpoint written before data.root/download/options and optim.amp existed still resumes.
    saved = config_from_dict({}).to_dict()
    for section, key in (("data", "root"), ("data", "download"), ("data", "options")):
        del saved[section][key]
    del saved["optim"]["amp"]
    check_resume_compatible(config_from_dict({}).to_dict(), saved, tmp_path / "last.pt")


def test_amp_on_cpu_warns_and_trains_in_float32(tmp_path):
    from lava_ds2ta.training.config import config_from_dict

    raw = {
        "model": {"preset": "tiny", "embed_dim": 16, "num_heads": 2, "time_steps": 2},
        "data": {"name": "digits", "batch_size": 8, "eval_batch_size": 16, "subset": 16},
        "optim": {"epochs": 1, "warmup_epochs": 0, "amp": True},
        "device": "cpu",
        "output_dir": str(tmp_path),
    }
    logs: list[str] = []
    trainer = Trainer(config_from_dict(raw), progress=False, log=logs.append)
    trainer.fit()
    assert logs[0] == "warning: optim.amp needs CUDA; training in float32 on cpu"
    assert trainer.engine.scaler is None


# ----------------------------------------------------------------------------- Lava on real splits
@pytest.mark.parametrize(
    "data, preset, writer",
    [("cifar10", "vit-4-384", "cifar"), ("dvsgesture", "vit-2-256", "gesture")],
)
def test_run_cpu_streams_real_test_splits(data, preset, writer, tmp_path, no_md5, capsys):
    """``ds2ta-run-cpu --data cifar10|dvsgesture --data-root``: the training loaders on the
    network's input grid, the first N test samples, every layer exact."""
    from lava_ds2ta import create_model
    from lava_ds2ta.deploy.cli import main as run_cpu
    from lava_ds2ta.export import export_model
    from lava_ds2ta.init import data_init

    root = tmp_path / "data"
    write_cifar(root, hundred=False) if writer == "cifar" else write_gesture(root)
    torch.manual_seed(0)
    model = create_model("ds2ta", preset=preset, embed_dim=16, num_heads=2, depth=1, mlp_ratio=1)
    c = model.config
    frames = (c.time_steps,) if data != "cifar10" else ()
    shape = (4, c.in_channels, c.img_size, c.img_size, *frames)
    data_init(model, (torch.rand(shape) < 0.2).float())
    net = export_model(model.eval(), tmp_path / "m.net")
    report = tmp_path / "r.json"
    argv = [str(net), "--data", data, "--data-root", str(root), "--samples", "2",
            "--report", str(report), "--no-progress"]  # fmt: skip
    assert run_cpu(argv) == 0, capsys.readouterr().err
    out = json.loads(report.read_text())
    assert out["samples"] == 2 and out["logit_agreement"] == 1.0
    assert all(row["exact"] for row in out["layers"]) and len(out["layers"]) > 8
