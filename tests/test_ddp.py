"""DDP: ``torchrun --nproc_per_node=2`` (gloo, CPU) trains the tiny model on digits; rank 0 alone
writes one set of outputs and logs, the loss falls, and the test metrics summed over the two
ranks equal a single-process evaluation of the saved checkpoint."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from lava_ds2ta.data import build_datasets
from lava_ds2ta.models import load_model

SUBSET = 256
RAW = {
    "model": {
        "name": "ds2ta",
        "preset": "tiny",
        "embed_dim": 16,
        "num_heads": 2,
        "depth": 1,
        "time_steps": 2,
    },
    "data": {"name": "digits", "batch_size": 32, "eval_batch_size": 64, "subset": SUBSET},
    "optim": {"lr": 5e-3, "epochs": 2, "warmup_epochs": 0.5, "grad_clip": 1.0},
    "seed": 0,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**RAW, "output_dir": str(tmp / "run")}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "lava_ds2ta.training.cli",
        "--config",
        str(cfg),
        "--no-progress",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / "run", proc


def test_rank0_writes_one_set_of_outputs(ddp_run):
    run, proc = ddp_run
    names = sorted(p.name for p in run.iterdir())
    assert names == sorted(
        ["best.pt", "config.yaml", "curves.png", "last.pt", "metrics.csv", "metrics.json"]
    )
    out = proc.stdout.splitlines()
    assert sum(line.startswith("epoch   1/2") for line in out) == 1  # rank 0 logs only
    assert sum(line.startswith("test accuracy") for line in out) == 1
    assert any("distributed: 2 processes (gloo), 16 samples per process" in ln for ln in out)


def test_loss_decreases_and_metrics_are_global(ddp_run):
    run, _ = ddp_run
    rows = json.loads((run / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    # Test metrics summed over both ranks' shards == the whole test subset on one process.
    model, state = load_model(run / "last.pt")
    _, test_ds, _ = build_datasets("digits", subset=SUBSET)
    x, y = test_ds.tensors
    with torch.no_grad():
        acc = 100.0 * (model(x).argmax(-1) == y).float().mean().item()
    assert acc == pytest.approx(rows[-1]["test_acc"])
    assert state["epoch"] == 2
