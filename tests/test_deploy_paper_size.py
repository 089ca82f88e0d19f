"""The paper-size presets on Lava: full width and input size (depth 1 for CI time), every layer's
spikes and the integer logits equal PyTorch's on 2 samples; shared-weight synapses keep memory
with the kernels; the unrolled form is the same network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lava_ds2ta import create_model
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.errors import FormatError
from lava_ds2ta.export import export_model
from lava_ds2ta.export import input_levels
from lava_ds2ta.export import layer_indices
from lava_ds2ta.export import read_network
from lava_ds2ta.export import record_layers
from lava_ds2ta.init import data_init

SAMPLES = 2


def _inputs(model, n: int) -> torch.Tensor:
    c = model.config
    if c.input_levels == 1:  # event frames: sparse integer counts
        shape = (n, c.in_channels, c.img_size, c.img_size, c.time_steps)
        return (torch.rand(shape) < 0.04).float() * torch.randint(1, 3, shape)
    return torch.rand(n, c.in_channels, c.img_size, c.img_size)


def deployed(name: str, preset: str, tmp_path):
    """A data-initialised depth-1 model of the preset, exported and run on 2 samples."""
    torch.manual_seed(0)
    model = create_model(name, preset=preset, depth=1)
    data_init(model, _inputs(model, 4))
    model.eval()
    x = _inputs(model, SAMPLES)
    spec = read_network(export_model(model, tmp_path / "model.net"))
    frames = x if x.dim() == 5 else x.unsqueeze(-1).expand(*x.shape, model.config.time_steps)
    result = run_network(spec, input_levels(spec, frames.numpy()), "fixed_pt", record=True)
    return model, spec, x, result


@pytest.mark.parametrize(
    "name, preset",
    [("ds2ta", "vit-4-384"), ("spikformer", "vit-4-384"), ("ds2ta", "vit-2-256")],
)
def test_paper_size_model_is_exact_on_lava(name, preset, tmp_path):
    model, spec, x, result = deployed(name, preset, tmp_path)
    expected = record_layers(model, x)
    index = layer_indices(model)
    checked = 0
    for layer_name, ref in expected.items():
        i = index[layer_name]
        if i in result.spikes:
            assert ref.sum() > 0, f"{layer_name} is silent: the test would prove nothing"
            np.testing.assert_array_equal(result.spikes[i], ref, err_msg=layer_name)
            checked += 1
    assert checked == len(result.spikes) >= 12
    with torch.no_grad():
        logits = np.rint(spec.logit_scale * model(x).double().numpy()).astype(np.int64)
    np.testing.assert_array_equal(result.logits, logits)
    # Weights are stored once per kernel: the synapses of the network take some 80 MiB, where the
    # unrolled first stage alone of vit-4-384 would take 18 GiB.
    assert sum(result.memory.values()) < 256 * 2**20


def test_unrolled_synapses_give_the_same_network(tmp_path):
    torch.manual_seed(1)
    model = create_model("ds2ta", preset="tiny", embed_dim=32, num_heads=2)
    x = torch.rand(3, 1, 8, 8)
    data_init(model, x)
    spec = read_network(export_model(model.eval(), tmp_path / "m.net"))
    levels = input_levels(spec, x.unsqueeze(-1).expand(*x.shape, 4).numpy())
    conv = run_network(spec, levels, record=True)
    unrolled = run_network(spec, levels, record=True, synapses="unrolled")
    np.testing.assert_array_equal(conv.logits, unrolled.logits)
    assert conv.spikes.keys() == unrolled.spikes.keys()
    for i, s in conv.spikes.items():
        np.testing.assert_array_equal(s, unrolled.spikes[i])
    assert sum(unrolled.memory.values()) > sum(conv.memory.values())


def test_a_build_over_the_memory_limit_is_refused_before_lava_starts(tmp_path):
    model = create_model("spikformer", preset="vit-4-384", depth=1).eval()
    spec = read_network(export_model(model, tmp_path / "m.net"))
    levels = np.zeros((1, 3, 32, 32, 4), np.int64)
    with pytest.raises(FormatError) as exc:
        run_network(spec, levels, synapses="unrolled", max_memory=2**30)
    msg = str(exc.value)
    assert "\n" not in msg and "layer 1 (sps.stages.0)" in msg
    assert "2.2 GiB (unrolled 49152 x 3072)" in msg and "over the limit of 1.0 GiB" in msg
