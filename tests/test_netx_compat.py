"""Plain lava-dl netx files through our deploy path equal lava-dl's own netx, spike for spike.

Both runs use ``Loihi2SimCfg(select_tag='fixed_pt')``. netx is fed the way its tests and
tutorials do (``a_in`` of the input neuron) with its input layer's affine transform applied:
``a_in = weight * x``, ``bias_mant = bias``; outputs are compared step by step (same alignment:
the last of ``L`` layers sees frame ``k`` at Lava step ``k + L``).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("lava.lib.dl.netx")

from lava.lib.dl import netx  # noqa: E402
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc import io  # noqa: E402

from lava_ds2ta.deploy.builder import NetworkBuilder  # noqa: E402
from lava_ds2ta.deploy.runner import run_network  # noqa: E402
from lava_ds2ta.deploy.runner import to_frames  # noqa: E402
from lava_ds2ta.errors import FormatError  # noqa: E402
from lava_ds2ta.export.reader import read_network  # noqa: E402

NETX_TESTS = Path(netx.__file__).resolve().parents[5] / "tests" / "lava" / "lib" / "dl" / "netx"
if not NETX_TESTS.is_dir():  # site-packages/lava/lib/dl/netx -> site-packages/tests/...
    NETX_TESTS = Path(netx.__file__).resolve().parents[4] / "tests" / "lava" / "lib" / "dl" / "netx"


def _to_slayer(out: np.ndarray, n: int, t: int) -> np.ndarray:
    """Lava ``W, H, C`` (or ``C,``) x ``N*T`` -> SLAYER ``N, C, H, W, T``."""
    if out.ndim == 2:
        return out.reshape(-1, n, t).transpose(1, 0, 2).reshape(n, -1, 1, 1, t)
    wo, ho, co = out.shape[:3]
    return out.reshape(wo, ho, co, n, t).transpose(3, 2, 1, 0, 4)


def run_netx(path: Path, x_levels: np.ndarray, reset_interval: int) -> dict[int, np.ndarray]:
    """lava-dl's own netx on ``x_levels`` ``(N, C, H, W, T)``: every block's spikes
    ``{file layer index: (N, C, H, W, T)}``, aligned like ``run_network``."""
    n, c, h, w, t = x_levels.shape
    net = netx.hdf5.Network(net_config=str(path), reset_interval=reset_interval)
    try:
        layers = net.net_config["layer"]
        first = layers[0]
        weight = int(first["weight"]) if "weight" in first.keys() else 64
        bias = int(first["bias"]) if "bias" in first.keys() else 0
        index = [i for i in range(len(layers)) if layers[i]["type"] != "flatten"]
        # SLAYER N, C, H, W, T -> Lava W, H, C, N*T (samples back to back)
        data = x_levels.transpose(0, 4, 3, 2, 1).reshape(n * t, w, h, c)
        data = (weight * data).transpose(1, 2, 3, 0).reshape(*net.in_layer.neuron.a_in.shape, -1)
        depth = len(net.layers) - 1
        num_steps = n * t + depth
        data = np.concatenate([data, np.zeros((*data.shape[:-1], depth))], axis=-1)
        source = io.source.RingBuffer(data=data.astype(np.int32))
        source.s_out.connect(net.in_layer.neuron.a_in)
        sinks = []
        for block in net.layers:
            sinks.append(io.sink.RingBuffer(shape=block.out.shape, buffer=num_steps))
            block.out.connect(sinks[-1].a_in)
        net.in_layer.neuron.bias_mant.init = np.full(net.in_layer.neuron.bias_mant.shape, bias)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        try:
            net.run(condition=RunSteps(num_steps=num_steps), run_cfg=cfg)
            outs = [sink.data.get() for sink in sinks]
        finally:
            net.stop()
    finally:
        net.net_config.f.close()
    return {index[p]: _to_slayer(out[..., p : p + n * t], n, t) for p, out in enumerate(outs)}


def compare(path: Path, x_levels: np.ndarray, t: int) -> dict[int, np.ndarray]:
    """Run both, assert every layer's spikes and the logits (last-layer counts) are equal."""
    spec = read_network(path)
    spec.config["timeSteps"] = t
    ours = run_network(spec, x_levels, "fixed_pt", record=True)
    ref = run_netx(path, x_levels, t)
    assert sorted(ours.spikes) == sorted(ref)
    for i, r in ref.items():
        np.testing.assert_array_equal(ours.spikes[i].reshape(r.shape), r, err_msg=f"layer {i}")
    last = ref[max(ref)]
    np.testing.assert_array_equal(ours.logits, last.reshape(len(last), -1, t).sum(-1))
    assert all(r.sum() > 0 for i, r in ref.items() if i < max(ref)), "needs activity"
    return ref


def test_tiny_conv_net_equals_netx() -> None:
    """tiny.net (input 3x16x16, two 5x5 conv layers) with its ground-truth input + a random one."""
    rng = np.random.default_rng(0)
    gt = np.load(NETX_TESTS / "gts" / "tinynet" / "input.npy").astype(np.int64)  # 1,3,16,16,16
    x = np.concatenate([gt, (rng.random(gt.shape) < 0.3).astype(np.int64)])
    compare(NETX_TESTS / "tiny.net", x, t=gt.shape[-1])


def test_mnist_dense_net_equals_netx() -> None:
    """mnist.net (784-512-512-10 dense, last layer with netx's default neuron), 2 samples."""
    rng = np.random.default_rng(1)
    t = 8
    x = (rng.random((2, 784, 1, 1, t)) < 0.2).astype(np.int64)
    compare(NETX_TESTS / "mnist.net", x, t)


def test_unsupported_layer_raises(tmp_path: Path) -> None:
    """ntidigits.net ends in an 'average' layer: a one-line FormatError names it."""
    spec = read_network(NETX_TESTS / "gts" / "ntidigits" / "ntidigits.net")
    with pytest.raises(FormatError, match=r"layer 5 \(average\).*'average'"):
        frames = to_frames(np.zeros((1, 1, 1, 64, 4), dtype=np.int64))
        NetworkBuilder(spec, frames, tmp_path).build()


def test_pool_layer_raises(tmp_path: Path) -> None:
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        g = layer.create_group("0")
        g["type"], g["shape"] = np.bytes_("input"), np.array([1, 4, 4])
        g = layer.create_group("1")
        g["type"], g["shape"] = np.bytes_("pool"), np.array([1, 2, 2])
    with pytest.raises(FormatError, match=r"layer 1 \(pool\)"):
        NetworkBuilder(read_network(path), np.zeros((16, 4), dtype=np.int64), tmp_path).build()


def test_dense_rec_chain_equals_netx(tmp_path: Path) -> None:
    """A SLAYER ``Input -> Dense -> Recurrent`` chain exported with lava-dl's ``export_hdf5``."""
    import torch
    from lava.lib.dl import slayer

    params = {"threshold": 0.5, "current_decay": 0.5, "voltage_decay": 0.2, "requires_grad": False}
    blocks = [
        slayer.block.cuba.Input(params, weight=1.0, bias=0.1),
        slayer.block.cuba.Dense(params, 12, 10, weight_scale=2),
        slayer.block.cuba.Recurrent(params, 10, 6, weight_scale=2),
    ]
    x = (torch.rand(1, 12, 8) < 0.3).float()
    with torch.no_grad():
        for block in blocks:  # fixes the input block's shape for export
            x = block(x)
    path = tmp_path / "rec.net"
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(group.create_group(str(i)))
    assert read_network(path).layers[2].type == "dense_rec"
    rng = np.random.default_rng(2)
    t = 10
    ref = compare(path, (rng.random((3, 12, 1, 1, t)) < 0.4).astype(np.int64), t)
    assert ref[2].sum() > 0
