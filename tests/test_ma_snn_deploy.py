"""MA-SNN on Lava fixed_pt: every layer's spikes and the integer logits equal the PyTorch eval
model's exactly, over 20 dvs-digits test samples streamed back to back.

Two briefly trained dvs-digits networks (TCSA: all three gates, TA's buffering on every layer;
SA alone: no buffering) are exported (``gatedConv`` layers), read back, simulated by the integer
reference and run on Lava (``Conv`` -> ``GatedLIF`` per layer).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lava_ds2ta import create_model
from lava_ds2ta.data import build_datasets
from lava_ds2ta.deploy.compare import compare_with_torch
from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.export import input_levels
from lava_ds2ta.export import layer_indices
from lava_ds2ta.export import record_layers
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.init import data_init
from lava_ds2ta.training.loss import training_loss
from lava_ds2ta.training.optim import param_groups

SAMPLES = 20
#: Training steps of batch 8 (the CPU time of a test): the weights and biases leave their
#: initialisation; the gates' last layers, which start at zero, then get a random positive offset so
#: that every gate varies over samples, steps, channels and positions (a few steps move them too
#: little) while the network keeps firing.
STEPS = 3


def briefly_trained(attention: str) -> torch.nn.Module:
    """The dvs-digits network trained for :data:`STEPS` steps, its gates spread."""
    torch.manual_seed(0)
    model = create_model("ma_snn_dvs_digits", attention=attention)
    train, _, _ = build_datasets("dvs-digits", subset=64)
    x = torch.stack([torch.as_tensor(train[i][0]) for i in range(64)]).float()
    y = torch.tensor([int(train[i][1]) for i in range(64)])
    data_init(model, x[:16])
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-2)
    for step in range(STEPS):
        idx = torch.arange(step * 8, step * 8 + 8)
        opt.zero_grad()
        training_loss(model(x[idx]), y[idx], kind="mse").backward()
        opt.step()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("mlp.w1", "spatial.weight")):
                p.add_(0.2 * torch.rand_like(p))  # opening (z > 0 for h > 0), varied
    return model.eval()


@pytest.fixture(scope="module", params=["TCSA", "SA"])
def deployed(request, tmp_path_factory):
    model = briefly_trained(request.param)
    spec = read_network(export_model(model, tmp_path_factory.mktemp("ma") / "model.net"))
    x, _ = load_test_inputs(spec, "dvs-digits", SAMPLES)
    built = {}

    def on_build(net) -> None:
        built["latency"] = net.output_latency

    result = run_network(spec, x["levels"], "fixed_pt", record=True, on_build=on_build)
    return request.param, model, spec, x, result, built["latency"]


def test_the_file_holds_the_gates_and_they_are_not_constant(deployed):
    attention, model, spec, *_ = deployed
    conv = [layer for layer in spec.layers if layer.type == "gatedConv"]
    assert len(conv) == 4  # 3 conv layers, 1 fully connected
    keys = {"T": "taW1", "C": "caW1", "S": "saWeight"}
    for i, layer in enumerate(conv):
        dims = "".join(d for d in "TCS" if d in attention[:-1] and (i < 3 or d == "T"))
        for d in "TCS":
            assert (keys[d] in layer.params) == (d in dims), (layer.name, d)
            if d in dims:  # the last layer of each gate starts at zero
                assert np.any(layer.params[keys[d]] != 0), (layer.name, d)


def test_reference_and_lava_spikes_equal_pytorch_on_every_layer(deployed):
    _, model, spec, x, result, _ = deployed
    expected = record_layers(model, x["float"])
    index = layer_indices(model)
    gated = [layer.index for layer in spec.layers if layer.type == "gatedConv"]
    assert sorted(result.spikes) == gated
    for name, ref in expected.items():
        i = index[name]
        if i in result.spikes:
            assert ref.sum() > 0, f"{name} is silent: the test would prove nothing"
            np.testing.assert_array_equal(result.spikes[i], ref, err_msg=f"lava {name}")
    with torch.no_grad():
        logits = model(x["float"]).double().numpy()
    np.testing.assert_array_equal(result.logits, np.rint(spec.logit_scale * logits))
    report = compare_with_torch(spec, x, result, None)  # Lava against the integer reference
    assert report["prediction_agreement"] == 1.0 and report["logit_agreement"] == 1.0
    assert all(row["exact"] for row in report["layers"])


def test_every_ta_layer_adds_t_steps_of_latency(deployed):
    attention, _, spec, _, result, latency = deployed
    t, layers = spec.time_steps, 4
    held = layers * t if "T" in attention else 0
    assert latency == layers + held + 2  # a Conv hop per layer, T per TA layer, the readout's 2
    assert result.num_steps == SAMPLES * t + latency


def test_floating_point_models_run_and_agree(deployed):
    attention, _, spec, x, fixed, _ = deployed
    if attention != "TCSA":
        pytest.skip("one network is enough")
    result = run_network(spec, x["levels"][:8], "floating_pt")
    assert result.logits.shape == (8, 10)
    assert (result.predictions == fixed.predictions[:8]).mean() >= 0.75


def tcsa_patch_splitting_ds2ta(tmp_path, density: float, **config):
    """A ``ds2ta`` (``config``) with TCSA on its patch-splitting stages, gates that vary (as
    :func:`briefly_trained`), data-initialised on 4 samples of sparse event counts (``density``)
    and exported: ``(eval model, network spec, 2 further samples N, C, H, W, T)``."""
    torch.manual_seed(0)
    model = create_model("ds2ta", sps_attention="TCSA", **config)
    c = model.config
    shape = (6, c.in_channels, c.img_size, c.img_size, c.time_steps)
    x = (torch.rand(shape) < density).float() * torch.randint(1, 3, shape)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("mlp.w1", "spatial.weight")):
                p.add_(0.2 * torch.rand_like(p))
    data_init(model, x[:4])
    model.eval()
    return model, read_network(export_model(model, tmp_path / "model.net")), x[4:]


def test_ds2ta_with_tcsa_patch_splitting_is_exact_on_lava(tmp_path):
    """vit-2-256's widths (patch-splitting stages 32-64-128-256, 16 heads, T = 10) with TCSA on
    every stage, shrunk to depth 1 and a 64 x 64 input for test time: every layer's spikes and
    the logits on 2 samples."""
    model, spec, x = tcsa_patch_splitting_ds2ta(
        tmp_path, 0.05, preset="vit-2-256", depth=1, img_size=64
    )
    assert [layer.type for layer in spec.layers[1:8:2]] == ["gatedConv"] * 4
    result = run_network(spec, input_levels(spec, x.numpy()), "fixed_pt", record=True)
    expected = record_layers(model, x)
    index = layer_indices(model)
    for name, ref in expected.items():
        i = index[name]
        if i in result.spikes:
            if spec.layers[i].type == "gatedConv":
                assert ref.sum() > 0, f"{name} is silent: the test would prove nothing"
            np.testing.assert_array_equal(result.spikes[i], ref, err_msg=name)
    with torch.no_grad():
        logits = model(x).double().numpy()
    np.testing.assert_array_equal(result.logits, np.rint(spec.logit_scale * logits))
