"""Unit tests of our Lava processes, each in both precisions, against formulas written out here.

Outputs are read with Lava's own ``RingBuffer`` sink (independent of our ``Recorder``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv.process import Conv
from lava.proc.io.sink import RingBuffer

from lava_ds2ta.proc.add.process import AlignedSum
from lava_ds2ta.proc.attention.process import SpikingAttention
from lava_ds2ta.proc.conv.models import FAST_MODELS
from lava_ds2ta.proc.delay.process import SpikeDelay
from lava_ds2ta.proc.recorder.process import Recorder
from lava_ds2ta.proc.source.process import FrameSource
from lava_ds2ta.proc.tasa.process import TASAConv

TAGS = ["fixed_pt", "floating_pt"]
STEPS = 12


def _frames(rng, n: int, tag: str, graded: bool = True) -> np.ndarray:
    f = rng.integers(0, 4 if graded else 2, (n, STEPS))
    return f if tag == "fixed_pt" else f.astype(np.float64)


def _run(sources: list[np.ndarray], make, n_out: int, tag: str) -> np.ndarray:
    """Feed ``sources`` (``(n, STEPS)`` each) to ``make(*ports)``; ``a_out`` per step."""
    srcs = [FrameSource(frames=f) for f in sources]
    proc = make(*[s.s_out for s in srcs])
    sink = RingBuffer(shape=(n_out,), buffer=STEPS)
    out = proc.a_out if hasattr(proc, "a_out") else proc.s_out
    out.flatten().connect(sink.a_in)
    try:
        srcs[0].run(condition=RunSteps(num_steps=STEPS), run_cfg=Loihi2SimCfg(select_tag=tag))
        return sink.data.get()
    finally:
        srcs[0].stop()


def _wire(proc, *pairs):
    for port, in_port in pairs:
        port.connect(in_port)
    return proc


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("delay", [1, 3])
def test_spike_delay_shifts_by_whole_steps(tag, delay):
    x = _frames(np.random.default_rng(delay), 5, tag)

    def make(s):
        d = SpikeDelay(shape=(5,), delay=delay)
        return _wire(d, (s, d.s_in))

    got = _run([x], make, 5, tag)
    want = np.zeros_like(x)
    want[:, delay:] = x[:, :-delay]
    np.testing.assert_array_equal(got, want)


def test_spike_delay_refuses_zero_delay():
    with pytest.raises(ValueError, match="delay must be >= 1"):
        SpikeDelay(shape=(2,), delay=0)


@pytest.mark.parametrize("tag", TAGS)
def test_frame_source_sends_frame_k_at_step_k_plus_1_then_zeros(tag):
    x = _frames(np.random.default_rng(0), 4, tag)[:, : STEPS - 3]
    src = FrameSource(frames=x)
    sink = RingBuffer(shape=(4,), buffer=STEPS)
    src.s_out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=STEPS), run_cfg=Loihi2SimCfg(select_tag=tag))
        got = sink.data.get()
    finally:
        src.stop()
    np.testing.assert_array_equal(got[:, : STEPS - 3], x)
    assert not got[:, STEPS - 3 :].any()


@pytest.mark.parametrize("tag", TAGS)
def test_recorder_writes_every_step_into_its_file(tag, tmp_path: Path):
    x = _frames(np.random.default_rng(1), 6, tag)
    path = tmp_path / "rec.npy"
    dtype = np.int32 if tag == "fixed_pt" else np.float64
    steps = STEPS - 2  # steps beyond the file are dropped
    np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(6, steps))
    src = FrameSource(frames=x)
    rec = Recorder(shape=(6,), steps=steps, path=str(path))
    src.s_out.connect(rec.a_in)
    try:
        src.run(condition=RunSteps(num_steps=STEPS), run_cfg=Loihi2SimCfg(select_tag=tag))
    finally:
        src.stop()
    np.testing.assert_array_equal(np.load(path), x[:, :steps])


def _tasa_reference(w: np.ndarray, s: np.ndarray, tau: int, window: int, fixed: bool):
    """``a[t+1] = sum_m shift(W s[t-m], tau m)``, history cleared every ``T = 4`` steps."""
    c = (w @ s).astype(np.int64 if fixed else np.float64)
    a = np.zeros_like(c)
    for t in range(STEPS - 1):
        start = t - t % 4  # the sample this step belongs to
        for m in range(window):
            if t - m >= start:
                tap = c[:, t - m]
                a[:, t + 1] += (tap >> (tau * m)) if fixed else tap * 2.0 ** (-tau * m)
    return a


@pytest.mark.parametrize("tag", TAGS)
def test_tasa_dense_taps_and_reset(tag):
    rng = np.random.default_rng(2)
    fixed = tag == "fixed_pt"
    w = rng.integers(-128, 127, (3, 5)) * 2
    x = _frames(rng, 5, tag)

    def make(s):  # a 1x1 map of 5 channels: the convolution is the matrix product w @ s
        lava_w = w[:, None, None, :]
        tasa = TASAConv(weight=lava_w if fixed else lava_w / 1.0, input_shape=(1, 1, 5), tau=2,
                        window=3, reset_interval=4, reset_offset=1)  # fmt: skip
        s.reshape((1, 1, 5)).connect(tasa.s_in)
        return tasa

    got = _run([x], make, 3, tag)
    want = _tasa_reference(w, x, 2, 3, fixed)
    if fixed:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert not np.array_equal(np.floor(got), got)  # real taps, no truncation


def _attention_reference(q, k, v, heads, d, tables, shift, fixed):
    out = []
    for t in range(q.shape[1]):
        # flat W, H, C vectors: token-major, channel h d + c fastest
        qh, kh, vh = (z[:, t].reshape(-1, heads, d) for z in (q, k, v))
        s = np.einsum("ihc,jhc->hij", qh, kh).astype(np.int64)
        a = np.stack([tables[h][s[h]] for h in range(heads)]) if tables is not None else s
        av = np.einsum("hij,jhc->ihc", a, vh).reshape(-1)
        out.append(av * 2 ** (6 - shift) if fixed else av * 2.0**-shift)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("nsad", [False, True])
def test_spiking_attention_products_lookup_and_shift(tag, nsad):
    rng = np.random.default_rng(3)
    heads, d, tokens = 2, 3, 4
    n = heads * d * tokens
    q, k, v = (_frames(rng, n, tag, graded=False) for _ in range(3))
    tables = rng.integers(-5, 9, (heads, d + 1)) if nsad else None

    def make(qo, ko, vo):
        att = SpikingAttention(num_heads=heads, head_dim=d, tokens=tokens, tables=tables,
                               scale_shift=3)  # fmt: skip
        return _wire(att, (qo, att.q_in), (ko, att.k_in), (vo, att.v_in))

    got = _run([q, k, v], make, n, tag)
    want = _attention_reference(q, k, v, heads, d, tables, 3, tag == "fixed_pt")
    np.testing.assert_array_equal(got, want)  # exact in both: powers of two


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("delay", [0, 2])
def test_aligned_sum_delays_the_first_input(tag, delay):
    rng = np.random.default_rng(4 + delay)
    a, b = _frames(rng, 6, tag), _frames(rng, 6, tag)

    def make(ao, bo):
        s = AlignedSum(shape=(6,), delay=delay)
        return _wire(s, (ao, s.a_in), (bo, s.b_in))

    got = _run([a, b], make, 6, tag)
    want = b.copy()
    want[:, delay:] += a[:, : STEPS - delay]
    np.testing.assert_array_equal(got, want)


CONV_CASES = [  # (X, Y, C, O, kX, kY, stride, padding, dilation, groups)
    (6, 5, 4, 6, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (8, 7, 4, 8, 3, 2, (2, 1), (1, 0), (1, 2), 2),
    (6, 6, 4, 4, 3, 3, (2, 2), (1, 1), (1, 1), 4),  # depthwise, as the spike max-pool
    (4, 4, 6, 5, 1, 1, (1, 1), (0, 0), (1, 1), 1),  # a token-wise projection
]


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_fast_conv_models_equal_lavas_own(tag, case):
    """Our BLAS models of Lava's ``Conv`` compute what Lava's own models compute (graded input,
    24 message bits), step for step."""
    x_, y_, c, o, kx, ky, stride, padding, dilation, groups = case
    rng = np.random.default_rng(sum(case[:6]))
    weight = rng.integers(-128, 128, (o, kx, ky, c // groups)) * 2
    frames = _frames(rng, x_ * y_ * c, tag)
    outs = []
    for models in (None, FAST_MODELS[tag]):
        src = FrameSource(frames=frames)
        conv = Conv(weight=weight if tag == "fixed_pt" else weight / 64.0, input_shape=(x_, y_, c),
                    stride=stride, padding=padding, dilation=dilation, groups=groups,
                    num_message_bits=24)  # fmt: skip
        src.s_out.reshape((x_, y_, c)).connect(conv.s_in)
        sink = RingBuffer(shape=(int(np.prod(conv.a_out.shape)),), buffer=STEPS)
        conv.a_out.flatten().connect(sink.a_in)
        cfg = Loihi2SimCfg(select_tag=tag, exception_proc_model_map=models or {})
        try:
            src.run(condition=RunSteps(num_steps=STEPS), run_cfg=cfg)
            outs.append(sink.data.get())
        finally:
            src.stop()
    lava, ours = outs
    assert np.abs(lava).max() > 0
    if tag == "fixed_pt":
        np.testing.assert_array_equal(ours, lava)
    else:
        np.testing.assert_allclose(ours, lava, rtol=1e-12, atol=1e-9)
