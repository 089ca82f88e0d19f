"""The fused CUBA-LIF dynamics against SLAYER's own neuron: eval bit for bit, train gradients."""

import copy
import functools

import pytest
import torch
from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm

from lava_ds2ta import create_model
from lava_ds2ta.neuron import Neuron
from lava_ds2ta.neuron import lif_neuron
from lava_ds2ta.neuron import lif_params
from lava_ds2ta.neuron.dynamics import MAX_INPUT
from lava_ds2ta.neuron.dynamics import cuba_lif_voltage

# (tau_m, threshold, norm, shape): the paper's LIF, the attention LIF (no norm), the first SPS
# stage (threshold 16), decays that are not powers of two (float64 path) and no leak at all.
CONFIGS = [
    (2.0, 1.0, True, (4, 6, 3, 5, 4)),
    (2.0, 0.5, False, (3, 8, 2, 2, 7)),
    (2.0, 16.0, True, (2, 3, 4, 4, 4)),
    (3.0, 1.25, True, (3, 5, 11)),
    (4.0, 1.0, False, (2, 4, 3, 3, 10)),
    (1.0, 1.0, True, (2, 3, 2, 2, 4)),
]


def pair(channels: int, threshold: float, tau_m: float, norm: bool) -> tuple[Neuron, cuba.Neuron]:
    """Our neuron and SLAYER's, same parameters and state."""
    ours = lif_neuron(channels if norm else None, threshold=threshold, tau_m=tau_m)
    ref_norm = functools.partial(MeanOnlyBatchNorm, num_features=channels) if norm else None
    ref = cuba.Neuron(**lif_params(threshold, tau_m), norm=ref_norm)
    if norm:
        ours.norm.running_mean.copy_(0.2 * threshold * torch.randn(channels))
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def currents(shape: tuple[int, ...], threshold: float, grid: bool) -> torch.Tensor:
    """Random input currents around the threshold: on the 8-bit weight grid (what the models
    feed) or arbitrary floats (exercises the truncation onto the 1/4096 grid)."""
    x = threshold * (0.9 * torch.randn(shape) + 0.3)
    return torch.round(x * 64) / 64 if grid else x


def eval_bias(neuron: Neuron) -> torch.Tensor | None:
    return None if neuron.norm is None else neuron.norm.pre_hook_fx(neuron.norm.running_mean)


@pytest.mark.parametrize("tau_m,threshold,norm,shape", CONFIGS)
@pytest.mark.parametrize("grid", [True, False])
def test_eval_spikes_and_voltages_equal_slayer_bit_for_bit(tau_m, threshold, norm, shape, grid):
    ours, ref = pair(shape[1], threshold, tau_m, norm)
    ours.eval(), ref.eval()
    x = currents(shape, threshold, grid)
    constants = ours.fused_constants(x)
    assert constants is not None
    with torch.no_grad():
        spikes, expected = ours(x), ref(x)
        _, voltage = ref.dynamics(x)
    assert 0.05 < expected.mean() < 0.95
    assert torch.equal(spikes, expected)
    assert torch.equal(cuba_lif_voltage(x, eval_bias(ours), constants), voltage)
    assert ours.shape == ref.shape


@pytest.mark.parametrize("threshold", [1.0, 0.5, 16.0])
def test_threshold_edges_follow_slayer(threshold):
    # Voltages one grid step below, at and above the threshold, then 0.6 threshold: only a
    # neuron that fired (v > theta, Loihi's rule) was reset and stays silent at the next step.
    ours, ref = pair(3, threshold, 2.0, norm=False)
    edge = threshold + torch.tensor([-1.0, 0.0, 1.0]) / 4096
    x = torch.zeros(2, 3, 4)
    x[0, :, 0], x[0, :, 1] = edge, 0.6 * threshold
    x[1, :, 2], x[1, :, 3] = edge, 0.6 * threshold  # the same at later steps
    with torch.no_grad():
        spikes = ours(x)
        assert torch.equal(spikes, ref(x))
    assert spikes[0, :, :2].tolist() == [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
    assert torch.equal(spikes[1, :, 2:], spikes[0, :, :2])


@pytest.mark.parametrize("tau_m,threshold,norm,shape", CONFIGS)
def test_train_spikes_running_mean_and_gradients_match_slayer(tau_m, threshold, norm, shape):
    ours, ref = pair(shape[1], threshold, tau_m, norm)
    for _ in range(3):  # the running mean evolves; every step must stay identical
        x = currents(shape, threshold, grid=True)
        x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
        spikes, expected = ours(x_ours), ref(x_ref)
        assert torch.equal(spikes, expected)
        if norm:
            assert torch.equal(ours.norm.running_mean, ref.norm.running_mean)
        upstream = torch.randn(shape)
        (spikes * upstream).sum().backward()
        (expected * upstream).sum().backward()
        scale = x_ref.grad.abs().max()
        assert scale > 0
        torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-6 * scale)


def test_surrogate_far_below_threshold_matches_slayer():
    # Voltages ~100 thresholds below: SLAYER's surrogate underflows; the clamped exponent
    # must not change the gradient beyond float noise.
    ours, ref = pair(4, 1.0, 2.0, norm=True)
    x = currents((2, 4, 3, 3, 4), 1.0, grid=True)
    x[:, :2] -= 60.0
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours(x_ours).sum().backward()
    ref(x_ref).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-30)


def test_unsupported_inputs_and_configurations_run_slayer():
    ours, ref = pair(3, 1.0, 2.0, norm=True)
    big = currents((2, 3, 4), 1.0, grid=True)
    big[0, 0, 0] = MAX_INPUT
    assert ours.fused_constants(big) is None
    nan = big.clone()
    nan[0, 0, 0] = float("nan")
    assert ours.fused_constants(nan) is None
    assert ours.fused_constants(big.double()) is None
    with torch.no_grad():
        assert torch.equal(ours(big), ref(big))
    for flag in ("persistent_state", "graded_spike", "requires_grad"):
        other = copy.deepcopy(ours)
        setattr(other, flag, True)
        assert other.fused_constants(big / 4) is None
    assert ours.fused_constants(big / 4) is not None


@pytest.mark.parametrize("name", ["spikformer", "ds2ta"])
def test_model_with_fused_neurons_trains_as_with_slayer_neurons(name):
    """One training step of a whole model: identical logits and running means, the same
    parameter gradients; then identical eval logits (the export contract)."""
    ours = create_model(name, preset="tiny", depth=1, embed_dim=32, num_heads=2)
    ref = copy.deepcopy(ours)
    for module in ref.modules():
        if isinstance(module, Neuron):
            module.__class__ = cuba.Neuron
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 10, (6,))
    logits = [model(x) for model in (ours, ref)]
    assert torch.equal(logits[0], logits[1])
    for out in logits:
        torch.nn.functional.cross_entropy(out, y).backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        if not q.requires_grad:  # the neurons' fixed decays
            assert p.grad is None and q.grad is None, n
            continue
        scale = q.grad.abs().max() + 1e-12
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5 * scale, msg=n)
    expected = ref.state_dict()
    for n, b in ours.state_dict().items():  # weights, running means, `initialized`
        assert torch.equal(b, expected[n]), n
    ours.eval(), ref.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))
