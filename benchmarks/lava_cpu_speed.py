"""Lava CPU speed of our deployment, each figure a ratio to a reference run in the same process.

All runs use Lava's CPU backend in fixed point, samples streamed back to back with resets every
``T`` steps, no per-layer recording; the first step (compiling the graph, starting the workers)
is excluded from the timed steps.

1. **tiny ds2ta, shared-weight vs unrolled**: the tiny ``ds2ta`` (8 AdamW steps on ``digits``, so
   that it has activity) on N digits test samples, built with Lava's ``Conv`` (our default) and
   with every convolution unrolled into a dense matrix (the form before shared-weight synapses).
2. **netx conv chain**: a lava-dl SLAYER chain ``Input -> Conv 3x3 (3->16) -> Conv 3x3 stride 2
   (16->32) -> Conv 3x3 stride 2 (32->32) -> Flatten -> Dense (->10)`` on 3x32x32 input, written
   with ``export_hdf5`` and run by lava-dl's own ``netx.hdf5.Network`` and by our builder (same
   file, same random input); their output spikes are compared too.
3. **netx dense chain**: ``Input -> Dense 784->512->512->10`` (lava-dl's mnist shape), both ways.

    .venv/bin/python benchmarks/lava_cpu_speed.py --samples 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from lava.lib.dl import netx
from lava.lib.dl import slayer
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc import io

from lava_ds2ta import create_model
from lava_ds2ta.data import build_datasets
from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.export import export_model
from lava_ds2ta.export import read_network
from lava_ds2ta.init import data_init
from lava_ds2ta.training.optim import param_groups

NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}


def tiny_ds2ta(tmp: Path, steps: int = 8) -> Path:
    torch.manual_seed(0)
    model = create_model("ds2ta", preset="tiny")
    train, _, _ = build_datasets("digits")
    x = torch.stack([torch.as_tensor(train[i][0]) for i in range(256)]).float()
    y = torch.tensor([int(train[i][1]) for i in range(256)])
    data_init(model, x[:32])
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-3)
    for step in range(steps):
        idx = torch.arange(step * 32, step * 32 + 32) % 256
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return export_model(model.eval(), tmp / "tiny_ds2ta.net")


def slayer_chain(blocks: list, x: torch.Tensor, path: Path) -> Path:
    """Export SLAYER ``blocks`` (after a forward pass on ``x``, which fixes their shapes)."""
    with torch.no_grad():
        for block in blocks:
            x = block(x)
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(group.create_group(str(i)))
    return path


def conv_chain(tmp: Path) -> Path:
    torch.manual_seed(0)
    blocks = [
        slayer.block.cuba.Input(NEURON, weight=1, bias=0),
        slayer.block.cuba.Conv(NEURON, 3, 16, 3, padding=1, weight_scale=3, weight_norm=False),
        slayer.block.cuba.Conv(NEURON, 16, 32, 3, stride=2, padding=1, weight_scale=3,
                               weight_norm=False),  # fmt: skip
        slayer.block.cuba.Conv(NEURON, 32, 32, 3, stride=2, padding=1, weight_scale=3,
                               weight_norm=False),  # fmt: skip
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 32 * 8 * 8, 10, weight_scale=3, weight_norm=False),
    ]
    return slayer_chain(blocks, (torch.rand(1, 3, 32, 32, 4) < 0.3).float(), tmp / "conv.net")


def dense_chain(tmp: Path) -> Path:
    torch.manual_seed(0)
    dims = [784, 512, 512, 10]
    blocks = [slayer.block.cuba.Input(NEURON, weight=1, bias=0)] + [
        slayer.block.cuba.Dense(NEURON, a, b, weight_scale=2, weight_norm=False)
        for a, b in zip(dims[:-1], dims[1:], strict=True)
    ]
    return slayer_chain(blocks, (torch.rand(1, 784, 4) < 0.2).float(), tmp / "dense.net")


def run_netx(path: Path, x: np.ndarray, t: int) -> tuple[float, int, np.ndarray]:
    """lava-dl's netx on ``x`` (``N, C, H, W, T``): (seconds after the first step, timed steps,
    last layer spikes ``(neurons, N*T)``), the input fed to the input neuron as netx's tutorials
    do (``a_in`` of the input layer, its ``weight`` applied)."""
    n = x.shape[0]
    net = netx.hdf5.Network(net_config=str(path), reset_interval=t)
    try:
        first = net.net_config["layer"][0]
        weight = int(np.asarray(first["weight"]).reshape(-1)[0]) if "weight" in first.keys() else 64
        data = to_frames(weight * x)
        depth = len(net.layers) - 1
        data = np.concatenate([data, np.zeros((data.shape[0], depth))], axis=1)
        source = io.source.RingBuffer(data=data.reshape(*net.in_layer.neuron.a_in.shape, -1)
                                      .astype(np.int32))  # fmt: skip
        source.s_out.connect(net.in_layer.neuron.a_in)
        sink = io.sink.RingBuffer(shape=net.layers[-1].out.shape, buffer=data.shape[1])
        net.layers[-1].out.connect(sink.a_in)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        try:
            net.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
            start = time.perf_counter()
            net.run(condition=RunSteps(num_steps=data.shape[1] - 1), run_cfg=cfg)
            seconds = time.perf_counter() - start
            out = sink.data.get()
        finally:
            net.stop()
    finally:
        net.net_config.f.close()
    return seconds, data.shape[1] - 1, out[..., depth : depth + n * t]


def run_ours(path: Path, x: np.ndarray, t: int, synapses: str = "conv"):
    spec = read_network(path)
    spec.config["timeSteps"] = t
    result = run_network(spec, x, "fixed_pt", synapses=synapses)
    return result.seconds, result.num_steps - 1, result


def line(name: str, seconds: float, steps: int, ref: float | None = None) -> float:
    rate = steps / seconds
    ratio = f"  ratio {rate / ref:6.3f}" if ref else "  (reference)"
    print(f"  {name:<34} {steps:5d} steps {seconds:7.2f} s {rate:8.1f} steps/s{ratio}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = 4
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tiny_ds2ta(tmp)
        spec = read_network(path)
        levels = load_test_inputs(spec, "digits", args.samples)[0]["levels"]
        print(f"1. tiny ds2ta, {args.samples} digits test samples, T={t}")
        unrolled = run_ours(path, levels, t, "unrolled")
        ref = line("unrolled dense matrices", *unrolled[:2])
        line("shared-weight Conv (default)", *run_ours(path, levels, t)[:2], ref)

        x = (rng.random((args.samples // 4 or 1, 3, 32, 32, t)) < 0.3).astype(np.int64)
        print(f"2. netx conv chain 3x32x32 -> 16 -> 32 -> 32 -> 10, {len(x)} samples")
        conv = conv_chain(tmp)
        n_sec, n_steps, n_out = run_netx(conv, x, t)
        ref = line("lava-dl netx (Lava's Conv models)", n_sec, n_steps)
        ours = run_ours(conv, x, t)
        line("ours (same file)", *ours[:2], ref)
        counts = n_out.reshape(n_out.shape[0], len(x), t).sum(-1).T
        print(f"  last-layer spike counts equal: {np.array_equal(counts, ours[2].logits)}")

        x = (rng.random((args.samples, 784, 1, 1, t)) < 0.2).astype(np.int64)
        print(f"3. netx dense chain 784 -> 512 -> 512 -> 10, {len(x)} samples")
        dense = dense_chain(tmp)
        n_sec, n_steps, _ = run_netx(dense, x, t)
        ref = line("lava-dl netx", n_sec, n_steps)
        line("ours (same file)", *run_ours(dense, x, t)[:2], ref)


if __name__ == "__main__":
    main()
