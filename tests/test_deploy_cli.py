"""``ds2ta-run-cpu``: report, and one-line errors for bad networks, data and shapes."""

from __future__ import annotations

import json

import pytest

from lava_ds2ta import create_model
from lava_ds2ta.deploy.cli import main
from lava_ds2ta.export.writer import export_model


@pytest.fixture(scope="module")
def small_net(tmp_path_factory):
    model = create_model("ds2ta", preset="tiny", embed_dim=16, num_heads=2).eval()
    return export_model(model, tmp_path_factory.mktemp("cli") / "small.net")


def test_run_prints_summary_and_writes_report(small_net, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert main([str(small_net), "--samples", "3", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "agreement     predictions 100.00 %" in out and "steps/s" in out
    data = json.loads(report.read_text())
    assert data["samples"] == 3 and data["prediction_agreement"] == 1.0
    assert all(row["exact"] for row in data["layers"]) and len(data["layers"]) == 13


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "mnist"], "unknown dataset 'mnist'"),
        (["--samples", "0"], "--samples: must be >= 1"),
    ],
)
def test_bad_arguments_give_one_line_errors(small_net, capsys, args, message):
    try:
        code = main([str(small_net), *args])
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_wrong_input_shape_and_bad_files_give_one_line_errors(tmp_path, capsys):
    wide = export_model(
        create_model("spikformer", preset="tiny", img_size=16, embed_dim=16, num_heads=2).eval(),
        tmp_path / "wide.net",
    )
    assert main([str(wide), "--samples", "2"]) == 2
    assert "expects (1, 16, 16)" in capsys.readouterr().err
    broken = tmp_path / "broken.net"
    broken.write_bytes(wide.read_bytes()[:500])
    assert main([str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "broken.net" in err and "\n" not in err
    assert main([str(tmp_path / "missing.net")]) == 2
    assert "missing.net" in capsys.readouterr().err


def test_training_and_lava_share_one_process():
    """tqdm (training) fixes multiprocessing's start method; Lava's import must still work."""
    import subprocess
    import sys

    code = (
        "import lava_ds2ta\n"
        "from tqdm import tqdm\n"
        "list(tqdm(range(2), disable=False))\n"
        "import multiprocessing as mp\n"
        "mp.get_start_method()\n"
        "from lava_ds2ta.deploy.runner import run_network\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-500:]
