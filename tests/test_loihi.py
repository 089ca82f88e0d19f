"""Loihi 2: the hardware-form graph (bit-exact, standard processes; the tiny ds2ta and an MA-SNN
TCSA net), the checker and resource
estimate (broken models, direct counts, PilotNet SDNN cores), the command's messages, bundles and
their submission (fake ssh/rsync recording their argv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.graded.process import GradedVec
from lava.proc.lif.process import LIF
from lava.proc.lif.process import LIFReset
from lava.proc.sparse.process import Sparse
from test_ma_snn_deploy import briefly_trained
from test_ma_snn_deploy import tcsa_patch_splitting_ds2ta

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.export import layer_indices
from lava_ds2ta.export import record_layers
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.loihi import cli
from lava_ds2ta.loihi import hardware
from lava_ds2ta.loihi.check import check_network
from lava_ds2ta.loihi.hardware import graph_processes
from lava_ds2ta.loihi.hardware import run_hardware_form
from lava_ds2ta.proc.gate.process import GatedLIF

FIXTURE = Path(__file__).parent / "fixtures" / "ds2ta_small.net"
WHEEL_NETX = Path(sys.prefix) / "lib/python3.10/site-packages/tests/lava/lib/dl/netx/gts"
#: Cores per layer of lava-dl's PilotNet SDNN on Loihi 2 as Intel's compiler printed them
#: (tutorials/lava/lib/dl/netx/pilotnet_sdnn/benchmark.ipynb): conv1..conv5, dense 100/50/10/1.
PILOTNET_CORES = [25, 13, 3, 3, 2, 12, 1, 1, 1]


def _names(*classes: type) -> set[str]:
    """``module.Class`` of each class, as :func:`graph_processes` lists them."""
    return {f"{c.__module__}.{c.__name__}" for c in classes}


@pytest.fixture(scope="module")
def small():
    spec = read_network(FIXTURE)
    x, y = load_test_inputs(spec, "digits", 2)
    return spec, x, y


def test_hardware_form_is_bit_exact_and_uses_standard_processes(small):
    spec, x, _ = small
    sides = {}
    result = run_hardware_form(spec, x["levels"],
                               on_build=lambda net: sides.update(graph_processes(net.processes)))
    logits, ref = simulate(spec, x["levels"])
    np.testing.assert_array_equal(result.logits, logits)
    spiking = [i for i, layer in enumerate(spec.layers) if layer.type not in ("input", "add",
                                                                              "readout")]
    assert sorted(result.spikes) == spiking
    for i in spiking:
        assert ref[i].sum() > 0, f"layer {i} is silent: the test would prove nothing"
        np.testing.assert_array_equal(result.spikes[i], ref[i], err_msg=spec.layers[i].name)
    assert sides["other"] == []
    for entry in sides["neuro"]:
        assert entry.split(":")[0] in _names(Conv, Dense, Sparse, LIF, LIFReset)
    host = {e.split(":")[0].rsplit(".", 1)[1] for e in sides["host"]}
    assert host == {"SpikingAttention", "FrameSource", "Recorder"}


def test_hardware_form_is_bit_exact_when_biases_fire_before_the_sample(small, monkeypatch):
    """Trained models have biases that make a layer fire from its bias alone in the steps
    before its sample arrives (its LIFReset resets it only then). A TASA tap reading ``m``
    steps back must not see those spikes: the relays feeding the taps pass only the sample's
    ``T`` steps (the clock register's windows). Nothing clears the graph between samples: the
    ``LIFReset`` neurons and the clock register reset themselves. The gates matter: without
    them the taps read the bias spikes and the layers differ."""
    spec, x, _ = small
    spec = read_network(spec.path)
    # sps.stages.3 and sps.rpe (the TASA input's summands) and q/k/v (the attention, read by
    # proj's taps): every fourth channel fires at the first step after a clear (64 b > 64 vth)
    for i in (5, 6, 8, 9, 10):
        bias = np.asarray(spec.layers[i].params.get("bias", 0)).copy()
        bias = np.broadcast_to(bias, (spec.layers[i].shape[0],)).copy()
        bias[::4] = 2 * int(spec.layers[i].neuron["vThMant"])
        spec.layers[i].params["bias"] = bias
    result = run_hardware_form(spec, x["levels"])
    logits, ref = simulate(spec, x["levels"])
    for i, spikes in sorted(result.spikes.items()):
        np.testing.assert_array_equal(spikes, ref[i], err_msg=spec.layers[i].name)
    np.testing.assert_array_equal(result.logits, logits)
    relay = hardware.HardwareBuilder.relay

    def ungated(self, port, steps, gate=None):
        return relay(self, port, steps, None)

    monkeypatch.setattr(hardware.HardwareBuilder, "relay", ungated)
    result = run_hardware_form(spec, x["levels"])
    assert not all(np.array_equal(s, ref[i]) for i, s in result.spikes.items())


def test_ma_snn_tcsa_hardware_form_equals_pytorch(tmp_path):
    """MA-SNN's dvs-digits TCSA net (briefly trained, every layer spiking; TA on all 4 layers):
    ``Conv`` -> graded relays (``GradedVec``) on neuro cores, ``GatedLIF`` on the host. On 3 test
    samples every layer's spikes and the logits equal the PyTorch eval model's; each sample takes
    ``T + latency`` steps, the latency holding ``T`` per TA layer."""
    import torch

    model = briefly_trained("TCSA")
    spec = read_network(export_model(model, tmp_path / "model.net"))
    x, _ = load_test_inputs(spec, "dvs-digits", 3)
    sides = {}
    result = run_hardware_form(
        spec, x["levels"], on_build=lambda net: sides.update(graph_processes(net.processes))
    )
    expected = record_layers(model, x["float"])
    index = layer_indices(model)
    gated = [layer.index for layer in spec.layers if layer.type == "gatedConv"]
    assert len(gated) == 4 and sorted(result.spikes) == gated
    for name, ref in expected.items():
        if index[name] in result.spikes:
            assert ref.sum() > 0, f"{name} is silent: the test would prove nothing"
            np.testing.assert_array_equal(result.spikes[index[name]], ref, err_msg=name)
    with torch.no_grad():
        logits = model(x["float"]).double().numpy()
    np.testing.assert_array_equal(result.logits, np.rint(spec.logit_scale * logits))
    t = spec.time_steps
    assert result.num_steps == 3 * (t + 4 + 4 * t + 2)  # a Conv hop and T per layer, readout 2
    assert sides["other"] == []
    neuro = [e.split(":")[0] for e in sides["neuro"]]
    assert set(neuro) <= _names(Conv, GradedVec, Dense)
    assert neuro.count(*_names(GradedVec)) == 4  # one relay per gated layer
    host = [e.split(":")[0] for e in sides["host"]]
    assert host.count(*_names(GatedLIF)) == 4


def test_ds2ta_with_tcsa_patch_splitting_hardware_form_is_exact(tmp_path):
    """A tiny ``ds2ta`` whose patch-splitting stages are MA-SNN TCSA ``gatedConv`` layers: their
    host ``GatedLIF`` spikes are delayed by relays on neuro cores (the residual with the RPE and
    the TASA taps). Every layer and the logits equal the PyTorch eval model's on 2 samples."""
    import torch

    from lava_ds2ta.export import input_levels

    model, spec, x = tcsa_patch_splitting_ds2ta(tmp_path, 0.2, preset="tiny")
    result = run_hardware_form(spec, input_levels(spec, x.numpy()))
    expected, index = record_layers(model, x), layer_indices(model)
    compared = [n for n in expected if index[n] in result.spikes]
    assert len(compared) == len(result.spikes) == 13
    assert sum(spec.layers[index[n]].type == "gatedConv" for n in compared) == 4
    for name in compared:
        assert expected[name].sum() > 0, f"{name} is silent: the test would prove nothing"
        np.testing.assert_array_equal(result.spikes[index[name]], expected[name], err_msg=name)
    with torch.no_grad():
        logits = model(x).double().numpy()
    np.testing.assert_array_equal(result.logits, np.rint(spec.logit_scale * logits))


def test_checker_passes_the_fixture_with_measured_headroom(small):
    spec, x, _ = small
    report = check_network(spec, levels=x["levels"])
    assert report.violations == []
    rows = {r["index"]: r for r in report.rows}
    for layer in spec.layers:
        if layer.type in ("conv", "tasa", "spikeMaxPool", "attention"):
            assert rows[layer.index]["neurons"] == layer.size
            room = rows[layer.index]["u_v_headroom_bits"]
            assert room is not None or layer.type == "spikeMaxPool"
    assert rows[11]["place"] == "neuro+host" and rows[1]["place"] == "neuro"
    assert rows[8]["max_delay"] == 2  # TASA window 3: taps delayed 0, 1, 2
    assert report.totals["chips"] == 1


def _broken(spec, edit):
    spec = read_network(spec.path)
    edit(spec)
    return check_network(spec)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s: s.layers[5].params["weight"].__setitem__((0, 0, 0, 0), 300), "300"),
        (lambda s: s.layers[8].params.update(window=64, tau=0), "delay of 63"),
        (lambda s: s.layers[11].params["tables"].__setitem__((0, 3), 40000), "40000"),
        (lambda s: s.layers[2].neuron.__setitem__("vDecay", 4096), "vDecay 4096"),
    ],
)
def test_checker_rejects_broken_models_naming_layer_and_value(small, edit, expected):
    report = _broken(small[0], edit)
    assert len(report.violations) == 1, report.violations
    line = report.violations[0]
    assert "\n" not in line and "layer " in line and expected in line


def test_checker_finds_a_24_bit_overflow_on_data(small):
    spec, x, _ = small
    spec = read_network(spec.path)
    first = spec.layers[1]
    first.params["weight"] = np.full_like(np.asarray(first.params["weight"]), 254)
    first.neuron.update(iDecay=1, vDecay=0, vThMant=(1 << 17) - 1)
    report = check_network(spec, levels=x["levels"])
    assert any("layer 1 (sps.stages.0)" in v and "2^23" in v for v in report.violations)


def test_counts_equal_direct_counts_for_a_plain_netx_network():
    spec = read_network(WHEEL_NETX / "pilotnet_sdnn" / "network.net")
    report = check_network(spec)
    for row, layer in zip(report.rows, spec.layers, strict=True):
        assert row["neurons"] == (0 if layer.type == "flatten" else layer.size)
        if layer.type == "dense":
            assert row["synapses"] == np.count_nonzero(np.asarray(layer.params["weight"]))
            assert row["connections"] == row["synapses"]
        if layer.type == "conv":
            w = np.asarray(layer.params["weight"])
            assert row["connections"] == layer.size * int(np.prod(w.shape[1:4]))


def _pilotnet(path: Path) -> Path:
    """lava-dl's tutorial PilotNet SDNN geometry (200x66x3 input) as a netx file, with weights of
    the bit widths the compiler's log implies (dense 2560->100: 4 bits; 100->50: 6; 50->10: 5)."""
    rng = np.random.default_rng(0)
    convs = [(3, 24, (2, 2), (0, 0), (24, 32, 99)), (24, 36, (2, 2), (0, 0), (36, 15, 49)),
             (36, 48, (2, 2), (0, 0), (48, 7, 24)), (48, 64, (2, 1), (1, 0), (64, 4, 22)),
             (64, 64, (1, 1), (0, 0), (64, 2, 20))]  # fmt: skip
    dense = [(2560, 100, 4), (100, 50, 6), (50, 10, 5), (10, 1, 4)]
    with h5py.File(path, "w") as f:
        def layer(i, kind, shape):
            g = f.create_group(f"layer/{i}")
            g.create_dataset("type", data=[kind.encode()])
            g.create_dataset("shape", data=np.asarray(shape))
            if kind != "flatten":
                g.create_dataset("neuron/type", data=b"SDNN")
                g.create_dataset("neuron/vThMant", data=6)
            return g

        layer(0, "input", (3, 66, 200))
        for i, (cin, cout, stride, pad, shape) in enumerate(convs, start=1):
            g = layer(i, "conv", shape)
            g["weight"] = 2 * rng.integers(-31, 32, (cout, cin, 3, 3))
            for key, value in (("inChannels", cin), ("outChannels", cout), ("groups", 1)):
                g[key] = value
            g["kernelSize"], g["stride"], g["padding"], g["dilation"] = (3, 3), stride, pad, (1, 1)
        layer(6, "flatten", (2560,))
        for i, (n_in, n_out, bits) in enumerate(dense, start=7):
            g = layer(i, "dense", (n_out,))
            half = 1 << (bits - 1)
            g["weight"] = rng.integers(-half, half, (n_out, n_in)) << (8 - bits)
            g["inFeatures"], g["outFeatures"] = n_in, n_out
    return path


def test_pilotnet_sdnn_core_estimate_matches_intels_compiler(tmp_path):
    spec = read_network(_pilotnet(tmp_path / "pilotnet.net"))
    report = check_network(spec)
    cores = [r["cores"] for r in report.rows if r["type"] in ("conv", "dense")]
    total = sum(cores)
    assert abs(total - sum(PILOTNET_CORES)) <= 0.25 * sum(PILOTNET_CORES)
    assert cores == PILOTNET_CORES  # the model was calibrated on this log: it must reproduce it
    # Intel's benchmark loads it with skip_layers=1 (its input layer runs on the host): so do we.
    assert check_network(spec, skip_layers=1).totals["cores"] == sum(PILOTNET_CORES)
    assert check_network(spec).totals["cores"] > sum(PILOTNET_CORES)  # input neurons on the chip


def test_run_without_lava_loihi_says_so_in_one_line(monkeypatch, capsys):
    from lava.utils import loihi

    monkeypatch.setattr(loihi, "is_installed", lambda *a, **k: False)
    code = cli.main(["run", str(FIXTURE), "--data", "digits"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "lava-loihi" in err and "INRC" in err and "ds2ta-loihi bundle" in err
    assert "NameError" not in err


def test_run_on_loihi_with_lava_loihis_api_faked(tmp_path, monkeypatch, capsys):
    """``run`` without ``--sim`` (``hwrun.run_on_loihi``) with lava-loihi's API faked: the SLURM
    host call is recorded, ``Loihi2HwCfg`` is replaced by ``Loihi2SimCfg`` (no other change:
    the graph isolates its samples itself) and the profilers by a fake module. The logits and
    accuracy in the report equal the integer reference's."""
    import json
    import shutil
    import types

    import lava.utils
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.utils import loihi

    from lava_ds2ta.loihi import hwrun
    from lava_ds2ta.proc.conv.models import FAST_MODELS

    slurm, callbacks = [], []

    class Profiler:
        def __init__(self, num_steps: int | None = None) -> None:
            self.num_steps, self.total = num_steps, 1.5

    profiler = types.ModuleType("lava.utils.loihi2_profiler")
    profiler.Loihi2Power = type("Loihi2Power", (Profiler,), {})
    profiler.Loihi2ExecutionTime = type("Loihi2ExecutionTime", (Profiler,), {})
    monkeypatch.setitem(sys.modules, profiler.__name__, profiler)
    monkeypatch.setattr(lava.utils, "loihi2_profiler", profiler, raising=False)
    monkeypatch.setattr(loihi, "is_installed", lambda *a, **k: True)
    monkeypatch.setattr(loihi, "use_slurm_host", lambda **kw: slurm.append(kw))

    def hw_cfg(callback_fxs):
        callbacks.extend(callback_fxs)
        return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=FAST_MODELS["fixed_pt"])

    monkeypatch.setattr(hwrun, "Loihi2HwCfg", hw_cfg)
    net = tmp_path / "model.net"
    shutil.copy(FIXTURE, net)
    argv = ["run", str(net), "--data", "digits", "--samples", "3", "--partition", "oheogulch",
            "--profile", "power,time"]  # fmt: skip
    assert cli.main(argv) == 0
    assert slurm == [dict(partition="oheogulch", board=None, loihi_gen=loihi.ChipGeneration.N3B3)]
    assert [type(c).__name__ for c in callbacks] == ["Loihi2Power", "Loihi2ExecutionTime"]
    report = json.loads((tmp_path / "model.loihi.json").read_text())
    assert str(tmp_path / "model.loihi.json") in capsys.readouterr().out
    spec = read_network(net)
    x, y = load_test_inputs(spec, "digits", 3)
    logits, _ = simulate(spec, x["levels"])
    np.testing.assert_array_equal(report["logits"], logits)
    assert report["accuracy"] == float((logits.argmax(1) == y).mean())
    assert report["steps"] == 3 * report["period"] and report["period"] > spec.time_steps
    assert report["power"] == {"num_steps": report["steps"], "total": 1.5}
    assert report["time"] == {"total": 1.5}  # num_steps None: not a figure


def test_check_command_json_and_exit_code(tmp_path, capsys):
    assert cli.main(["check", str(FIXTURE), "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["cores"] > 0 and data["violations"] == []


def _fake(bin_dir: Path, name: str, log: Path) -> None:
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
    script.chmod(0o755)


def test_bundle_and_submit_with_fake_ssh(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bundle"
    assert cli.main(["bundle", str(FIXTURE), "--out", str(out), "--samples", "2"]) == 0
    for name in ("ds2ta_small.net", "run_on_loihi.sh", "requirements.txt", "README.md",
                 "src/lava_ds2ta/loihi/cli.py"):  # fmt: skip
        assert (out / name).is_file(), name
    script = (out / "run_on_loihi.sh").read_text()
    assert "SLURM" in script and "LOIHI_GEN" in script and "PARTITION" in script
    assert "lava-nc==" in (out / "requirements.txt").read_text()
    bin_dir, log = tmp_path / "bin", tmp_path / "argv.log"
    bin_dir.mkdir()
    _fake(bin_dir, "ssh", log)
    _fake(bin_dir, "rsync", log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert cli.main(["submit", str(out), "--host", "me@inrc", "--remote-dir", "job1"]) == 0
    calls = log.read_text().splitlines()
    assert calls[0] == "ssh me@inrc mkdir -p job1"
    assert calls[1] == f"rsync -az --exclude=/results/ -e ssh {out}/ me@inrc:job1/"
    assert calls[2] == "ssh me@inrc cd job1 && bash run_on_loihi.sh"
    assert calls[3] == f"rsync -az -e ssh me@inrc:job1/results/ {out}/results/"
    capsys.readouterr()
    log.unlink()
    assert cli.main(["submit", str(out), "--host", "me@inrc", "--dry-run"]) == 0
    assert not log.exists() and "run_on_loihi.sh" in capsys.readouterr().out
    key = tmp_path / "key"
    key.write_text("not a real key\n")
    assert cli.main(["submit", str(out), "--host", "me@inrc", "-i", str(key), "-p", "2222",
                     "-o", "BatchMode=yes", "--remote-python", "venv/bin/python"]) == 0
    calls = log.read_text().splitlines()
    ssh = f"ssh -i {key} -p 2222 -o BatchMode=yes"
    assert calls[0] == f"{ssh} me@inrc mkdir -p ds2ta_bundle"
    assert calls[1] == f"rsync -az --exclude=/results/ -e {ssh} {out}/ me@inrc:ds2ta_bundle/"
    run = "cd ds2ta_bundle && PYTHON=venv/bin/python bash run_on_loihi.sh"
    assert calls[2] == f"{ssh} me@inrc {run}"


def test_bundle_script_falls_back_to_the_cpu_backend(tmp_path):
    out = tmp_path / "b"
    assert cli.main(["bundle", str(FIXTURE), "--out", str(out), "--samples", "2"]) == 0
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(out / "src"))
    done = subprocess.run(["bash", str(out / "run_on_loihi.sh")], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lava-loihi is not installed" in done.stdout
    import json

    report = json.loads((out / "results" / "report.json").read_text())
    assert report["logit_agreement"] == 1.0 and report["samples"] == 2


def test_checker_places_ma_snn_gates_on_host_cores(tmp_path):
    """MA-SNN's gated layers: convolution synapses and graded relays on neuro cores; pooling,
    gates and the gated LIF on host/embedded cores, with their multiply-accumulates counted."""
    import torch

    from lava_ds2ta import create_model
    from lava_ds2ta.export import export_model
    from lava_ds2ta.init import data_init

    torch.manual_seed(0)
    reports = {}
    for attention in ("none", "TCSA"):
        model = create_model("ma_snn_dvs_digits", attention=attention)
        x = (torch.rand(2, 2, 16, 16, model.config.time_steps) < 0.1).float()
        data_init(model, x)
        spec = read_network(export_model(model.eval(), tmp_path / f"{attention}.net"))
        reports[attention] = check_network(spec)
    for report in reports.values():
        gated = [r for r in report.rows if r["type"] == "gatedConv"]
        assert report.violations == [] and len(gated) == 4
        assert all(r["place"] == "neuro+host" and r["neurons"] > 0 for r in gated)
    macs = [reports[a].totals["host_macs_per_step"] for a in ("none", "TCSA")]
    assert 0 < macs[0] < macs[1]  # pooling only, then the gates' pooling, MLPs, conv, products
