"""MA-SNN's gated LIF: without gates it is SLAYER's CUBA neuron (spikes, surrogate gradients,
norm), with gates it is the integer reference of Eq. 14 bit for bit, and gradients reach the
gates through time."""

import functools

import numpy as np
import pytest
import torch
from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm

from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.gate import ChannelGate
from lava_ds2ta.gate import SpatialGate
from lava_ds2ta.gate import TemporalGate
from lava_ds2ta.gate import reference as ref
from lava_ds2ta.neuron import lif_params
from lava_ds2ta.neuron.gated import GatedLIF

TAU_MS = [2.0, 1 / 0.3]  # decay 2048/4096 (float32 path) and 2867/4096 (float64 path)


def currents(shape=(3, 4, 5, 5, 12), std: float = 1.5) -> torch.Tensor:
    """Synaptic currents on the 8-bit weight grid (multiples of 1/64)."""
    return torch.round(torch.randn(shape) * std * 64) / 64


def slayer_neuron(channels: int, tau_m: float) -> cuba.Neuron:
    """SLAYER's own CUBA neuron (not our fused subclass) configured as the paper's LIF."""
    norm = functools.partial(MeanOnlyBatchNorm, num_features=channels)
    return cuba.Neuron(**lif_params(tau_m=tau_m), norm=norm)


def mantissas(w: torch.Tensor) -> np.ndarray:
    return np.rint(quantize_8bit(w.detach(), descale=True).numpy()).astype(np.int64)


def run(neuron: torch.nn.Module, x: torch.Tensor, w: torch.Tensor, train: bool):
    """Spikes and the input gradient of ``sum(spikes * w)``."""
    neuron.train(train)
    x = x.clone().requires_grad_()
    s = neuron(x)
    (s * w).sum().backward()
    return s.detach(), x.grad


@pytest.mark.parametrize("tau_m", TAU_MS)
@pytest.mark.parametrize("train", [True, False])
def test_without_gates_it_is_slayers_cuba_neuron(tau_m, train):
    slayer, mine = slayer_neuron(4, tau_m), GatedLIF(4, tau_m=tau_m)
    mine.load_state_dict(slayer.state_dict())
    for _ in range(2):  # the second pass sees the running mean of the first (eval: a bias)
        x = currents()
        w = torch.randn(x.shape)
        s1, g1 = run(slayer, x, w, train)
        s2, g2 = run(mine, x, w, train)
        assert torch.equal(s1, s2) and 0.05 < s1.mean() < 0.5
        assert torch.equal(g1, g2) and g1.abs().sum() > 0
        assert torch.equal(slayer.norm.running_mean, mine.norm.running_mean)
    assert mine.device_params == slayer.device_params


class Open(torch.nn.Module):
    """A gate fixed at one: the identity."""

    def forward(self, x):
        return x


@pytest.mark.parametrize("tau_m", TAU_MS)
def test_gates_at_one_leave_the_neuron_unchanged(tau_m):
    slayer = slayer_neuron(4, tau_m)
    mine = GatedLIF(4, tau_m=tau_m, temporal=Open(), channel=Open(), spatial=Open())
    x, w = currents(), torch.randn(3, 4, 5, 5, 12)
    for train in (True, False):
        (s1, g1), (s2, g2) = run(slayer, x, w, train), run(mine, x, w, train)
        assert torch.equal(s1, s2) and torch.equal(g1, g2)


def gated(tau_m: float, dims: str = "TCS") -> GatedLIF:
    torch.manual_seed(1)
    neuron = GatedLIF(
        4, tau_m=tau_m,
        temporal=TemporalGate(12, 4) if "T" in dims else None,
        channel=ChannelGate(4, 2) if "C" in dims else None,
        spatial=SpatialGate(7) if "S" in dims else None,
    )  # fmt: skip
    with torch.no_grad():
        for gate in neuron.gates():
            for p in gate.parameters():
                p.uniform_(-0.5, 0.5)
    return neuron


def reference_spikes(neuron: GatedLIF, x: torch.Tensor) -> np.ndarray:
    """The integer reference for the neuron's input ``x`` (eval: the norm is a constant bias)."""
    bias = np.rint(neuron.norm.bias.detach().numpy()).astype(np.int64)  # weight units
    x_int = np.rint(x.numpy() * STATE_SCALE).astype(np.int64) + 64 * bias[None, :, None, None, None]
    t, c, s = neuron.temporal, neuron.channel, neuron.spatial
    return ref.gated_lif(
        x_int, int(neuron.cx_voltage_decay), 64 * neuron.v_th_mant,
        ta=(mantissas(t.mlp.w0), mantissas(t.mlp.w1)) if t is not None else None,
        ca=(mantissas(c.mlp.w0), mantissas(c.mlp.w1)) if c is not None else None,
        sa=mantissas(s.weight) if s is not None else None,
    )  # fmt: skip


@pytest.mark.parametrize("tau_m", TAU_MS)
@pytest.mark.parametrize("dims", ["TCS", "C", "S", "T"])
def test_gated_neuron_equals_the_integer_reference(tau_m, dims):
    neuron = gated(tau_m, dims)
    neuron.train()
    neuron(currents(std=3.0) + 1.0)  # a running mean, so that the bias is not zero
    neuron.eval()
    x = currents(std=3.0)
    with torch.no_grad():
        s = neuron(x)
    assert 0.01 < s.mean() < 0.5 and neuron.norm.bias.abs().sum() > 0
    assert np.array_equal(s.long().numpy(), reference_spikes(neuron, x))


def test_gradients_reach_every_gate_through_time():
    neuron = gated(2.0)
    x = currents(std=3.0).requires_grad_()
    s = neuron(x)
    (s[..., -1] * torch.randn(s.shape[:-1])).sum().backward()  # only the last step's spikes
    assert x.grad[..., 0].abs().sum() > 0  # back through time
    for name, p in neuron.named_parameters():
        if "gate" in name or name.startswith(("temporal", "channel", "spatial")):
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_plugs_into_slayers_conv_and_dense_blocks():
    """``GatedLIF`` is a ``cuba.Neuron``: it replaces the neuron of a SLAYER block; without gates
    the block computes what it computed before."""
    from lava.lib.dl import slayer

    params = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.5}
    conv = slayer.block.cuba.Conv(params, 2, 4, 3, padding=1, delay_shift=False)
    dense = slayer.block.cuba.Dense(params, 16, 6, delay_shift=False)
    x = torch.poisson(torch.full((2, 2, 5, 5, 12), 1.0))
    xd = torch.poisson(torch.full((2, 16, 12), 1.0))
    want = conv(x), dense(xd)
    conv.neuron, dense.neuron = GatedLIF(None), GatedLIF(None)
    assert torch.equal(conv(x), want[0]) and torch.equal(dense(xd), want[1])
    conv.neuron = GatedLIF(None, channel=ChannelGate(4, 2), spatial=SpatialGate(3))
    dense.neuron = GatedLIF(None, temporal=TemporalGate(12, 4))
    for block, inp in ((conv, x), (dense, xd)):
        out = block(inp)
        out.sum().backward()
        assert out.shape == want[0 if block is conv else 1].shape
        assert block.synapse.weight.grad.abs().sum() > 0
