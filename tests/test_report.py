"""The operation counter against counts written out by hand, and ``ds2ta-report`` on the digits
fixture networks: Lava's, the integer reference's and PyTorch's per-layer counts and attention
maps are identical, NASAR equals the training code's, and the command writes its JSON and PNGs
and refuses bad arguments with one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.errors import FormatError
from lava_ds2ta.export.match import load_matching_model
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import LayerType
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers.attention import attention_ops
from lava_ds2ta.layers.base import OpKind
from lava_ds2ta.layers.conv import fan_out
from lava_ds2ta.layers.conv import synaptic_events
from lava_ds2ta.layers.gated import GatedConvLayer
from lava_ds2ta.report import complete_outputs
from lava_ds2ta.report import count_layers
from lava_ds2ta.report import observe_lava
from lava_ds2ta.report import observe_reference
from lava_ds2ta.report import observe_torch
from lava_ds2ta.report import summarize
from lava_ds2ta.report.cli import main
from lava_ds2ta.report.energy import energy_nj
from lava_ds2ta.training.spikes import spike_stats

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


def test_a_head_whose_table_maps_zero_elsewhere_looks_up_every_entry():
    # NSAD with AD_h[0] != 0 makes zero entries of S nonzero in A: every entry is a lookup
    q = k = v = np.zeros((1, 2, 1, 2, 1), np.int64)
    q, k, v = q.copy(), k.copy(), v.copy()
    q[0, 0, 0, 0, 0] = k[0, 0, 0, 1, 0] = v[0, 0, 0, 0, 0] = v[0, 1, 0, 1, 0] = 1
    ops = attention_ops(q, k, v, 2, np.array([[0, 5], [2, 7]]))
    # head 0: S has one 1 at (0, 1) -> 1 lookup, A nonzero there; head 1: 4 entries looked up,
    # all map to 2; V spikes: head 0 at token 0 (A column 0 is zero), head 1 at token 1 (2)
    assert ops == dict(qk=1.0, lookup=5.0, av=2.0, map_entries=8.0, map_nonzero=5.0)


def test_a_layer_type_declares_and_prices_its_own_operation_kinds():
    class Gated(LayerType):
        op_kinds = {"gate_test": OpKind("a gate multiply per neuron and step", "mac")}

    class Undeclared(LayerType):
        pass

    REGISTRY["gated_test"], REGISTRY["undeclared_test"] = Gated(), Undeclared()
    try:
        assert energy_nj({"gate_test": 1000.0, "syn": 1000.0, "spikes": 5.0}) == pytest.approx(
            4.6 + 0.9
        )
        with pytest.raises(FormatError, match="'gate_other' is declared by no layer type"):
            energy_nj({"gate_other": 1.0})
        with pytest.raises(ValueError):
            OpKind("x", "watts")
    finally:
        del REGISTRY["gated_test"], REGISTRY["undeclared_test"]


FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = 3


@pytest.fixture(scope="module", params=["ds2ta", "spikformer"])
def observed(request):
    """One fixture network's spec, inputs, model and its Lava, reference and PyTorch runs."""
    spec = read_network(FIXTURES / f"{request.param}_small.net")
    model = load_matching_model(FIXTURES / f"{request.param}_small.pt", spec)
    inputs, labels = load_test_inputs(spec, "digits", SAMPLES)
    runs = [observe_lava(spec, inputs["levels"]), observe_reference(spec, inputs["levels"]),
            observe_torch(spec, inputs, model)]  # fmt: skip
    return spec, model, inputs, labels, runs


def test_lava_reference_and_pytorch_counts_and_attention_maps_are_identical(observed):
    spec, _, _, _, (lava, reference, torch_run) = observed
    assert sorted(lava.maps) == sorted(reference.maps) == sorted(torch_run.maps) == [11]
    a = lava.maps[11]
    assert a.shape == (SAMPLES, 2, 4, 16, 16) and np.count_nonzero(a) > 0
    for other in (reference, torch_run):
        np.testing.assert_array_equal(a, other.maps[11])
        np.testing.assert_array_equal(lava.logits, other.logits)
    counted = count_layers(spec, lava.outputs)
    for other in (reference, torch_run):
        assert [c.ops for c in counted] == [c.ops for c in count_layers(spec, other.outputs)]
    assert all(c.ops.get("spikes", 1) > 0 for c in counted)
    attn = counted[11].ops
    assert attn["map_entries"] == SAMPLES * 2 * 4 * 16**2
    assert attn["map_nonzero"] == np.count_nonzero(a) and attn["qk"] > 0 and attn["av"] > 0


def test_nasar_is_the_training_codes_nasar(observed):
    spec, model, inputs, labels, (lava, *_) = observed
    report = summarize(spec, count_layers(spec, lava.outputs), SAMPLES)
    stats = spike_stats(model, [(inputs["float"], torch.as_tensor(labels))], torch.device("cpu"))
    assert report["totals"]["nasar"] == pytest.approx(stats.nasar, rel=1e-12)
    assert 0 < stats.nasar < 1


def test_report_prints_table3_and_writes_json_and_pngs(tmp_path, capsys):
    spikformer, ds2ta = (str(FIXTURES / f"{n}_small") for n in ("spikformer", "ds2ta"))
    argv = [f"{spikformer}.net", "--samples", "2", "--checkpoint", f"{spikformer}.pt",
            "--compare", f"{ds2ta}.net", "--compare-checkpoint", f"{ds2ta}.pt", "--time-step", "2",
            "-o", str(tmp_path / "both.json")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "DS2TA Table 3" in out and out.count("NASAR") == 2
    identical = "per-layer counts identical yes, attention maps identical yes, logits identical yes"
    assert out.count(f"integer reference: {identical}") == 2
    assert out.count(f"PyTorch eval model: {identical}") == 2
    report = json.loads((tmp_path / "both.json").read_text())
    assert report["conventions"]["E_AC_pJ"] == 0.9 and report["conventions"]["E_MAC_pJ"] == 4.6
    assert report["conventions"]["kinds"]["qk"]["price"] == "ac"
    first, second = report["networks"]
    assert (first["model"], second["model"]) == ("spikformer", "ds2ta")
    for net in (first, second):
        assert net["samples"] == 2 and net["source"] == "Lava fixed_pt"
        assert all(all(c[k] for k in c if k.endswith("identical")) for c in net["cross_checks"])
        (block,) = net["blocks"]
        assert 0 < block["sparsity"] < 1 and block["ops"] == 2 * 4 * 16**2
        table3 = 0.9 * block["ops"] * (1 - block["sparsity"]) / 1e3
        assert block["energy_nj"] == pytest.approx(table3)
        t = net["totals"]
        assert 0 < t["nasar"] < 1 and t["energy_nj"] > 0 and t["ann_macs"] > 0
        assert t["energy_nj"] == pytest.approx(sum(r["energy_nj"] for r in net["layers"]))
        assert [r["name"] for r in net["layers"]][11] == "blocks.0.attn"
    assert first["totals"]["ann_macs"] == second["totals"]["ann_macs"]
    for name in ("ops.png", "attention.png", "compare-attention.png"):
        assert (tmp_path / f"both.{name}").stat().st_size > 10_000


NET, PT = (str(FIXTURES / f"ds2ta_small.{ext}") for ext in ("net", "pt"))


@pytest.mark.parametrize(
    "argv,message",
    [
        (["missing.net"], "missing.net"),
        ([NET, "-o", NET], "is the input file"),
        ([NET, "--checkpoint", PT, "-o", PT], "is the input file"),
        ([NET, "--checkpoint", str(FIXTURES / "spikformer_small.pt")], "does not belong"),
        ([NET, "--samples", "2", "--sample", "2"], "--sample 2 is outside the 2 samples"),
        ([NET, "--time-step", "4"], "--time-step 4 is outside the 4 time steps"),
        ([NET, "--compare-checkpoint", "x.pt"], "--compare-checkpoint needs --compare"),
        ([NET, "--samples", "0"], "--samples: must be >= 1, got 0"),
        ([NET, "--samples", "two"], "--samples: expected an integer, got 'two'"),
    ],
)
def test_bad_arguments_give_one_line_errors(tmp_path, capsys, argv, message):
    argv = argv if "-o" in argv else [*argv, "-o", str(tmp_path / "r.json")]
    argv = argv if "--samples" in argv else [*argv, "--samples", "2"]  # short, should it run
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_ma_snn_gates_are_counted_as_multiply_accumulates(tmp_path):
    """A gated layer counts its convolution's synaptic events, its pooling, and the gates' work
    (pooling over the gated axes, MLPs or the 7x7 convolution, products: MACs on potentials);
    without gates there is no gate work, and the same synaptic events for the same spikes."""
    from lava_ds2ta import create_model
    from lava_ds2ta.export import export_model
    from lava_ds2ta.init import data_init

    torch.manual_seed(0)
    x = (torch.rand(3, 2, 16, 16, 10) < 0.1).float()
    counts = {}
    for attention in ("none", "TCSA"):
        model = create_model("ma_snn_dvs_digits", attention=attention)
        data_init(model, x)
        spec = read_network(export_model(model.eval(), tmp_path / f"{attention}.net"))
        levels = x.numpy().astype(np.int64)
        counts[attention] = count_layers(spec, observe_reference(spec, levels).outputs)
    for plain, gated in zip(counts["none"], counts["TCSA"], strict=True):
        if gated.type != "gatedConv":
            continue
        assert plain.ops["gate"] == 0 and gated.ops["gate"] > 0
        t, n = 10, 3
        # pooling: one accumulate per pre-pooling value and step (the first layer pools by 2)
        assert gated.ops["pool"] == plain.ops["pool"]
        assert gated.ops["pool"] in (0, n * t * gated.neurons * 4)
        # each gate present (TCSA on the conv layers, TA on the FC layer) does at least its
        # pooling (mean, max) and its product on every value at every step
        gates = len(GatedConvLayer.dims(spec.layers[gated.index]))
        assert gates >= 1 and gated.ops["gate"] >= n * t * 3 * gates * gated.neurons
    assert all(c.ops.get("syn", 0) > 0 for c in counts["TCSA"] if c.type == "gatedConv")
