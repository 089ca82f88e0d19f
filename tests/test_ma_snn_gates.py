"""MA-SNN gates (TA, CA, SA): each against its formula written out in floats, the integer forward
against the numpy reference bit for bit, the sigmoid table, and the gradients the gates get."""

import numpy as np
import pytest
import torch

from lava_ds2ta.fixed_point import STATE_SCALE
from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.gate import INIT_GATE
from lava_ds2ta.gate import ChannelGate
from lava_ds2ta.gate import SpatialGate
from lava_ds2ta.gate import TemporalGate
from lava_ds2ta.gate import reference as ref
from lava_ds2ta.gate.functional import avg_pool_current
from lava_ds2ta.gate.functional import gate_product


def mantissas(w: torch.Tensor) -> np.ndarray:
    return np.rint(quantize_8bit(w.detach(), descale=True).numpy()).astype(np.int64)


def real(w: torch.Tensor) -> torch.Tensor:
    return quantize_8bit(w.detach()).double()


def randomise(module: torch.nn.Module, bound: float = 1.0) -> torch.nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-bound, bound)
    return module


def on_grid(shape, lo: int, hi: int) -> tuple[torch.Tensor, np.ndarray]:
    """Random potentials in state units: ``(float32 real values, int64 state units)``."""
    s = torch.randint(lo, hi, shape)
    return s.float() / STATE_SCALE, s.numpy().astype(np.int64)


def float_mlp(w0, w1, p_avg, p_max):
    """``W1 ReLU(W0 avg) + W1 ReLU(W0 max)``, real weights and inputs (float64)."""
    return torch.relu(p_avg @ w0.T) @ w1.T + torch.relu(p_max @ w0.T) @ w1.T


def test_sigmoid_table_is_monotone_from_zero_to_one():
    table = ref.sigmoid_table()
    assert table.shape == (2 * ref.LOGIT_UNITS + 1,) and table.dtype == np.int64
    assert table[0] == 0 and table[-1] == 256 and table[ref.LOGIT_UNITS] == 128
    assert np.all(np.diff(table) >= 0)
    z = np.arange(-ref.LOGIT_UNITS, ref.LOGIT_UNITS + 1) / 32
    assert np.abs(table / 256 - 1 / (1 + np.exp(-z))).max() <= 0.5 / 256 + 1e-12
    one = np.flatnonzero(table == 256)[0] - ref.LOGIT_UNITS
    assert one == 200  # a gate of exactly one from logit 6.25 upward
    assert ref.gate_lookup(np.array([-10_000, 10_000])).tolist() == [0, 256]


def test_round_div_rounds_half_up():
    a = np.array([-7, -6, -5, -2, -1, 0, 1, 2, 5, 6, 7])
    assert ref.round_div(a, 4).tolist() == [-2, -1, -1, 0, 0, 0, 0, 1, 1, 2, 2]
    assert ref.round_div(a, 3).tolist() == [-2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2]
    assert ref.gate_product(np.array([128, 128, 128]), np.array([-3, 3, 5])).tolist() == [-1, 2, 3]


def test_temporal_gate_is_its_formula():
    """TA, Eq. 9: g_t = sigmoid(W1 ReLU(W0 AvgPool_chw X) + W1 ReLU(W0 MaxPool_chw X)), (N, T)."""
    ta = randomise(TemporalGate(12, 4), 0.5)
    x, _ = on_grid((3, 5, 4, 4, 12), -3000, 5000)
    xd = x.double()
    want = torch.sigmoid(float_mlp(real(ta.mlp.w0), real(ta.mlp.w1),
                                   xd.mean(dim=(1, 2, 3)), xd.amax(dim=(1, 2, 3))))  # fmt: skip
    got = ta.gate(x).view(3, 12).double()
    assert (got - want).abs().max() < 0.01
    assert torch.allclose(ta(x).double(), got.view(3, 1, 1, 1, 12) * xd, atol=1 / STATE_SCALE)


def test_channel_gate_is_its_formula():
    """CA, Eq. 11: g_c = sigmoid(W1 ReLU(W0 AvgPool_hw U) + W1 ReLU(W0 MaxPool_hw U)), (N, C)."""
    ca = randomise(ChannelGate(16, 4), 0.3)
    u, _ = on_grid((3, 16, 5, 5), -4000, 6000)
    ud = u.double()
    want = torch.sigmoid(float_mlp(real(ca.mlp.w0), real(ca.mlp.w1),
                                   ud.mean(dim=(2, 3)), ud.amax(dim=(2, 3))))  # fmt: skip
    got = ca.gate(u).view(3, 16).double()
    assert (got - want).abs().max() < 0.01
    assert torch.allclose(ca(u).double(), got.view(3, 16, 1, 1) * ud, atol=1 / STATE_SCALE)


def test_spatial_gate_is_its_formula():
    """SA, Eq. 13: g_s = sigmoid(conv7x7([AvgPool_c U; MaxPool_c U])), (N, H, W)."""
    sa = randomise(SpatialGate(7), 0.1)
    u, _ = on_grid((2, 6, 9, 9), -4000, 6000)
    ud = u.double()
    maps = torch.stack([ud.mean(dim=1), ud.amax(dim=1)], dim=1)
    want = torch.sigmoid(torch.nn.functional.conv2d(maps, real(sa.weight), padding=3))
    got = sa.gate(u).double()
    assert got.shape == (2, 1, 9, 9) and (got - want).abs().max() < 0.01
    assert torch.allclose(sa(u).double(), got * ud, atol=1 / STATE_SCALE)


@pytest.mark.parametrize("scale", [1, 300])  # float32 fast paths; float64 paths (|x| > 16)
def test_integer_gates_equal_the_numpy_reference(scale):
    ta = randomise(TemporalGate(10, 3))
    ca = randomise(ChannelGate(8, 2))
    sa = randomise(SpatialGate(7), 0.5)
    x, xi = on_grid((3, 8, 6, 6, 10), -20000 * scale, 20000 * scale)
    g = ta.gate(x).view(3, 10) * 256
    assert np.array_equal(g.long().numpy(), ref.temporal_gate(xi, mantissas(ta.mlp.w0),
                                                               mantissas(ta.mlp.w1)))  # fmt: skip
    u, ui = x[..., 0], xi[..., 0]
    g = ca.gate(u).view(3, 8) * 256
    want = ref.channel_gate(ui, mantissas(ca.mlp.w0), mantissas(ca.mlp.w1))
    assert np.array_equal(g.long().numpy(), want) and len(np.unique(want)) > 5 // scale
    g = sa.gate(u).view(3, 6, 6) * 256
    want = ref.spatial_gate(ui, mantissas(sa.weight))
    assert np.array_equal(g.long().numpy(), want) and len(np.unique(want)) > 5 // scale
    for module, gated, gate in ((ca, ca(u), ca.gate(u)), (sa, sa(u), sa.gate(u))):
        want = ref.gate_product((gate * 256).long().numpy(), ui)
        assert np.array_equal((gated.double() * STATE_SCALE).long().numpy(), want), module


@pytest.mark.parametrize("k", [2, 3])
def test_current_avgpool_equals_the_reference(k):
    x = torch.randint(-5000, 5000, (2, 3, 6, 6, 4)).float() / 64  # weight units: 1/64 grid
    got = avg_pool_current(x, k)
    assert got.shape == (2, 3, 6 // k, 6 // k, 4)
    want = ref.avg_pool((x * STATE_SCALE).long().numpy(), k)
    assert np.array_equal((got.double() * STATE_SCALE).long().numpy(), want)
    assert torch.allclose(got, torch.nn.functional.avg_pool3d(x, (k, k, 1)), atol=1 / STATE_SCALE)


def test_gates_start_at_one_half():
    x, _ = on_grid((2, 4, 5, 5, 10), -9000, 9000)
    assert torch.all(TemporalGate(10, 5).gate(x) == INIT_GATE)
    assert torch.all(ChannelGate(4, 2).gate(x[..., 0]) == INIT_GATE)
    assert torch.all(SpatialGate().gate(x[..., 0]) == INIT_GATE)


def test_gate_gradients_follow_the_float_formula():
    """Every gate parameter and the input receive gradient; it is the float formula's gradient
    (straight-through roundings, the sigmoid's slope through the table) up to the roundings."""
    ca = randomise(ChannelGate(16, 4), 0.3)
    u, _ = on_grid((4, 16, 5, 5), -4000, 6000)
    w = torch.randn(4, 16, 5, 5)
    u1 = u.clone().requires_grad_()
    (ca(u1) * w).sum().backward()
    grads = {n: p.grad.clone() for n, p in ca.named_parameters()}
    assert all(g.abs().sum() > 0 for g in grads.values()) and u1.grad.abs().sum() > 0

    w0, w1 = (p.detach().clone().double().requires_grad_() for p in (ca.mlp.w0, ca.mlp.w1))
    u2 = u.double().requires_grad_()
    g = torch.sigmoid(float_mlp(quantize_8bit(w0), quantize_8bit(w1),
                                u2.mean(dim=(2, 3)), u2.amax(dim=(2, 3))))  # fmt: skip
    (g[:, :, None, None] * u2 * w.double()).sum().backward()
    for mine, theirs in ((grads["mlp.w0"], w0.grad), (grads["mlp.w1"], w1.grad),
                         (u1.grad, u2.grad)):  # fmt: skip
        cos = torch.nn.functional.cosine_similarity(mine.double().flatten(), theirs.flatten(), 0)
        assert cos > 0.99


def test_spatial_and_temporal_gates_learn():
    sa, ta = SpatialGate(7), TemporalGate(10, 5)
    x, _ = on_grid((2, 4, 5, 5, 10), -9000, 9000)
    x = x.requires_grad_()
    (ta(x) * torch.randn_like(x)).sum().backward()
    (sa(x[..., 0]) * torch.randn(2, 4, 5, 5)).sum().backward()
    assert sa.weight.grad.abs().sum() > 0 and ta.mlp.w1.grad.abs().sum() > 0
    assert ta.mlp.w0.grad.abs().sum() == 0  # W1 = 0 at initialisation: W0 learns once W1 moves


def test_gate_product_rounds_half_up_on_the_state_grid():
    x = torch.tensor([3.0, -3.0, 5.0, -5.0]) / STATE_SCALE
    g = torch.full((4,), 0.5)
    assert (gate_product(x, g) * STATE_SCALE).tolist() == [2.0, -1.0, 3.0, -2.0]
