"""NSAD (DS2TA Eq. 6-7): integer tables, lookup and gradients."""

import math

import torch

from lava_ds2ta.denoiser import NSAD


def random_nsad(heads: int = 3, d: int = 8) -> NSAD:
    nsad = NSAD(heads, d, u_init=2.0)
    with torch.no_grad():
        nsad.a.copy_(torch.tensor([1.3, -0.7, 0.4])[:heads])
        nsad.b.copy_(torch.tensor([0.05, 0.2, -0.1])[:heads])
        nsad.c.copy_(torch.tensor([2.0, 5.5, 1.0])[:heads])
        nsad.d.copy_(torch.tensor([3.0, -2.0, 6.0])[:heads])
        nsad.e.copy_(torch.tensor([4.0, 1.5, 7.0])[:heads])
        nsad.u.copy_(torch.tensor([2.5, 1.0, 3.0])[:heads])
    return nsad


def f_reference(p: dict, s: int) -> float:
    if not s > p["u"]:
        return 0.0
    return p["a"] * s + p["b"] * (s - p["c"]) ** 2 + p["d"] / (1 + math.exp(s - p["e"]))


def test_table_equals_rounded_f_with_noise_floor_cut():
    nsad = random_nsad()
    tables = nsad.tables()
    assert tables.dtype == torch.int64 and tables.shape == (3, 9)
    for h in range(3):
        p = {k: float(getattr(nsad, k)[h]) for k in "abcdeu"}
        expected = [math.floor(f_reference(p, s) + 0.5) for s in range(9)]
        assert tables[h].tolist() == expected
        assert all(v == 0 for s, v in enumerate(tables[h].tolist()) if s <= p["u"])
    assert (tables < 0).any(), "the test parameters should produce negative entries too"


def test_forward_is_the_table_lookup():
    nsad = random_nsad()
    s = torch.randint(0, 9, (2, 3, 4, 5, 5)).float()
    out = nsad(s)
    tables = nsad.tables()
    expected = torch.stack([tables[h][s[:, h].long()] for h in range(3)], dim=1).float()
    assert torch.equal(out, expected)


def test_all_six_parameters_and_the_map_receive_gradient():
    nsad = random_nsad()
    s = torch.randint(0, 9, (2, 3, 4, 6, 6)).float().requires_grad_(True)
    (nsad(s) * torch.randn(2, 3, 4, 6, 6)).sum().backward()
    for name in "abcdeu":
        grad = getattr(nsad, name).grad
        assert grad is not None and (grad != 0).all(), name
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_default_init_is_spikformer_attention_with_noise_floor_cut():
    nsad = NSAD(4, 16, u_init=3.0)
    expected = torch.tensor([0] * 4 + list(range(4, 17)))
    assert torch.equal(nsad.tables(), expected.expand(4, -1))
    # At this init a, b, d and u already learn; c and e follow once b and d move.
    s = torch.randint(0, 17, (2, 4, 2, 5, 5)).float()
    (nsad(s) * torch.randn_like(s)).sum().backward()
    for name in "abdu":
        assert (getattr(nsad, name).grad != 0).all(), name


def test_table_costs_h_times_d_plus_one_integers():
    assert NSAD(12, 32).tables().numel() == 12 * 33


def test_lookup_gradients_equal_the_elementwise_formulation():
    """The scatter-add lookup equals autograd through ``round_ste(gate(s) g(s))`` elementwise."""
    from lava_ds2ta.functional import round_ste

    nsad = random_nsad()
    s = torch.randint(0, 9, (2, 3, 4, 6, 6)).float()
    w = torch.randn(2, 3, 4, 6, 6)
    s1 = s.clone().requires_grad_(True)
    (nsad(s1) * w).sum().backward()
    fast = {k: getattr(nsad, k).grad.clone() for k in "abcdeu"}
    nsad.zero_grad()

    s2 = s.clone().requires_grad_(True)
    shaped = s2.permute(1, 0, 2, 3, 4).reshape(3, -1)  # (H, everything else)
    f = nsad._gate(shaped) * nsad.g(shaped)
    (round_ste(f) * w.permute(1, 0, 2, 3, 4).reshape(3, -1)).sum().backward()
    for k in "abcdeu":
        torch.testing.assert_close(getattr(nsad, k).grad, fast[k], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(s2.grad, s1.grad, rtol=1e-5, atol=1e-5)
