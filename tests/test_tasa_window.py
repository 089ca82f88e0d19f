"""The fused TASA window sum against its per-tap definition (pad, scale, straight-through floor)."""

import pytest
import torch
import torch.nn.functional as F

from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.functional import attenuated_window_sum


def per_tap_reference(y: torch.Tensor, tau: torch.Tensor, window: int) -> torch.Tensor:
    """``sum_m floor(W_SCALE y[t-m] 2^(-tau m)) / W_SCALE`` with autograd through every tap:
    a zero-padded delay, the scale ``2^(-tau m)`` (gradient to ``tau``) and a straight-through
    floor."""
    out = y
    for m in range(1, min(window, y.shape[-1])):
        tap = F.pad(y[..., :-m], (m, 0)) * (torch.exp2(-tau * m) * W_SCALE)
        out = out + (tap + (torch.floor(tap) - tap).detach()) / W_SCALE
    return out


@pytest.mark.parametrize(
    "steps,window,tau",
    [(4, 3, 4), (4, 3, 0), (10, 3, 2), (7, 4, 3), (4, 2, 8), (3, 5, 1), (1, 3, 2)],
)
def test_window_sum_equals_per_tap_definition(steps, window, tau):
    y = torch.randint(-4000, 4000, (3, 5, 2, 3, steps)) / W_SCALE  # on the 1/64 grid
    y_fused, y_ref = y.clone().requires_grad_(), y.clone().requires_grad_()
    tau_fused = torch.tensor(float(tau), requires_grad=True)
    tau_ref = torch.tensor(float(tau), requires_grad=True)
    out = attenuated_window_sum(y_fused, tau_fused, window)
    expected = per_tap_reference(y_ref, tau_ref, window)
    assert torch.equal(out, expected)
    upstream = torch.randn(out.shape)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    torch.testing.assert_close(y_fused.grad, y_ref.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(tau_fused.grad, tau_ref.grad, rtol=1e-4, atol=1e-4)


def test_window_sum_of_a_non_contiguous_input():
    y = (torch.randint(-500, 500, (2, 4, 3, 6)) / W_SCALE).transpose(0, 1)
    tau = torch.tensor(2.0)
    assert torch.equal(attenuated_window_sum(y, tau, 3), per_tap_reference(y, tau, 3))
