"""Trainer: output files, checkpoint reload, exact resume after interruption, error paths.

Uses the real model at a tiny size (embed_dim 16, 2 heads, depth 1, T=2) on 48 digits per split.
"""

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.models import create_model
from lava_ds2ta.models import load_checkpoint
from lava_ds2ta.models import load_model
from lava_ds2ta.training import trainer as trainer_mod
from lava_ds2ta.training.ablation import run_config
from lava_ds2ta.training.ablation import summarise
from lava_ds2ta.training.cli import main
from lava_ds2ta.training.config import config_from_dict
from lava_ds2ta.training.config import read_yaml
from lava_ds2ta.training.loop import TrainingError
from lava_ds2ta.training.metrics import COLUMNS
from lava_ds2ta.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]

EPOCHS = 3
RAW = {
    "model": {
        "name": "ds2ta",
        "preset": "tiny",
        "embed_dim": 16,
        "num_heads": 2,
        "depth": 1,
        "time_steps": 2,
    },
    "data": {"name": "digits", "batch_size": 16, "eval_batch_size": 48, "subset": 48},
    "optim": {
        "lr": 2e-3,
        "epochs": EPOCHS,
        "warmup_epochs": 1,
        "label_smoothing": 0.1,
        "mixup_alpha": 0.8,
        "cutmix_alpha": 1.0,
        "mix_prob": 0.5,
        "grad_clip": 1.0,
    },
    "seed": 3,
    "device": "cpu",
}


def _cfg(out: Path, **optim):
    raw = {**RAW, "optim": {**RAW["optim"], **optim}, "output_dir": str(out)}
    return config_from_dict(raw)


def _metrics(run_dir: Path) -> list[dict]:
    rows = json.loads((run_dir / "metrics.json").read_text())
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    trainer = Trainer(_cfg(out), progress=False, log=lambda _: None)
    result = trainer.fit()
    return out, trainer, result


def test_run_writes_outputs(full_run):
    out, _, result = full_run
    for name in ("last.pt", "best.pt", "metrics.csv", "metrics.json", "config.yaml"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp"))
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3] and all(set(r) == set(COLUMNS) for r in rows)
    csv_lines = (out / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(COLUMNS) and len(csv_lines) == 1 + EPOCHS
    assert all(math.isfinite(r["train_loss"]) and 0 <= r["test_acc"] <= 100 for r in rows)
    assert rows[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine ends at min_lr = 0
    best = max(rows, key=lambda r: r["test_acc"])
    assert (result.best_epoch, result.best_acc) == (best["epoch"], best["test_acc"])
    assert load_checkpoint(out / "best.pt")["epoch"] == result.best_epoch
    assert yaml.safe_load((out / "config.yaml").read_text())["optim"]["epochs"] == EPOCHS


def test_checkpoint_reloads_into_fresh_model_with_identical_logits(full_run):
    out, trainer, result = full_run
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == EPOCHS and state["history"] == result.history
    fresh = create_model(**state["model_config"])
    fresh.load_state_dict(state["model"])
    fresh.eval()
    trainer.model.eval()
    _, test_ds, _ = build_datasets("digits", subset=48)
    x = test_ds.tensors[0]
    with torch.no_grad():
        assert torch.equal(fresh(x), trainer.model(x))
    model, _ = load_model(out / "last.pt")
    with torch.no_grad():
        acc = 100.0 * (model(x).argmax(-1) == test_ds.tensors[1]).float().mean().item()
    assert acc == pytest.approx(result.final_acc)


def test_stop_then_resume_equals_uninterrupted(full_run, tmp_path):
    out, _, _ = full_run
    first = Trainer(_cfg(tmp_path), progress=False, log=lambda _: None).fit(stop_after_epoch=1)
    assert first.epochs_done == 1 and load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    Trainer(_cfg(tmp_path), resume=True, progress=False, log=lambda _: None).fit()
    assert _metrics(tmp_path) == _metrics(out)
    a, b = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(out / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_cli_keyboard_interrupt_then_resume(full_run, tmp_path, monkeypatch, capsys):
    out, _, _ = full_run
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({**RAW, "output_dir": str(tmp_path / "run")}))
    real_evaluate, calls = trainer_mod.evaluate, []

    def interrupting_evaluate(*args):
        calls.append(1)
        if len(calls) == 2:  # during epoch 2, after its training steps
            raise KeyboardInterrupt
        return real_evaluate(*args)

    monkeypatch.setattr(trainer_mod, "evaluate", interrupting_evaluate)
    assert main(["--config", str(cfg_file), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "last.pt" in err and "--resume" in err
    assert main(["--config", str(cfg_file), "--no-progress"]) == 2  # refuses to clobber the run
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(trainer_mod, "evaluate", real_evaluate)
    assert main(["--config", str(cfg_file), "--resume", "--no-progress"]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith("test accuracy (eval mode, quantised weights): ")
    assert _metrics(tmp_path / "run") == _metrics(out)


def test_resume_with_changed_recipe_is_refused(full_run, tmp_path):
    out, _, _ = full_run
    with pytest.raises(CheckpointError, match=r"'optim.lr' is 0.001 in the config but 0.002"):
        Trainer(_cfg(out, lr=1e-3), resume=True, progress=False).fit()


def test_corrupt_checkpoint_one_line_error(full_run, tmp_path, capsys):
    out, _, _ = full_run
    bad = tmp_path / "last.pt"
    data = (out / "last.pt").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "is corrupt or truncated" in msg
    assert "delete" not in msg and "weights_only" not in msg and "pick another" in msg
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt is not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({**RAW, "output_dir": str(tmp_path)}))
    assert main(["--config", str(cfg_file), "--resume"]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith(f"error: checkpoint {bad} is corrupt")


class _NaNAfter(nn.Module):
    """Wraps the real model; returns NaN logits from the ``n``-th training forward on."""

    def __init__(self, inner: nn.Module, n: int) -> None:
        super().__init__()
        self.inner, self.config, self.n, self.calls = inner, inner.config, n, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        out = self.inner(x)
        return out * float("nan") if self.training and self.calls >= self.n else out


def test_nan_loss_stops_without_checkpoint(tmp_path, monkeypatch):
    real_build = trainer_mod.build_model
    monkeypatch.setattr(trainer_mod, "build_model", lambda s: _NaNAfter(real_build(s), 2))
    with pytest.raises(TrainingError) as err:
        Trainer(_cfg(tmp_path), progress=False, log=lambda _: None).fit()
    msg = str(err.value)
    assert "\n" not in msg and "epoch 1, step 2" in msg and "lower optim.lr" in msg
    assert isinstance(err.value, Ds2taError)
    assert not (tmp_path / "last.pt").exists() and not (tmp_path / "best.pt").exists()


def test_resume_without_checkpoint_and_model_data_mismatch(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        Trainer(_cfg(tmp_path), resume=True).fit()
    raw = {**RAW, "model": {**RAW["model"], "num_classes": 5}, "output_dir": str(tmp_path)}
    with pytest.raises(Ds2taError, match=r"model.num_classes is 5 but data set 'digits' has 10"):
        Trainer(config_from_dict(raw)).fit()


def test_seed_table_varies_the_transformer_variant(tmp_path):
    """``ds2ta-ablation`` on a DS2TA config varies ``model.name`` (DS2TA's Table 4 ablation);
    the table's spread is over seeds and its spike change is against Spikformer."""
    raw = read_yaml(ROOT / "train/configs/ds2ta_digits.yaml")
    cfg = run_config(raw, "spikformer", 3, tmp_path)
    assert cfg.model.name == "spikformer" and cfg.seed == 3
    assert Path(cfg.output_dir) == tmp_path / "spikformer" / "seed3"
    with pytest.raises(Ds2taError, match="unknown variant 'TCSA'.*spikformer"):
        run_config(raw, "TCSA", 0, tmp_path)
    records = [
        {"variant": "ds2ta", "acc": 97.0, "nasar": 0.1},
        {"variant": "ds2ta", "acc": 99.0, "nasar": 0.3},
        {"variant": "spikformer", "acc": 96.0, "nasar": 0.4},
    ]
    ds2ta, spikformer = summarise(records, ["ds2ta", "spikformer"])
    assert (ds2ta["acc_mean"], ds2ta["acc_min"], ds2ta["acc_max"]) == (98.0, 97.0, 99.0)
    assert ds2ta["acc_std"] == pytest.approx(2**0.5) and spikformer["acc_std"] == 0.0
    assert ds2ta["spike_change"] == pytest.approx(-50.0) and spikformer["spike_change"] == 0.0


def test_leaving_a_process_group_never_waits_for_gloos_destructor(monkeypatch):
    """gloo's destructor can wait forever holding the GIL: nothing in the package destroys the
    process group, and the command knows when it must end the process itself (``os._exit``)."""
    from lava_ds2ta.training import distributed

    package = Path(distributed.__file__).resolve().parents[1]
    calls = [p for p in package.rglob("*.py") if "destroy_process_group(" in p.read_text()]
    assert calls == []
    assert not distributed.in_process_group()  # a single-process run: nothing to leave
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
    assert distributed.in_process_group()
