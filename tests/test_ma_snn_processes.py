"""MA-SNN's Lava process (:class:`GatedLIF`) against the numpy integer reference, exactly, on
random integer currents: each gate alone, all three, pooling and bias, several samples streamed
back to back (the neuron and the TA buffer start anew with each sample)."""

from __future__ import annotations

import numpy as np
import pytest
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer

from lava_ds2ta.deploy.runner import from_lava
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.gate.reference import avg_pool
from lava_ds2ta.gate.reference import gated_lif
from lava_ds2ta.proc.gate.process import GatedLIF
from lava_ds2ta.proc.source.process import FrameSource

T, N, C, H, W = 5, 3, 6, 4, 4
V_DECAY, VTH = 2048, 24


def _weights(rng, *shape):
    """Even 8-bit mantissas, large enough that every gate varies."""
    return 2 * rng.integers(-127, 128, size=shape)


def _gates(rng, dims: str):
    ta = (_weights(rng, 2, T), _weights(rng, T, 2)) if "T" in dims else None
    ca = (_weights(rng, 3, C), _weights(rng, C, 3)) if "C" in dims else None
    sa = _weights(rng, 1, 2, 3, 3) if "S" in dims else None
    return ta, ca, sa


def run_gated(a: np.ndarray, pool: int, bias: np.ndarray, gates, tag: str = "fixed_pt"):
    """Stream ``a`` (``N, C, H, W, T`` currents, weight units) through a ``GatedLIF``; return its
    spikes ``N, C, H', W', T`` (time aligned: TA's ``T`` steps of latency removed)."""
    n, c, h, w, t = a.shape
    ta, ca, sa = gates
    frames = to_frames(a)  # Lava's W, H, C order
    latency = t if ta is not None else 0
    steps = n * t + latency
    src = FrameSource(frames=frames if tag == "fixed_pt" else frames.astype(float))
    proc = GatedLIF(input_shape=(w, h, c), pool=pool, bias=bias, v_decay=V_DECAY, vth=VTH,
                    ta=ta, ca=ca, sa=sa, reset_interval=t, reset_offset=1)  # fmt: skip
    src.s_out.connect(proc.a_in)
    sink = RingBuffer(shape=proc.s_out.shape, buffer=steps)
    proc.s_out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=tag))
        out = sink.data.get()
    finally:
        src.stop()
    out = np.rint(out[:, latency:]).astype(np.int64)
    return from_lava(out, (c, h // pool, w // pool), n, t)


@pytest.mark.parametrize("dims", ["T", "C", "S", "TCS"])
def test_gated_lif_process_equals_the_reference(dims):
    rng = np.random.default_rng(len(dims) + ord(dims[0]))
    pool = 2 if dims == "TCS" else 1
    a = rng.integers(-40, 120, size=(N, C, H * pool, W * pool, T))
    bias = rng.integers(-20, 20, size=C)
    gates = _gates(rng, dims)
    x = avg_pool(W_SCALE * a, pool) + W_SCALE * bias[None, :, None, None, None]
    want = gated_lif(x, V_DECAY, W_SCALE * VTH, *gates)
    assert 0.05 < want.mean() < 0.95, "spikes must vary for the test to mean anything"
    got = run_gated(a, pool, bias, gates)
    np.testing.assert_array_equal(got, want)
    if "T" in dims:  # the gates act: without them the spikes differ
        assert not np.array_equal(gated_lif(x, V_DECAY, W_SCALE * VTH), want)


def test_floating_point_model_runs_close_to_the_integers():
    rng = np.random.default_rng(7)
    a = rng.integers(-40, 120, size=(2, C, H * 2, W * 2, T))
    bias = rng.integers(-20, 20, size=C)
    gates = _gates(rng, "TCS")
    x = avg_pool(W_SCALE * a, 2) + W_SCALE * bias[None, :, None, None, None]
    want = gated_lif(x, V_DECAY, W_SCALE * VTH, *gates)
    got = run_gated(a / W_SCALE, 2, bias, gates, "floating_pt")
    assert got.shape == want.shape
    assert (got == want).mean() > 0.9
