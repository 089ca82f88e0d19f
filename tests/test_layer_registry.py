"""A new layer type is one class in the registry: this test adds one (``gain``: the input times
an integer) and runs a model that uses it through export -> file -> reference -> Lava."""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np
import pytest
import torch
from lava.proc.dense.process import Dense

from lava_ds2ta.block import Readout
from lava_ds2ta.block import SpikingConv
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.errors import FormatError
from lava_ds2ta.export import export_model
from lava_ds2ta.export import read_network
from lava_ds2ta.export import record_layers
from lava_ds2ta.export import simulate
from lava_ds2ta.init import data_init
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.layers import Field
from lava_ds2ta.layers import LayerType
from lava_ds2ta.layers import Signal
from lava_ds2ta.layers import register
from lava_ds2ta.models.graph import GraphBuilder

T = 3


class GainLayer(LayerType):
    """``out = gain * in`` (graded), one Lava ``Dense`` with ``gain`` on the diagonal."""

    fields = (Field("gain", "the factor", lo=1, hi=8),)

    def reference(self, layer, inputs, stats):
        return int(layer.params["gain"]) * inputs[0]

    def build(self, layer, inputs, net):
        (x,) = inputs
        n = x.size
        syn = Dense(weights=int(layer.params["gain"]) * np.eye(n, dtype=np.int32),
                    num_message_bits=24, name=layer.name)  # fmt: skip
        net.connect(x, syn.s_in)
        net.add(syn)
        return Signal([(syn.a_out, x.latency + 1)], layer.shape, binary=False)


@dataclass
class Config:
    in_channels: int = 1
    img_size: int = 4
    time_steps: int = T

    def to_dict(self):
        return {"name": "gain-test", "time_steps": T}


class GainModel(torch.nn.Module):
    """input -> conv -> gain 3 -> readout."""

    def __init__(self):
        super().__init__()
        self.config = Config()
        self.conv = SpikingConv(1, 4, 3, 1, dict(threshold=1.0, tau_m=2.0))
        self.head = Readout(4, 3)

    def forward(self, x):
        x = x.unsqueeze(-1).expand(*x.shape, T) if x.dim() == 4 else x
        return self.head(3 * self.conv(torch.floor(x * 4 + 0.5)))

    def graph(self):
        g = GraphBuilder()
        x = g.add("input", "input", [], probe=(self.conv, "input"), timeSteps=T, inputLevels=4)
        x = g.block("conv", self.conv, [x])
        x = g.add("gain", "gain", [x], probe=(self.head, "input"), gain=3)
        g.add("head", "readout", [x], self.head)
        return g.nodes


@pytest.fixture
def gain_type():
    register("gain")(GainLayer)
    yield
    del REGISTRY["gain"]


def test_a_new_layer_type_runs_through_export_reference_and_lava(gain_type, tmp_path):
    torch.manual_seed(0)
    model = GainModel()
    x = torch.rand(6, 1, 4, 4)
    data_init(model, x)
    model.eval()
    path = export_model(model, tmp_path / "gain.net")
    spec = read_network(path)
    assert [layer.type for layer in spec.layers] == ["input", "conv", "gain", "readout"]
    levels = np.floor(x.numpy() * 4 + 0.5).astype(np.int64)[..., None].repeat(T, -1)
    logits, ref = simulate(spec, levels)
    torch_out = record_layers(model, x)
    np.testing.assert_array_equal(ref[2], torch_out["gain"])
    assert ref[2].max() == 3 and ref[1].sum() > 0
    with torch.no_grad():
        expected = np.rint(spec.logit_scale * model(x).double().numpy())
    np.testing.assert_array_equal(logits, expected)
    lava = run_network(spec, levels, "fixed_pt", record=True)
    np.testing.assert_array_equal(lava.logits, logits)
    np.testing.assert_array_equal(lava.spikes[1], ref[1])


def test_the_reader_checks_the_new_type_s_schema(gain_type, tmp_path):
    model = GainModel().eval()
    path = export_model(model, tmp_path / "gain.net")
    with h5py.File(path, "r+") as f:
        del f["layer/2/gain"]
        f["layer/2/gain"] = 9
    with pytest.raises(FormatError, match=r"layer 2 \(gain\): gain has value 9 outside \[1, 8\]"):
        read_network(path)
