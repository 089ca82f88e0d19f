"""Model registry, variants (Table 4), presets, config errors and the fixed-point contract."""

import re

import numpy as np
import pytest
import torch

from lava_ds2ta import create_model
from lava_ds2ta.block import SpikingConv
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.errors import InputError
from lava_ds2ta.fixed_point import synapse_weight_int
from lava_ds2ta.fixed_point import to_int
from lava_ds2ta.init import data_init
from lava_ds2ta.models import model_config
from lava_ds2ta.synapse import TASAConv

TINY = dict(embed_dim=32, num_heads=4, depth=2, time_steps=3)


def trainable(model) -> dict[str, int]:
    return {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}


def test_variants_add_only_taus_and_nsad_parameters():
    spik, nsad, ds2ta = (
        trainable(create_model(n, **TINY)) for n in ("spikformer", "ds2ta_nsad", "ds2ta")
    )
    assert not any("tau" in n or "denoiser" in n for n in spik)
    depth, heads = TINY["depth"], TINY["num_heads"]
    extra_nsad = {n: c for n, c in nsad.items() if n not in spik}
    assert set(nsad) >= set(spik)
    assert all(re.search(r"denoiser\.[abcdeu]$", n) for n in extra_nsad)
    assert sum(extra_nsad.values()) == depth * 6 * heads
    extra = {n: c for n, c in ds2ta.items() if n not in spik}
    taus = {n: c for n, c in extra.items() if n.endswith("tau_latent")}
    assert len(taus) == depth * 4 and sum(taus.values()) == depth * 4  # Q, K, V, output
    assert sum(extra.values()) == depth * 4 + depth * 6 * heads
    assert all(spik[n] == ds2ta[n] for n in spik)


def test_tasa_sits_on_qkv_and_output_projections_only():
    model = create_model("ds2ta", **TINY)
    tasa = sorted(n for n, m in model.named_modules() if isinstance(m, TASAConv))
    expected = [f"blocks.{b}.attn.{p}.synapse" for b in range(2) for p in ("q", "k", "v", "proj")]
    assert tasa == sorted(expected)


@pytest.mark.parametrize("preset,paper", [("vit-4-384", 9.32e6), ("vit-2-256", 2.58e6)])
def test_paper_presets_match_parameter_counts(preset, paper):
    n = sum(trainable(create_model("ds2ta", preset=preset)).values())
    assert abs(n - paper) / paper < 0.02, n


def test_paper_presets_follow_section_4():
    c = create_model("ds2ta", preset="vit-4-384").config
    assert (c.embed_dim, c.depth, c.num_heads, c.time_steps, c.token_grid**2) == (384, 4, 12, 4, 64)
    assert (c.t_aw, c.tau_init, c.nsad_u_init) == (3, 4, 3.0)
    c = create_model("ds2ta", preset="vit-2-256").config
    assert (c.embed_dim, c.depth, c.num_heads, c.time_steps, c.img_size) == (256, 2, 16, 10, 128)
    assert c.img_size // c.token_grid == 16 and (c.tau_init, c.nsad_u_init) == (2, 2.0)
    assert c.input_levels == 1  # DVS frames are integer event counts


@pytest.mark.parametrize(
    "kwargs,key",
    [
        (dict(preset="vit-9-999"), "model.preset"),
        (dict(name="vit"), "model.name"),
        (dict(embed_dims=64), "model.embed_dims"),
        (dict(t_aw=0), "model.t_aw"),
        (dict(num_heads=5), "model.num_heads"),
        (dict(tau_init=2.5), "model.tau_init"),
        (dict(sps_pool="0x10"), "model.sps_pool"),
    ],
)
def test_invalid_config_names_the_key_in_one_line(kwargs, key):
    with pytest.raises(ConfigError) as err:
        create_model(**{"name": "ds2ta", **kwargs})
    msg = str(err.value)
    assert msg.startswith(key) and "\n" not in msg


def test_config_round_trips_through_a_dict():
    model = create_model("ds2ta_nsad", preset="tiny", depth=2)
    assert model_config(**model.config.to_dict()) == model.config


def test_bad_inputs_stop_with_a_clear_error():
    model = create_model("ds2ta", **TINY)
    with pytest.raises(InputError, match=r"expected \(N, 1, 8, 8\[, 3\]\)"):
        model(torch.rand(2, 3, 8, 8))
    x = torch.rand(2, 1, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        model(x)
    with pytest.raises(InputError, match=r"empty batch \(N = 0\)"):
        model(torch.rand(0, 1, 8, 8))
    with pytest.raises(InputError, match="tensor or numpy array of numbers, got str"):
        model("images")
    with pytest.raises(InputError, match="real numbers, got dtype torch.complex64"):
        model(torch.zeros(1, 1, 8, 8, dtype=torch.complex64))


def test_numpy_and_float64_inputs_give_the_float32_result():
    model = create_model("ds2ta", **TINY).eval()
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(model(x.numpy()), ref)
        assert torch.equal(model(x.double()), ref)


def test_static_input_is_repeated_over_time_steps():
    model = create_model("ds2ta", **TINY).eval()
    x = torch.randint(0, 17, (3, 1, 8, 8)).float() / 16
    assert torch.equal(model(x), model(x.unsqueeze(-1).expand(-1, -1, -1, -1, 3)))


def trained_a_little(name: str, **kw):
    model = create_model(name, **{**TINY, **kw})
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    x = torch.randint(0, 17, (16, 1, 8, 8)).float() / 16
    y = torch.randint(0, 10, (16,))
    data_init(model, x)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), x


def test_exported_weights_are_even_8bit_integers():
    model, _ = trained_a_little("ds2ta")
    with torch.no_grad():  # push some weights beyond the 8-bit range to exercise the clamp
        model.blocks[0].mlp.fc1.synapse.weight.mul_(100)
    found = 0
    for m in model.modules():
        if isinstance(m, SpikingConv):
            w = synapse_weight_int(m.synapse)
            assert w.min() >= -256 and w.max() <= 254 and (w % 2 == 0).all()
            found += 1
    w = to_int(model.head.weight)
    assert w.min() >= -256 and w.max() <= 254 and (w % 2 == 0).all()
    assert found == 5 + 2 * 6


@pytest.mark.parametrize("name", ["spikformer", "ds2ta_nsad", "ds2ta"])
def test_eval_currents_lie_on_the_fixed_point_grid(name):
    """Every neuron input is a whole number of 8-bit weight units (a multiple of 1/64): what a
    Lava fixed-point LIF receives on ``a_in``. The first layer sees integer input levels."""
    model, x = trained_a_little(name)
    currents = {}
    for n, m in model.named_modules():
        if type(m).__name__ == "Neuron":
            m.register_forward_pre_hook(lambda _m, a, n=n: currents.__setitem__(n, a[0]))
    with torch.no_grad():
        model(x)
    for n, cur in currents.items():
        scaled = cur * 64
        assert torch.equal(scaled, torch.round(scaled)), n
        assert cur.abs().max() < 2048, f"{n}: state beyond Loihi's 24-bit range"
    assert len(currents) == 5 + 2 * 7  # SPS + (q, k, v, attention, output, fc1, fc2) per block


def test_nsad_with_identity_table_is_spikformer():
    spik, x = trained_a_little("spikformer")
    nsad = create_model("ds2ta_nsad", **TINY).eval()
    missing = nsad.load_state_dict(spik.state_dict(), strict=False).missing_keys
    assert all("denoiser" in k for k in missing)
    with torch.no_grad():
        for blk in nsad.blocks:
            blk.attn.denoiser.u.fill_(-0.5)  # table[s] = s for every s
    with torch.no_grad():
        assert torch.equal(nsad(x), spik(x))


def test_data_init_makes_every_layer_fire():
    # Spikformer: NSAD's noise floor (u_h) may silence a DS2TA attention map at init.
    model = create_model("spikformer", **TINY)
    rates = {}
    for n, m in model.named_modules():
        if type(m).__name__ == "Neuron":
            m.register_forward_hook(
                lambda _m, _a, out, n=n: rates.__setitem__(n, out.mean().item())
            )
    assert not bool(model.initialized)
    data_init(model, torch.randint(0, 17, (32, 1, 8, 8)).float() / 16)
    assert bool(model.initialized)
    assert all(r > 0 for r in rates.values()), rates
    assert np.isfinite(list(rates.values())).all()
