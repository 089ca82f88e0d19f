"""Export to lava_ds2ta.net HDF5: round trip, bit-exact numpy simulation of the file against the
PyTorch eval model (every layer, real digits), reader errors, atomic writes, CLI.

Models are the real ``ds2ta`` / ``spikformer`` at a small size, trained for a few optimizer steps
on digits so that biases are non-trivial; TASA taus and NSAD parameters are then set so that
taus differ per layer and the NSAD tables have negative entries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from lava_ds2ta import create_model
from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import ExportError
from lava_ds2ta.errors import FormatError
from lava_ds2ta.errors import StateOverflowError
from lava_ds2ta.export import export_checkpoint
from lava_ds2ta.export import export_model
from lava_ds2ta.export import input_levels
from lava_ds2ta.export import layer_indices
from lava_ds2ta.export import read_network
from lava_ds2ta.export import record_layers
from lava_ds2ta.export import simulate
from lava_ds2ta.export.cli import main as cli_main
from lava_ds2ta.fixed_point import synapse_weight_int
from lava_ds2ta.init import data_init
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.layers.base import COMMON_FIELDS
from lava_ds2ta.layers.cuba import NEURON_FIELDS
from lava_ds2ta.layers.cuba import lif_reference as cuba_lif
from lava_ds2ta.layers.tasa import tasa_window
from lava_ds2ta.layers.validate import schema_table
from lava_ds2ta.models.checkpoint import load_checkpoint
from lava_ds2ta.models.checkpoint import save_checkpoint

SIZES = {
    "ds2ta": dict(embed_dim=32, num_heads=4, depth=1),
    "spikformer": dict(embed_dim=32, num_heads=4, depth=2),
    "ds2ta_nsad": dict(embed_dim=32, num_heads=4, depth=1, time_steps=3),
}
N_SAMPLES = 60


@pytest.fixture(scope="module")
def digits():
    train, test, _ = build_datasets("digits")
    xt = torch.stack([train[i][0] for i in range(192)])
    yt = torch.tensor([int(train[i][1]) for i in range(192)])
    x = torch.stack([test[i][0] for i in range(N_SAMPLES)])
    return xt, yt, x


def _train(name: str, digits) -> torch.nn.Module:
    torch.manual_seed(1)
    xt, yt, _ = digits
    model = create_model(name, **SIZES[name])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    data_init(model, xt[:32])
    for i in range(0, len(xt), 32):
        loss = torch.nn.functional.cross_entropy(model(xt[i : i + 32]), yt[i : i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        model.head.bias.copy_(torch.linspace(-0.4, 0.5, 10))  # a few steps leave it at 0
        for b, block in enumerate(model.blocks):
            attn = block.attn
            for tau, m in zip((1, 2, 3, 2 + b), (attn.q, attn.k, attn.v, attn.proj), strict=True):
                if hasattr(m.synapse, "tau_latent"):
                    m.synapse.tau_latent.fill_(tau)
            if attn.denoiser is not None:
                d = attn.denoiser
                d.a.copy_(torch.tensor([1.1, 0.6, 1.3, 0.9]))
                d.b.copy_(torch.tensor([-0.03, -0.07, 0.02, -0.11]))
                d.c.copy_(torch.tensor([2.2, 0.3, 5.1, 1.7]))
                d.d.copy_(torch.tensor([1.3, -2.2, 0.7, 2.6]))
                d.e.copy_(torch.tensor([3.3, 4.1, 2.2, 6.3]))
                d.u.copy_(torch.tensor([0.7, 1.4, 2.3, 0.2]))
    return model.eval()


@pytest.fixture(scope="module", params=list(SIZES))
def exported(request, digits, tmp_path_factory):
    model = _train(request.param, digits)
    path = export_model(model, tmp_path_factory.mktemp(request.param) / "model.net")
    return model, path


def _one_line(exc_info, *fragments):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    for frag in fragments:
        assert frag in msg, msg


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_config_weights_and_graph(exported):
    model, path = exported
    spec = read_network(path)
    assert spec.version == 1 and spec.path == path
    assert spec.config == model.config.to_dict()
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "lava_ds2ta.net"
        assert f.attrs["producer"].startswith("lava_ds2ta ")
        assert json.loads(f["config"][()]) == model.config.to_dict()
    names = layer_indices(model)
    assert [layer.name for layer in spec.layers] == list(names)
    assert spec.layers[-1].type == "readout" and spec.layers[-1].shape == (10,)
    modules = dict(model.named_modules())
    biases = []
    for layer in spec.layers:
        assert all(j < layer.index for j in layer.inputs)
        if layer.type in ("conv", "tasa", "readout"):
            w = layer.params["weight"]
            assert np.issubdtype(w.dtype, np.integer)
            assert w.min() >= -256 and w.max() <= 254 and not np.any(w % 2)
        if layer.type in ("conv", "tasa"):
            block = modules[layer.name]
            assert np.array_equal(layer.params["weight"], synapse_weight_int(block.synapse))
            assert layer.neuron["type"] == "CUBA" and layer.neuron["iDecay"] == 4096
            biases.append(layer.params["bias"])
        if layer.type == "tasa":
            assert layer.params["tau"] == modules[layer.name].synapse.tau_int
    assert any(np.any(b != 0) for b in biases)
    assert np.any(spec.layers[-1].params["bias"] != 0)
    attn = [layer for layer in spec.layers if layer.type == "attention"]
    assert len(attn) == model.config.depth
    if model.config.use_tasa:
        taus = {layer.params["tau"] for layer in spec.layers if layer.type == "tasa"}
        assert taus == {1, 2, 3}
    for layer in attn:
        assert [spec.layers[j].type for j in layer.inputs] == ["tasa" if model.config.use_tasa
                                                               else "conv"] * 3  # fmt: skip
        if model.config.use_nsad:
            tables = layer.params["tables"]
            assert tables.shape == (4, 9) and tables.min() < 0 < tables.max()
            assert np.array_equal(tables, modules[layer.name].denoiser.tables().numpy())
        else:
            assert layer.params["denoiser"] == "none" and "tables" not in layer.params


# -- bit-exact simulation ---------------------------------------------------------------------


def test_simulation_matches_pytorch_on_every_layer(exported, digits):
    model, path = exported
    x = digits[2]
    spec = read_network(path)
    logits, spikes = simulate(spec, input_levels(spec, x.numpy()))
    recorded = record_layers(model, x)
    indices = layer_indices(model)
    assert set(recorded) == set(indices) - {"head"}
    for name, ref in recorded.items():
        got = spikes[indices[name]]
        assert got.shape == ref.shape, name
        mismatch = np.argwhere(got != ref)
        assert not len(mismatch), f"{name}: first mismatch at {mismatch[0]}"
        if spec.layers[indices[name]].type in ("conv", "tasa", "attention"):
            assert 0 < ref.mean() < 1, f"{name} is silent or saturated"
    with torch.no_grad():
        y = model(x).double().numpy()
    hwt = int(np.prod(spikes[spec.layers[-1].inputs[0]].shape[2:]))  # H W T of the readout input
    assert hwt == 16 * model.config.time_steps
    if hwt & (hwt - 1) == 0:  # the model's mean divides by a power of two: exact in float
        assert np.array_equal(logits, y * 64 * hwt)
    else:  # T = 3: the float mean rounds; the integer formula is the exact one
        assert np.abs(logits - y * 64 * hwt).max() < 1e-3
    top2 = np.sort(logits, axis=1)[:, -2:]
    untied = top2[:, 1] > top2[:, 0]
    assert untied.mean() > 0.9
    assert np.array_equal(logits.argmax(1)[untied], y.argmax(1)[untied])


def test_tasa_window_matches_loop_reference():
    rng = np.random.default_rng(0)
    c = rng.integers(-300, 300, size=(2, 3, 7))
    for tau in range(0, 5):
        ref = np.zeros_like(c)
        for t in range(7):
            for m in range(3):
                if t - m >= 0:
                    ref[..., t] += c[..., t - m] // 2 ** (tau * m)
        assert np.array_equal(tasa_window(c, tau, 3), ref)


def test_cuba_lif_matches_slayer_with_current_and_voltage_decay():
    from lava.lib.dl.slayer.neuron import cuba

    torch.manual_seed(0)
    neuron = cuba.Neuron(threshold=1.25, current_decay=0.3, voltage_decay=0.15)
    a = torch.randint(-90, 120, (4, 6, 3, 2, 12)).float()  # weight units
    ref = neuron(a / 64).numpy()
    p = neuron.device_params
    assert p["iDecay"] not in (0, 4096)
    got, _, _ = cuba_lif(a.long().numpy(), p, None)
    assert ref.sum() > 0 and np.array_equal(got, ref)


def test_state_overflow_is_reported():
    neuron = {"iDecay": 0, "vDecay": 0, "vThMant": 131071}
    with pytest.raises(StateOverflowError) as exc:
        cuba_lif(np.full((1, 1, 1, 1, 4), 40000, np.int64), neuron, None, "7 (x)")
    _one_line(exc, "layer 7 (x)", "2^23")


# -- writing: atomic, repeatable, contract ----------------------------------------------------


def test_export_twice_to_same_path(exported, tmp_path):
    model, _ = exported
    path = tmp_path / "twice.net"
    export_model(model, path)
    first = path.read_bytes()
    spec = read_network(path)  # leaves no open handle behind
    export_model(model, path)
    assert read_network(path).config == spec.config
    assert len(path.read_bytes()) == len(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twice.net"]


def test_failed_export_leaves_old_file_intact(exported, tmp_path, monkeypatch):
    model, path = exported
    target = tmp_path / "model.net"
    shutil.copy(path, target)
    before = target.read_bytes()

    def boom(*_args, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model.head, "export_hdf5", boom)  # fails after most layers are written
    with pytest.raises(RuntimeError, match="disk full"):
        export_model(model, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.net"]


def test_contract_violations_raise_export_error(tmp_path):
    model = create_model("ds2ta", **SIZES["ds2ta"]).eval()
    model.blocks[0].attn.scale_shift = 7
    with pytest.raises(ExportError) as exc:
        export_model(model, tmp_path / "m.net")
    _one_line(exc, "blocks.0.attn", "scaleShift", "outside [0, 6]")
    model = create_model("spikformer", **SIZES["spikformer"]).eval()
    with torch.no_grad():
        model.sps.rpe.synapse.weight[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ExportError, match="sps.rpe.synapse.weight"):
        export_model(model, tmp_path / "m.net")
    with pytest.raises(ExportError, match="cannot export a Linear: it has no layer graph"):
        export_model(torch.nn.Linear(2, 2), tmp_path / "m.net")
    assert not list(tmp_path.iterdir())


# -- reading: errors and plain netx -----------------------------------------------------------


def _copy(path: Path, tmp_path: Path, edit=None) -> Path:
    out = tmp_path / "edited.net"
    shutil.copy(path, out)
    if edit is not None:
        with h5py.File(out, "r+") as f:
            edit(f)
    return out


def _replace(f, key, value):
    del f[key]
    f.create_dataset(key, data=value)


READER_ERRORS = {
    "newer version": (lambda f: f.attrs.__setitem__("formatVersion", 2),
                      ["formatVersion 2 is newer", "upgrade"]),
    "not ours": (lambda f: f.attrs.__setitem__("format", "other.net"),
                 ["not a lava_ds2ta network"]),
    "unknown type": (lambda f: _replace(f, "layer/7/type", np.array([b"fancy"], "S20")),
                     ["layer 7 (sps.add_rpe)", "unknown layer type 'fancy'"]),
    "input not earlier": (lambda f: _replace(f, "layer/7/inputs", np.array([5, 9], np.int32)),
                          ["layer 7 (sps.add_rpe)", "input 9 is not an earlier layer"]),
    "self input": (lambda f: _replace(f, "layer/2/inputs", np.array([2], np.int32)),
                   ["layer 2 (sps.stages.1)", "input 2 is not an earlier layer"]),
    "missing weight": (lambda f: f.__delitem__("layer/1/weight"),
                       ["layer 1 (sps.stages.0)", "missing dataset 'weight'"]),
    "missing neuron key": (lambda f: f.__delitem__("layer/1/neuron/vThMant"),
                           ["layer 1", "missing dataset 'neuron/vThMant'"]),
    "missing inputs": (lambda f: f.__delitem__("layer/3/inputs"),
                       ["layer 3", "missing dataset 'inputs'"]),
    "layer gap": (lambda f: f.move("layer/4", "layer/40"), ["numbered 0.."]),
    "no layers": (lambda f: f.__delitem__("layer"), ["no 'layer' group"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(READER_ERRORS))
def test_reader_errors_are_one_line_format_errors(case, exported, tmp_path):
    edit, fragments = READER_ERRORS[case]
    path = _copy(exported[1], tmp_path, edit)
    with pytest.raises(FormatError) as exc:
        read_network(path)
    _one_line(exc, str(path), *fragments)


def test_reader_rejects_missing_truncated_and_foreign_files(exported, tmp_path):
    with pytest.raises(FormatError) as exc:
        read_network(tmp_path / "nope.net")
    _one_line(exc, "nope.net", "not found")
    data = exported[1].read_bytes()
    for name, content in (("trunc.net", data[: len(data) // 2]), ("text.net", b"hello\n" * 50)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(FormatError) as exc:
            read_network(tmp_path / name)
        _one_line(exc, name, "corrupt or truncated", "re-export")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("images", data=np.zeros(3))
    with pytest.raises(FormatError) as exc:
        read_network(tmp_path / "other.h5")
    _one_line(exc, "other.h5", "not a lava_ds2ta or netx network")


def test_reader_accepts_plain_netx_written_by_slayer(tmp_path):
    from lava.lib.dl import slayer

    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}
    blocks = [
        slayer.block.cuba.Dense(params, 12, 8, weight_norm=False),
        slayer.block.cuba.Dense(params, 8, 3, weight_norm=False),
    ]
    x = torch.rand(1, 12, 5)
    for block in blocks:
        x = block(x)
    with h5py.File(tmp_path / "chain.net", "w") as f:
        layer = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layer.create_group(str(i)))
    spec = read_network(tmp_path / "chain.net")
    assert spec.version == 0 and spec.config == {}
    assert [(lay.type, lay.inputs, lay.shape) for lay in spec.layers] == [
        ("dense", [], (8,)),
        ("dense", [0], (3,)),
    ]
    assert spec.layers[1].params["weight"].shape == (3, 8)
    assert spec.layers[0].neuron["vDecay"] == blocks[0].neuron.device_params["vDecay"]


def test_reader_accepts_lava_dl_shipped_netx_files():
    import lava

    root = Path(lava.__path__[0]).parent / "tests/lava/lib/dl/netx"
    files = sorted(root.glob("**/*.net"))
    if not files:
        pytest.skip("lava-dl's netx test networks are not installed")
    for path in files:
        spec = read_network(path)
        assert spec.layers[0].type == "input"
        assert all(lay.inputs == [lay.index - 1] for lay in spec.layers[1:])
    pilot = read_network(root / "gts/pilotnet_lif/network.net")
    assert [lay.type for lay in pilot.layers[:2]] == ["input", "conv"]
    assert pilot.layers[1].shape == (24, 32, 99)


# -- checkpoints and CLI ----------------------------------------------------------------------


def test_cli_exports_checkpoint_and_reports_errors(exported, tmp_path, capsys):
    model, _ = exported
    state = {"model": model.state_dict(), "model_config": model.config.to_dict(),
             "config": {"data": {"name": "digits"}}, "epoch": 1, "history": []}  # fmt: skip
    ckpt = save_checkpoint(state, tmp_path / "best.pt")
    assert cli_main([str(ckpt), "-o", str(tmp_path / "cli.net"), "--verify", "24"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {tmp_path / 'cli.net'}: ") and "neurons" in out[0]
    assert "every layer bit-exact" in out[1]
    for source in (ckpt, load_checkpoint(ckpt)):
        path = export_checkpoint(source, tmp_path / "api.net")
        assert read_network(path).config == model.config.to_dict()
    assert cli_main([str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# -- value ranges: the schema and its documentation ----------------------------------------------


def test_every_numeric_dataset_has_a_range_and_the_docs_show_the_schema():
    fields = [*COMMON_FIELDS, *NEURON_FIELDS, *(f for t in REGISTRY.values() for f in t.fields)]
    unbounded = [f.name for f in fields if f.kind != "str" and (f.lo is None or f.hi is None)]
    assert not unbounded
    doc = (Path(__file__).parents[1] / "docs" / "hdf5-format.md").read_text()
    table = doc.split("<!-- ranges:begin -->\n")[1].split("<!-- ranges:end -->")[0]
    assert table == schema_table(), "regenerate the table in docs/hdf5-format.md"
