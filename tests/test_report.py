"""The operation counter against counts written out by hand, and ``ds2ta-report`` on briefly
trained digits models: Lava's and PyTorch's per-layer counts and attention maps are identical."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_deploy_network import briefly_trained

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers.conv import fan_out
from lava_ds2ta.layers.conv import synaptic_events
from lava_ds2ta.models.checkpoint import save_checkpoint
from lava_ds2ta.report import complete_outputs
from lava_ds2ta.report import count_layers
from lava_ds2ta.report import observe_lava
from lava_ds2ta.report import observe_torch
from lava_ds2ta.report import summarize
from lava_ds2ta.report.cli import main

T = 2
NEURON = dict(type="CUBA", iDecay=4096, vDecay=2048, vThMant=64, refDelay=1)


def _conv(index, name, inputs, cin, cout, k, **extra):
    params = dict(inChannels=cin, outChannels=cout, kernelSize=[k, k], stride=[1, 1],
                  padding=[k // 2, k // 2], dilation=[1, 1], groups=1,
                  weight=np.zeros((cout, cin, k, k), np.int64), **extra)  # fmt: skip
    return LayerSpec(index, name, "tasa" if "window" in extra else "conv", inputs, (cout, 2, 2),
                     params, NEURON)  # fmt: skip


def hand_network() -> NetworkSpec:
    """input (1, 2, 2) -> conv 3x3 (2 channels) -> q (tasa, window 3), k, v (1x1) -> attention
    (2 heads, d = 1, NSAD tables) -> add(conv, attention) -> readout (3 classes); T = 2."""
    tables = np.array([[0, 3], [0, 0]])
    layers = [
        LayerSpec(0, "input", "input", [], (1, 2, 2), dict(timeSteps=T, inputLevels=16), None),
        _conv(1, "conv", [0], 1, 2, 3),
        _conv(2, "q", [1], 2, 2, 1, window=3, tau=1),
        _conv(3, "k", [1], 2, 2, 1),
        _conv(4, "v", [1], 2, 2, 1),
        LayerSpec(5, "attn", "attention", [2, 3, 4], (2, 2, 2),
                  dict(numHeads=2, headDim=1, scaleShift=3, denoiser="nsad", tables=tables),
                  NEURON),  # fmt: skip
        LayerSpec(6, "add", "add", [1, 5], (2, 2, 2), {}, None),
        LayerSpec(7, "head", "readout", [6], (3,),
                  dict(weight=np.ones((3, 2), np.int64), bias=np.zeros(3, np.int64)), None),
    ]  # fmt: skip
    return NetworkSpec(1, {"name": "hand"}, layers)


def spikes(on: dict[int, list[tuple[int, int]]], channels: int = 2) -> np.ndarray:
    """``(1, C, 2, 2, T)`` spikes from ``{t: [(channel, token), ...]}`` (token = 2 y + x)."""
    s = np.zeros((1, channels, 2, 2, T), np.int64)
    for t, events in on.items():
        for c, token in events:
            s[0, c, token // 2, token % 2, t] = 1
    return s


def test_fan_out_counts_the_windows_that_read_each_position():
    # a 3x3 convolution (padding 1) over 3 positions: the borders are read by 2, the centre by 3
    assert fan_out(3, 3, 1, 1, 1).tolist() == [2, 3, 2]
    # the spike max-pool (3, stride 2, padding 1) over 4 positions: windows {0,1}, {1,2,3}
    assert fan_out(4, 3, 2, 1, 1).tolist() == [1, 2, 1, 1]
    x = np.zeros((1, 1, 3, 3, 1), np.int64)
    x[0, 0, 0, 0] = x[0, 0, 0, 1] = x[0, 0, 1, 1] = 1  # a corner, an edge, the centre
    geometry = ((1, 1), (1, 1), (1, 1), 1)
    assert synaptic_events(x, (5, 1, 3, 3), geometry) == 5 * (4 + 6 + 9)


def test_counts_of_a_tiny_network_equal_the_hand_counts():
    spec = hand_network()
    levels = np.zeros((1, 1, 2, 2, T), np.int64)
    levels[0, 0, 0, 0, 0], levels[0, 0, 1, 1, 0], levels[0, 0, 0, 1, 1] = 5, 16, 1
    recorded = {  # what a Lava run records: the layers with neurons
        1: spikes({0: [(0, 0), (0, 1), (1, 3)], 1: [(0, 2)]}),
        2: spikes({0: [(0, 0), (0, 1)], 1: [(0, 2), (1, 0)]}),
        3: spikes({0: [(0, 1), (0, 2), (1, 3)], 1: [(0, 2), (1, 0), (1, 1)]}),
        4: spikes({0: [(0, 0), (0, 1), (0, 2), (1, 3)], 1: [(1, 1)]}),
        5: spikes({0: [(0, 0), (0, 1)]}),
    }
    counts = count_layers(spec, complete_outputs(spec, levels, recorded))
    ops = {c.name: c.ops for c in counts}
    up = dict(neuron_updates=16.0)  # 2 channels x 4 positions x 2 steps
    assert ops["input"] == dict(spikes=3.0)  # three nonzero levels
    # the encoding layer reads the image: 3 levels x 2x2 output positions x 2 channels, as MACs
    assert ops["conv"] == dict(mac=24.0, spikes=4.0, **up)
    # q: TASA window 3 over T = 2: an input at t = 0 reaches 2 taps, at t = 1 one; fan-out 2
    assert ops["q"] == dict(syn=2.0 * (3 * 2 + 1 * 1), spikes=4.0, **up)
    assert ops["k"] == dict(syn=8.0, spikes=6.0, **up)
    assert ops["v"] == dict(syn=8.0, spikes=5.0, **up)
    # S (head 0): t0 Q{0,1} x K{1,2} = 4 entries, t1 Q{2} x K{2} = 1; (head 1): t1 Q{0} x K{0,1}
    # = 2. A: head 0's table maps 1 -> 3, head 1's everything to 0: 5 nonzero entries of 64.
    # A V: V(head 0, t0) spikes at tokens 0, 1, 2; A's columns 1 and 2 hold 2 entries each.
    assert ops["attn"] == dict(qk=7.0, lookup=7.0, av=4.0, map_entries=64.0, map_nonzero=5.0,
                               spikes=2.0, **up)  # fmt: skip
    assert ops["add"] == dict(add=6.0, spikes=4.0)  # 4 + 2 summands, 4 nonzero sums
    # readout: 4 nonzero inputs summed over tokens; 3 nonzero channel sums x 3 classes
    assert ops["head"] == dict(syn=13.0)
    assert [c.dense_macs for c in counts] == [0, 72, 16, 16, 16, 64, 0, 6]

    report = summarize(spec, counts, samples=1)
    total = report["totals"]
    assert total["ops"]["syn"] == 14 + 8 + 8 + 13 and total["sops"] == 43
    assert total["energy_nj"] == pytest.approx((0.9 * (43 + 7 + 7 + 4 + 6) + 4.6 * 24) / 1000)
    assert total["ann_macs"] == 190
    assert total["nasar"] == pytest.approx(21 / 80)
    (block,) = report["blocks"]
    assert block["sparsity"] == pytest.approx(59 / 64) and block["ops"] == 64
    assert block["energy_nj"] == pytest.approx(0.9 * 5 / 1000)
    assert block["attention_energy_nj"] == pytest.approx(0.9 * 18 / 1000)
    assert report["layers"][1]["rate"] == pytest.approx(4 / 16)


SAMPLES = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Briefly trained tiny ``ds2ta`` and ``spikformer``: ``{name: (network, checkpoint)}``."""
    out = {}
    for name in ("ds2ta", "spikformer"):
        model = briefly_trained(name)
        folder = tmp_path_factory.mktemp(name)
        state = {"model": model.state_dict(), "model_config": model.config.to_dict()}
        out[name] = (export_model(model, folder / f"{name}.net"),
                     save_checkpoint(state, folder / f"{name}.pt"))  # fmt: skip
    return out


@pytest.mark.parametrize("name", ["ds2ta", "spikformer"])
def test_lava_and_pytorch_counts_and_attention_maps_are_identical(trained, name):
    path, checkpoint = trained[name]
    spec = read_network(path)
    inputs, _ = load_test_inputs(spec, "digits", SAMPLES)
    lava = observe_lava(spec, inputs["levels"])
    torch_run = observe_torch(spec, inputs, checkpoint)
    assert sorted(lava.maps) == sorted(torch_run.maps) == [11]
    for i, a in lava.maps.items():
        assert a.shape == (SAMPLES, 4, 4, 16, 16) and np.count_nonzero(a) > 0
        np.testing.assert_array_equal(a, torch_run.maps[i])
    counted = count_layers(spec, lava.outputs)
    assert [c.ops for c in counted] == [c.ops for c in count_layers(spec, torch_run.outputs)]
    assert all(c.ops.get("spikes", 1) > 0 for c in counted)


def test_report_prints_table3_and_writes_json_and_pngs(trained, tmp_path, capsys):
    (spikformer, spikformer_ckpt), (ds2ta, ds2ta_ckpt) = trained["spikformer"], trained["ds2ta"]
    argv = [str(spikformer), "--samples", "4", "--checkpoint", str(spikformer_ckpt),
            "--compare", str(ds2ta), "--compare-checkpoint", str(ds2ta_ckpt),
            "--output-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "DS2TA Table 3" in out and out.count("NASAR") == 2
    identical = "per-layer counts identical yes, attention maps identical yes"
    assert out.count(f"PyTorch eval model of spikformer.pt: {identical}") == 1
    assert out.count(f"PyTorch eval model of ds2ta.pt: {identical}") == 1
    report = json.loads((tmp_path / "spikformer.ops.json").read_text())
    first, second = report["networks"]
    assert (first["model"], second["model"]) == ("spikformer", "ds2ta")
    assert len(first["blocks"]) == len(second["blocks"]) == 1
    assert 0 < first["blocks"][0]["sparsity"] < 1 and first["totals"]["energy_nj"] > 0
    for name in ("ops.png", "attention.png", "compare-attention.png"):
        assert (tmp_path / f"spikformer.{name}").stat().st_size > 10_000


@pytest.mark.parametrize(
    "args,message",
    [
        (["--sample", "9"], "--sample 9 / --time-step 0 outside the 2 samples"),
        (["--compare-checkpoint", "x.pt"], "--compare-checkpoint needs --compare"),
    ],
)
def test_bad_arguments_give_one_line_errors(trained, capsys, args, message):
    path, _ = trained["ds2ta"]
    assert main([str(path), "--samples", "2", "--source", "reference", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
