"""Whole networks on Lava fixed_pt: every layer's spikes equal the PyTorch eval model's, exactly.

The tiny ``ds2ta`` and ``spikformer`` are trained for a few steps (enough for non-trivial biases,
TASA exponents and NSAD tables), exported, and streamed over 50 digits test samples.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from lava.magma.runtime.message_infrastructure.shared_memory_manager import SharedMemoryManager

from lava_ds2ta import create_model
from lava_ds2ta.data import build_datasets
from lava_ds2ta.deploy import lifecycle
from lava_ds2ta.deploy.compare import compare_with_torch
from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.errors import FormatError
from lava_ds2ta.export.reader import LayerSpec
from lava_ds2ta.export.reader import NetworkSpec
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.record import layer_indices
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.init import data_init
from lava_ds2ta.training.optim import param_groups

SAMPLES = 50


def briefly_trained(name: str) -> torch.nn.Module:
    torch.manual_seed(1)
    model = create_model(name, preset="tiny")
    train, _, _ = build_datasets("digits", subset=256)
    x = torch.stack([train[i][0] for i in range(256)])
    y = torch.tensor([int(train[i][1]) for i in range(256)])
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=5e-3)
    for step in range(12):
        idx = torch.arange(step * 21, step * 21 + 32) % 256
        if step == 0:
            data_init(model, x[idx])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module", params=["ds2ta", "spikformer"])
def deployed(request, tmp_path_factory):
    model = briefly_trained(request.param)
    path = export_model(model, tmp_path_factory.mktemp(request.param) / "model.net")
    spec = read_network(path)
    x, y = load_test_inputs(spec, "digits", SAMPLES)
    result = run_network(spec, x["levels"], "fixed_pt", record=True)
    return model, spec, x, y, result


def test_every_layer_spikes_exactly_as_pytorch(deployed):
    model, spec, x, _, result = deployed
    expected = record_layers(model, x["float"])
    index = layer_indices(model)
    spiking = [
        layer.index
        for layer in spec.layers
        if layer.type in ("conv", "tasa", "spikeMaxPool", "attention")
    ]
    assert sorted(result.spikes) == sorted(spiking)
    for name, ref in expected.items():
        i = index[name]
        if i not in result.spikes:
            continue
        assert ref.sum() > 0, f"{name} is silent: the test would prove nothing"
        np.testing.assert_array_equal(result.spikes[i], ref, err_msg=name)


def test_logits_and_predictions_equal_pytorch(deployed):
    model, spec, x, _, result = deployed
    with torch.no_grad():
        logits = model(x["float"]).double().numpy()
    tokens_steps = 16 * 4  # 4x4 tokens, T=4
    np.testing.assert_array_equal(result.logits, np.rint(64 * tokens_steps * logits))
    np.testing.assert_array_equal(result.predictions, logits.argmax(1))
    report = compare_with_torch(spec, x, result, None)
    assert report["prediction_agreement"] == 1.0 and report["logit_agreement"] == 1.0
    assert all(row["exact"] for row in report["layers"])


def test_floating_point_models_run_and_agree(deployed):
    _, spec, x, _, fixed = deployed
    result = run_network(spec, x["levels"][:10], "floating_pt")
    assert result.logits.shape == (10, 10)
    assert (result.predictions == fixed.predictions[:10]).mean() >= 0.8


def _shm() -> set[str]:
    """This process's Lava segments (``lava_ds2ta_<ns>_<pid>_<ticks>_<n>``, deploy.lifecycle):
    other Lava users of the machine cannot disturb the check."""
    mine = f"_{os.getpid()}_"
    return {n for n in os.listdir("/dev/shm") if n.startswith("lava_ds2ta_") and mine in n}


def test_no_shared_memory_left_behind(tmp_path):
    before = _shm()
    model = create_model("spikformer", preset="tiny", embed_dim=16, num_heads=2).eval()
    spec_path = export_model(model, tmp_path / "shm_test.net")
    spec = read_network(spec_path)
    x, _ = load_test_inputs(spec, "digits", 2)
    run_network(spec, x["levels"], "fixed_pt")
    assert _shm() - before == set()
    # ... and the run's segments carried this process's tag (so _shm() did see them)
    assert SharedMemoryManager.create_shared_memory is lifecycle._create_named_segment


def test_an_error_during_a_run_still_stops_it_and_frees_shared_memory(monkeypatch, tmp_path):
    model = create_model("spikformer", preset="tiny", embed_dim=16, num_heads=2).eval()
    spec = read_network(export_model(model, tmp_path / "error_test.net"))
    x, _ = load_test_inputs(spec, "digits", 2)
    before = _shm()

    def broken_load(*_a, **_k):
        raise OSError("disk went away")

    monkeypatch.setattr("lava_ds2ta.deploy.runner.np.load", broken_load)
    with pytest.raises(OSError, match="disk went away"):
        run_network(spec, x["levels"], "fixed_pt")
    assert _shm() - before == set()


def test_a_bad_attention_table_is_refused_before_lava_starts():
    layers = [
        LayerSpec(0, "input", "input", [], (2, 2, 2), dict(timeSteps=2, inputLevels=1), None),
        LayerSpec(
            1,
            "attn",
            "attention",
            [0, 0, 0],
            (2, 2, 2),
            dict(
                numHeads=1,
                headDim=2,
                scaleShift=3,
                denoiser="nsad",
                tables=np.zeros((1, 1), dtype=np.int64),
            ),
            dict(type="CUBA", iDecay=4096, vDecay=2048, vThMant=32, refDelay=1),
        ),
        LayerSpec(
            2,
            "head",
            "readout",
            [1],
            (3,),
            dict(weight=np.ones((3, 2), np.int32), bias=np.zeros(3, np.int32)),
            None,
        ),
    ]
    with pytest.raises(FormatError, match=r"attn.*tables.*\(1, 3\)"):
        run_network(NetworkSpec(1, {}, layers), np.ones((2, 2, 2, 2, 2), dtype=np.int64))
