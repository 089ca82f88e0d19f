"""Each Lava process against its PyTorch counterpart, with exact equality (fixed_pt).

Small graphs are built by hand from :class:`LayerSpec` s and run through the deploy builder;
the references are the PyTorch blocks of the model in eval mode.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer

from lava_ds2ta.block import Readout
from lava_ds2ta.block import SpikingConv
from lava_ds2ta.block import SpikingSelfAttention
from lava_ds2ta.deploy.runner import from_lava
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.export.reader import LayerSpec
from lava_ds2ta.export.reader import NetworkSpec
from lava_ds2ta.fixed_point import synapse_weight_int
from lava_ds2ta.fixed_point import to_int
from lava_ds2ta.functional import spike_maxpool
from lava_ds2ta.proc.attention.process import SpikingAttention
from lava_ds2ta.proc.source.process import FrameSource
from lava_ds2ta.proc.tasa.process import TASAConv

T = 4
NEURON = dict(threshold=1.0, tau_m=2.0)


def run_process(sources: list[np.ndarray], make, steps: int, out_shape: int) -> np.ndarray:
    """Feed frame arrays ``(n, steps)`` into the process ``make(*out_ports)``; record a_out."""
    srcs = [FrameSource(frames=f) for f in sources]
    proc = make(*[s.s_out for s in srcs])
    sink = RingBuffer(shape=(out_shape,), buffer=steps)
    proc.a_out.flatten().connect(sink.a_in)
    try:
        srcs[0].run(
            condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt")
        )
        return np.rint(sink.data.get()).astype(np.int64)
    finally:
        srcs[0].stop()


def trained_conv(block: SpikingConv, x: torch.Tensor) -> SpikingConv:
    """Give the block non-trivial weights and a non-zero bias (running mean)."""
    with torch.no_grad():
        block.synapse.weight.uniform_(-0.6, 0.6)
    block.train()
    block(x)
    return block.eval()


def conv_layer(index: int, name: str, block: SpikingConv, inputs, shape, kind="conv", **extra):
    syn = block.synapse
    params = dict(
        inChannels=syn.in_channels,
        outChannels=syn.out_channels,
        kernelSize=syn.kernel_size[0],
        groups=1,
        weight=synapse_weight_int(syn),
        bias=np.rint(block.neuron.norm.bias.detach().numpy()).astype(np.int32),
        stride=1,
        padding=syn.padding[0],
        dilation=1,
        **extra,
    )
    return LayerSpec(index, name, kind, list(inputs), shape, params, block.neuron.device_params)


def readout_layer(index: int, head: Readout, inputs) -> LayerSpec:
    params = dict(weight=to_int(head.weight), bias=to_int(head.bias))
    return LayerSpec(index, "head", "readout", list(inputs), (head.weight.shape[0],), params, None)


def input_layer(shape) -> LayerSpec:
    return LayerSpec(0, "input", "input", [], shape, dict(timeSteps=T, inputLevels=1), None)


def spikes(n: int, c: int, h: int, w: int, p: float = 0.3) -> torch.Tensor:
    return (torch.rand(n, c, h, w, T) < p).float()


@pytest.mark.parametrize("graded", [False, True])
def test_tasa_process_equals_tasa_synapse(graded):
    block = SpikingConv(6, 5, 1, 0, NEURON, tasa_window=3, tau_init=2)
    x = spikes(3, 6, 2, 2)
    if graded:
        x = x * torch.randint(1, 4, x.shape)
    with torch.no_grad():
        block.synapse.weight.uniform_(-2, 2)
        expected = (block.synapse(x) * 64).round().long().numpy()  # N, C, H, W, T weight units
    # Lava's layout: (C_out, kX, kY, C_in), a true convolution (1x1 here: no flip to see).
    w = synapse_weight_int(block.synapse).transpose(0, 3, 2, 1)

    def wired_tasa(s_out):
        tasa = TASAConv(weight=w, input_shape=(2, 2, 6), tau=2, window=3, reset_interval=T,
                        reset_offset=1)  # fmt: skip
        s_out.reshape((2, 2, 6)).connect(tasa.s_in)
        return tasa

    rec = run_process([to_frames(x.long().numpy())], wired_tasa, 3 * T + 1, 20)
    got = from_lava(rec[:, 1 : 1 + 3 * T], (5, 2, 2), 3, T)  # Conv-like: output one step later
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("nsad", [False, True])
def test_attention_process_equals_spiking_attention(nsad):
    attn = SpikingSelfAttention(
        16, 2, NEURON, {**NEURON, "threshold": 0.5}, nsad_u_init=1.0 if nsad else None
    ).eval()
    if nsad:
        with torch.no_grad():
            attn.denoiser.b.fill_(-0.4)
            attn.denoiser.d.fill_(2.0)
            attn.denoiser.e.fill_(3.0)
        assert (attn.denoiser.tables() < 0).any()
    q, k, v = (spikes(2, 16, 3, 3, 0.5) for _ in range(3))
    with torch.no_grad():
        expected = (attn.attend(q, k, v) * 64).round().long().numpy()
    tables = attn.denoiser.tables().numpy() if nsad else None
    rec = run_process(
        [to_frames(t.long().numpy()) for t in (q, k, v)],
        lambda qo, ko, vo: _wired_attention(qo, ko, vo, tables),
        2 * T,
        16 * 9,
    )
    np.testing.assert_array_equal(from_lava(rec, (16, 3, 3), 2, T), expected)


def _wired_attention(q_out, k_out, v_out, tables):
    att = SpikingAttention(num_heads=2, head_dim=8, tokens=9, tables=tables, scale_shift=3)
    q_out.connect(att.q_in)
    k_out.connect(att.k_in)
    v_out.connect(att.v_in)
    return att


def test_maxpool_residual_sum_and_readout_equal_pytorch():
    """input -> conv -> spike max-pool -> conv2 ; add(pool, conv2) -> readout, all exact."""
    torch.manual_seed(3)
    x = spikes(5, 2, 6, 6, 0.4)
    conv = trained_conv(SpikingConv(2, 4, 3, 1, NEURON), x)
    with torch.no_grad():
        s1 = conv(x)
        pooled = spike_maxpool(s1)
    conv2 = trained_conv(SpikingConv(4, 4, 1, 0, NEURON), pooled)
    head = Readout(4, 3)
    with torch.no_grad():
        head.bias.uniform_(-1, 1)
        s2 = conv2(pooled)
        logits = head(pooled + s2)
    layers = [
        input_layer((2, 6, 6)),
        conv_layer(1, "conv", conv, [0], (4, 6, 6)),
        LayerSpec(
            2, "pool", "spikeMaxPool", [1], (4, 3, 3), dict(kernelSize=3, stride=2, padding=1), None
        ),
        conv_layer(3, "conv2", conv2, [2], (4, 3, 3)),
        LayerSpec(4, "add", "add", [2, 3], (4, 3, 3), {}, None),
        readout_layer(5, head, [4]),
    ]
    result = run_network(NetworkSpec(1, {}, layers), x.long().numpy(), record=True)
    np.testing.assert_array_equal(result.spikes[1], s1.long().numpy())
    np.testing.assert_array_equal(result.spikes[2], pooled.long().numpy())
    np.testing.assert_array_equal(result.spikes[3], s2.long().numpy())
    expected = np.rint((logits * 64 * 9 * T).double().numpy()).astype(np.int64)
    np.testing.assert_array_equal(result.logits, expected)
