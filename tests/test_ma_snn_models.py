"""MA-SNN family: registered networks and attention variants, the paper's presets, config errors,
the data-dependent initialisation, every layer's neuron equal to the integer reference inside a
model, and the optional gates on DS2TA's patch splitting."""

import numpy as np
import pytest
import torch

from lava_ds2ta import create_model
from lava_ds2ta.block.ma import ATTENTIONS
from lava_ds2ta.block.ma import GatedSpikingConv
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.errors import ExportError
from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.gate import reference as ref
from lava_ds2ta.init import data_init
from lava_ds2ta.models import list_models
from lava_ds2ta.models import model_config

SMALL = dict(channels=[4, 8], pools=[1, 2], fc=[16], img_size=8, time_steps=6, t_ratio=2,
             c_ratio=2)  # fmt: skip
NETWORKS = ("ma_snn_3conv", "ma_snn_5conv", "ma_snn_dvs_digits")


def trainable(model) -> dict[str, int]:
    return {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}


def events(n: int = 8, c: int = 2, size: int = 8, t: int = 6, rate: float = 0.4) -> torch.Tensor:
    return torch.poisson(torch.full((n, c, size, size, t), rate))


def test_every_network_is_registered_with_every_attention():
    assert set(NETWORKS) <= set(list_models())
    assert list(ATTENTIONS) == ["none", "TA", "CA", "SA", "TCA", "TSA", "CSA", "TCSA"]
    for name in NETWORKS:
        for attention in ATTENTIONS:
            assert model_config(name, attention=attention).attention == attention


def test_the_paper_3conv_and_5conv_nets():
    c = create_model("ma_snn_3conv").config
    assert (c.in_channels, c.channels, c.kernel_size, c.pools, c.fc, c.num_classes) == (
        2, [64, 128, 128], 3, [1, 2, 2], [256], 11)  # fmt: skip
    assert (c.img_size, c.time_steps, c.t_ratio, c.c_ratio, c.sa_kernel) == (32, 60, 5, 16, 7)
    assert c.feature_size == 8  # FC input 128 x 8 x 8
    ca = sum(trainable(create_model("ma_snn_3conv", attention="CA")).values())
    assert ca - sum(trainable(create_model("ma_snn_3conv")).values()) == 4608  # Table 5, CBAM
    c = create_model("ma_snn_5conv").config
    assert (c.channels, c.pools, c.fc, c.img_size, c.time_steps) == (
        [128] * 5, [2] * 5, [512], 128, 20)  # fmt: skip


def test_attention_adds_only_gate_parameters():
    """TA: T x T/r twice per layer (FC layers too); CA: C x C/r twice per conv layer; SA: a
    2 x 7 x 7 kernel per conv layer (Table 5's CBAM counts)."""
    base = trainable(create_model("ma_snn_dvs_digits", **SMALL))
    t, tr, cr = SMALL["time_steps"], SMALL["t_ratio"], SMALL["c_ratio"]
    per_dim = {
        "T": 3 * 2 * t * (t // tr),
        "C": sum(2 * ch * (ch // cr) for ch in SMALL["channels"]),
        "S": 2 * 2 * 7 * 7,
    }
    for attention, dims in ATTENTIONS.items():
        params = trainable(create_model("ma_snn_dvs_digits", attention=attention, **SMALL))
        extra = {n: c for n, c in params.items() if n not in base}
        assert set(params) >= set(base) and all(params[n] == base[n] for n in base)
        assert sum(extra.values()) == sum(per_dim[d] for d in dims), attention
        assert all(".neuron." in n for n in extra)


@pytest.mark.parametrize(
    "kwargs,key",
    [
        (dict(attention="TAC"), "model.attention"),
        (dict(pools=[1, 2]), "model.pools"),
        (dict(channels=[]), "model.channels"),
        (dict(img_size=30), "model.img_size"),
        (dict(sa_kernel=4), "model.sa_kernel"),
        (dict(t_ratio=0), "model.t_ratio"),
        (dict(preset="tiny"), "model.preset"),
        (dict(heads=3), "model.heads"),
    ],
)
def test_invalid_config_names_the_key_in_one_line(kwargs, key):
    with pytest.raises(ConfigError) as err:
        create_model("ma_snn_dvs_digits", **kwargs)
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def test_config_round_trips_and_rebuilds_the_same_model():
    model = create_model("ma_snn_dvs_digits", attention="TCSA", **SMALL)
    again = create_model(**model.config.to_dict())
    assert again.config == model.config
    again.load_state_dict(model.state_dict())


def test_data_init_wakes_every_layer_up():
    """With gates at 1/2 and mean-only BN the net would be silent; the initialisation scales each
    layer's weights for its gates' gain, so every layer fires at a moderate rate."""
    torch.manual_seed(0)
    for attention in ("none", "TCSA"):
        model = create_model("ma_snn_dvs_digits", attention=attention, **SMALL)
        x = events()
        data_init(model, x)
        rates = []
        for layer in model.layers:
            layer.neuron.register_forward_hook(lambda _m, _a, out, r=rates: r.append(out.mean()))
        with torch.no_grad():
            model.eval()(x)
        assert all(0.01 < r < 0.5 for r in rates), (attention, rates)


def mantissas(w: torch.Tensor) -> np.ndarray:
    return np.rint(quantize_8bit(w.detach(), descale=True).numpy()).astype(np.int64)


def test_every_layer_is_the_integer_reference_inside_a_model():
    torch.manual_seed(0)
    model = create_model("ma_snn_dvs_digits", attention="TCSA", **SMALL)
    x = events(16)
    data_init(model, x)
    with torch.no_grad():  # gates away from 1/2
        for name, p in model.named_parameters():
            if ".neuron." in name:
                p.uniform_(-0.2, 0.2)
    model.eval()
    seen = {}
    for i, layer in enumerate(model.layers):
        layer.neuron.register_forward_hook(lambda _m, a, out, i=i: seen.__setitem__(i, (a[0], out)))
    with torch.no_grad():
        model(x)
    for i, layer in enumerate(model.layers):
        n = layer.neuron
        current, spikes = seen[i]
        assert torch.equal(current * 64, torch.round(current * 64)) or layer.pool > 1
        bias = np.rint(n.norm.bias.detach().numpy()).astype(np.int64)
        x_int = np.rint(current.numpy() * STATE_SCALE).astype(np.int64) + 64 * bias.reshape(
            1, -1, 1, 1, 1)  # fmt: skip
        t, c, s = n.temporal, n.channel, n.spatial
        want = ref.gated_lif(
            x_int, int(n.cx_voltage_decay), 64 * n.v_th_mant,
            ta=(mantissas(t.mlp.w0), mantissas(t.mlp.w1)),
            ca=(mantissas(c.mlp.w0), mantissas(c.mlp.w1)) if c is not None else None,
            sa=mantissas(s.weight) if s is not None else None,
        )  # fmt: skip
        assert np.array_equal(spikes.long().numpy(), want), i
        assert spikes.mean() > 0.001, i


def test_gated_patch_splitting_on_ds2ta():
    kw = dict(embed_dim=16, num_heads=2, depth=1, time_steps=4)
    plain = trainable(create_model("ds2ta", **kw))
    model = create_model("ds2ta", sps_attention="TCSA", **kw)
    stages = model.sps.stages
    assert all(isinstance(s, GatedSpikingConv) for s in stages)
    assert all(len(s.neuron.gates()) == 3 for s in stages)
    extra = {n for n in trainable(model) if n not in plain}
    assert extra and all(n.startswith("sps.stages.") for n in extra)
    x = torch.randint(0, 17, (8, 1, 8, 8)).float() / 16
    data_init(model, x)
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 10, (8,)))
    loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if n in extra)
    with pytest.raises(ExportError, match="model.sps_attention"):
        model.graph()
    with pytest.raises(ConfigError, match="^model.sps_attention"):
        create_model("ds2ta", sps_attention="XA")
