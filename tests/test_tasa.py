"""TASA synapse (DS2TA Eq. 1, 4, 5) against references written straight from the equations."""

import numpy as np
import pytest
import torch
from lava.lib.dl import slayer

from lava_ds2ta.fixed_point import quantize_8bit
from lava_ds2ta.fixed_point import synapse_weight_int
from lava_ds2ta.synapse import TASAConv


def make_tasa(window: int, tau: int, cin: int = 6, cout: int = 5) -> TASAConv:
    syn = TASAConv(cin, cout, 1, 0, window, tau, pre_hook_fx=quantize_8bit)
    with torch.no_grad():
        syn.weight.uniform_(-2.0, 2.0)
    return syn


def spikes(cin: int = 6, t: int = 7, graded: bool = False) -> torch.Tensor:
    x = (torch.rand(2, cin, 3, 2, t) < 0.4).float()
    return x * torch.randint(1, 4, x.shape) if graded else x


def eq1_integer_reference(syn: TASAConv, s: torch.Tensor) -> np.ndarray:
    """Integer currents of Eq. 1: tap m adds (W_int s[t-m]) >> (tau m), s = 0 before t = 0."""
    w = synapse_weight_int(syn)[:, :, 0, 0].astype(np.int64)  # out, in
    x = s.numpy().astype(np.int64)  # N, C, H, W, T
    n, _, h, wd, t_len = x.shape
    out = np.zeros((n, w.shape[0], h, wd, t_len), dtype=np.int64)
    for t in range(t_len):
        for m in range(syn.window):
            if t - m < 0:
                continue
            tap = np.einsum("oc,nchw->nohw", w, x[..., t - m])
            out[..., t] += np.right_shift(tap, syn.tau_int * m)
    return out


@pytest.mark.parametrize("window,tau", [(1, 4), (2, 1), (3, 2), (3, 4), (4, 3)])
@pytest.mark.parametrize("graded", [False, True])
def test_tasa_equals_integer_sum_of_attenuated_replicas(window, tau, graded):
    syn = make_tasa(window, tau)
    s = spikes(graded=graded)
    got = syn(s).detach() * 64
    assert torch.equal(got, torch.round(got)), "currents must lie on the 1/64 weight grid"
    np.testing.assert_array_equal(got.numpy().astype(np.int64), eq1_integer_reference(syn, s))


def test_tasa_equals_real_valued_eq1_when_shifts_are_exact():
    # Even 8-bit mantissas shifted by tau*m = 1 lose nothing: Eq. 1 holds in real numbers.
    syn = make_tasa(window=2, tau=1)
    s = spikes()
    w = quantize_8bit(syn.weight.detach())[:, :, 0, 0, 0]
    expected = torch.zeros(2, 5, 3, 2, s.shape[-1])
    for t in range(s.shape[-1]):
        for m in range(2):
            if t - m >= 0:
                expected[..., t] += 2.0 ** (-1 * m) * torch.einsum(
                    "oc,nchw->nohw", w, s[..., t - m]
                )
    assert torch.equal(syn(s).detach(), expected)


def test_window_one_is_the_plain_projection():
    syn = make_tasa(window=1, tau=4)
    plain = slayer.synapse.Conv(6, 5, 1, pre_hook_fx=quantize_8bit)
    plain.weight.data.copy_(syn.weight.data)
    s = spikes(graded=True)
    assert torch.equal(syn(s), plain(s))


def test_history_before_the_sample_is_zero():
    syn = make_tasa(window=3, tau=2)
    plain = slayer.synapse.Conv(6, 5, 1, pre_hook_fx=quantize_8bit)
    plain.weight.data.copy_(syn.weight.data)
    s = spikes()
    assert torch.equal(syn(s)[..., 0], plain(s)[..., 0])


def test_tau_is_an_integer_and_receives_gradient():
    syn = make_tasa(window=3, tau=2)
    opt = torch.optim.SGD(syn.parameters(), lr=0.3)
    s = spikes(graded=True)
    target = torch.randn(2, 5, 3, 2, s.shape[-1])
    for _ in range(3):
        opt.zero_grad()
        ((syn(s) - target) ** 2).mean().backward()
        assert syn.tau_latent.grad is not None and syn.tau_latent.grad.abs() > 0
        opt.step()
        tau = syn.tau()
        assert float(tau) == int(tau.item())
    # The forward pass depends on the rounded exponent only.
    before = syn(s).detach()
    with torch.no_grad():
        syn.tau_latent.copy_(torch.floor(syn.tau_latent + 0.5) + 0.3)
    assert torch.equal(syn(s).detach(), before)


def test_no_weights_beyond_w():
    syn = make_tasa(window=3, tau=4)
    names = sorted(n for n, _ in syn.named_parameters())
    assert names == ["tau_latent", "weight"]
