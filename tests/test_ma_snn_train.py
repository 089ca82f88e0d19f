"""MA-SNN training: MSE loss, clip voting, NASAR, the attention ablation (resumable, skips
finished runs) and the Gesture configs on the real-format fixture (whole samples and clips)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_datasets import write_gesture

from lava_ds2ta import create_model
from lava_ds2ta.data import build_datasets
from lava_ds2ta.data.dvs import events_to_dt_frames
from lava_ds2ta.init import data_init
from lava_ds2ta.training.ablation import main as ablation_main
from lava_ds2ta.training.ablation import run_config
from lava_ds2ta.training.config import config_from_dict
from lava_ds2ta.training.config import load_config
from lava_ds2ta.training.loop import evaluate
from lava_ds2ta.training.loss import training_loss
from lava_ds2ta.training.spikes import spike_stats
from lava_ds2ta.training.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"
TINY = dict(channels=[4, 8], pools=[1, 2], fc=[16], img_size=16, time_steps=10, t_ratio=5,
            c_ratio=2)  # fmt: skip


def test_mse_loss_on_one_hot_targets():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    one_hot = torch.nn.functional.one_hot(labels, 3).float()
    mse = training_loss(logits, labels, kind="mse")
    assert torch.allclose(mse, ((logits - one_hot) ** 2).mean())
    smooth = one_hot * 0.7 + 0.1
    got = training_loss(logits, labels, label_smoothing=0.3, kind="mse")
    assert torch.allclose(got, ((logits - smooth) ** 2).mean())
    soft = torch.softmax(torch.randn(4, 3), -1)
    mse = training_loss(logits, labels, soft, kind="mse")
    assert torch.allclose(mse, ((logits - soft) ** 2).mean())


class ClipModel(torch.nn.Module):
    """Predicts the class written in the clip's first value."""

    def forward(self, x):
        return torch.nn.functional.one_hot(x[:, 0, 0, 0, 0].long(), 3).float()


def test_clips_are_voted_more_than_half_correct():
    x = torch.zeros(3, 10, 1, 1, 1, 2)  # 3 samples of 10 clips, all labelled 0
    x[1, :5, 0, 0, 0, 0] = 1  # 5 of 10 clips right: not more than half
    x[2, :4, 0, 0, 0, 0] = 2  # 6 of 10 clips right
    loader = [(x, torch.zeros(3, dtype=torch.long))]
    loss, acc = evaluate(ClipModel(), loader, torch.device("cpu"), "mse")
    assert acc == pytest.approx(200 / 3)
    assert loss == pytest.approx((0 + 5 * 2 / 3 / 10 + 4 * 2 / 3 / 10) / 3)


def test_nasar_counts_every_spiking_layer():
    torch.manual_seed(0)
    model = create_model("ma_snn_dvs_digits", attention="TCSA", **TINY)
    x = torch.poisson(torch.full((6, 2, 16, 16, 10), 0.5))
    data_init(model, x)
    model.eval()
    counted = []
    for layer in model.layers:
        layer.neuron.register_forward_hook(lambda _m, _a, out, c=counted: c.append(out))
    with torch.no_grad():
        model(x)
    stats = spike_stats(model, [(x[:4], None), (x[4:], None)], torch.device("cpu"))
    assert list(stats.layers) == [f"layers.{i}.neuron" for i in range(3)]
    spikes = sum(int(s.sum()) for s in counted)
    steps = sum(s.numel() for s in counted)
    assert stats.nasar == spikes / steps and 0 < stats.nasar < 1
    assert stats.rates()["layers.0.neuron"] == pytest.approx(counted[0].mean().item())


def ablation_config(tmp_path: Path) -> Path:
    cfg = {
        "model": {"name": "ma_snn_dvs_digits", **TINY},
        "data": {"name": "dvs-digits", "batch_size": 16, "eval_batch_size": 32, "subset": 32},
        "optim": {"lr": 2e-3, "epochs": 2, "warmup_epochs": 0, "loss": "mse"},
        "device": "cpu",
        "output_dir": str(tmp_path / "abl"),
    }
    path = tmp_path / "abl.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def test_ablation_trains_tabulates_resumes_and_skips(tmp_path, capsys):
    path = ablation_config(tmp_path)
    out = tmp_path / "abl"
    raw = json.loads(path.read_text())
    interrupted = run_config(raw, "TA", 1, out)  # stopped after one epoch of two
    Trainer(interrupted, progress=False, log=lambda _: None).fit(stop_after_epoch=1)
    args = ["--config", str(path), "--seeds", "0", "1", "--variants", "none", "TA", "--no-progress"]
    assert ablation_main(args) == 0
    text = capsys.readouterr().out
    assert f"{out / 'TA' / 'seed1'}: resuming" in text
    report = json.loads((out / "ablation.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"none", "TA"} and rows["none"]["spike_change"] == 0
    assert all(r["seeds"] == 2 and 0 < r["nasar"] < 1 for r in rows.values())
    for run in report["runs"]:
        history = json.loads((out / run["variant"] / f"seed{run['seed']}" / "metrics.json")
                             .read_text())  # fmt: skip
        assert run["epochs"] == 2 and run["acc"] == history[-1]["test_acc"]
    accs = [r["acc"] for r in report["runs"] if r["variant"] == "TA"]
    assert rows["TA"]["acc_mean"] == pytest.approx(np.mean(accs))
    assert rows["TA"]["acc_std"] == pytest.approx(np.std(accs, ddof=1))
    assert "NASAR" in text and (out / "ablation.png").stat().st_size > 1000
    mtimes = {p: p.stat().st_mtime for p in out.rglob("last.pt")}
    assert len(mtimes) == 4
    assert ablation_main(args) == 0  # everything finished: nothing trains again
    assert capsys.readouterr().out.count("skipped") == 4
    assert all(p.stat().st_mtime == t for p, t in mtimes.items())
    assert ablation_main([*args, "--set", "optim.lr=1e-3"]) == 2  # another recipe, same folder
    assert "cannot resume" in capsys.readouterr().err
    assert ablation_main([*args[:-2], "none", "XA"]) == 2
    assert "--variants: unknown attention 'XA'" in capsys.readouterr().err


GESTURE_SHRINK = [
    "model.channels=[4, 8, 8]", "model.fc=[8]", "model.time_steps=6", "model.t_ratio=3",
    "model.c_ratio=2", "data.subset=4", "data.batch_size=4", "data.eval_batch_size=4",
    "data.num_workers=0", "optim.epochs=1", "device=cpu",
]  # fmt: skip


@pytest.mark.parametrize(
    "config, extra",
    [
        ("ma_snn_gesture", []),  # whole samples in T bins
        ("ma_snn_gesture", ["data.options.dt_ms=15", "data.options.test_clips=3"]),  # clips
        ("ma_snn_gesture_5conv", ["model.channels=[4, 4, 4, 4, 4]"]),
    ],
)
def test_gesture_configs_train_a_step_on_the_real_format(config, extra, tmp_path):
    root = tmp_path / "data"
    write_gesture(root)
    overrides = [*GESTURE_SHRINK, *extra, f"data.root={root}", f"output_dir={tmp_path / 'run'}"]
    cfg = load_config(CONFIGS / f"{config}.yaml", overrides)
    assert cfg.optim.loss == "mse" and cfg.model.overrides["attention"] == "TCSA"
    result = Trainer(cfg, progress=False, log=lambda _: None).fit()
    assert result.epochs_done == 1 and np.isfinite(result.history[0]["train_loss"])
    assert np.isfinite(result.history[0]["test_loss"])


def test_gesture_clips(tmp_path):
    write_gesture(tmp_path)
    train, test, info = build_datasets("dvsgesture", root=str(tmp_path), time_steps=5,
                                       img_size=32, nda=False, dt_ms=100, test_clips=4)  # fmt: skip
    x, y = test[0]
    assert x.shape == (4, 2, 32, 32, 5) and info["time_steps"] == 5
    events = np.load(sorted((tmp_path / "DVSGesture" / "ibmGestureTest").rglob("*.npy"))[0])
    ev = np.zeros(len(events), np.dtype([("x", int), ("y", int), ("p", int), ("t", int)]))
    ev["x"], ev["y"], ev["p"] = events[:, 0], events[:, 1], events[:, 2]
    ev["t"] = events[:, 3] * 1000
    frames = events_to_dt_frames(ev, 100_000, 32)
    assert frames.sum() == len(events) and frames.shape[-1] == 10  # 1 s of 100 ms frames
    assert (frames[..., 0].sum(), frames[0, :, :, 1].sum()) == (
        ((ev["t"] - ev["t"].min()) < 100_000).sum(),
        ((ev["p"] == 0) & ((ev["t"] - ev["t"].min()) // 100_000 == 1)).sum())  # fmt: skip
    starts = [0, 1, 3, 5]  # floor(i (10 - 5) / 3)
    for clip, s in zip(x, starts, strict=True):
        assert torch.equal(clip, torch.from_numpy(frames[..., s:s + 5]).float())
    torch.manual_seed(0)
    clips = {tuple(train[0][0].sum(dim=(0, 1, 2)).tolist()) for _ in range(12)}
    assert len(clips) > 1  # a random clip per draw
    with pytest.raises(Exception, match="dt_ms"):
        build_datasets("dvsgesture", root=str(tmp_path), dt_ms=0)


def test_dvs_digits_config_is_the_documented_recipe():
    cfg = load_config(CONFIGS / "ma_snn_dvs_digits.yaml")
    model = create_model(**cfg.model.to_dict())
    c = model.config
    assert (c.name, c.attention, c.time_steps, c.img_size, c.channels, c.fc) == (
        "ma_snn_dvs_digits", "TCSA", 10, 16, [16, 32, 32], [64])  # fmt: skip
    assert (cfg.data.name, cfg.optim.loss, cfg.optim.epochs) == ("dvs-digits", "mse", 12)


def test_loss_key_is_validated():
    with pytest.raises(Exception, match="optim.loss"):
        config_from_dict({"optim": {"loss": "hinge"}})
