"""Lava CPU speed of the tiny ``ds2ta`` deployed by our builder vs. a netx dense chain.

Both run in one process on Lava's CPU backend (``Loihi2SimCfg(select_tag='fixed_pt')``), the
same number of Lava steps each (``N * T`` + pipeline depth, samples streamed back to back with
resets every ``T`` steps). Compile time is excluded: each network first runs one warm-up step,
then only the remaining ``run()`` calls are timed.

* ours: ``create_model('ds2ta', preset='tiny')`` after 8 AdamW steps on random ``digits``
  batches (so it has activity), exported with ``export_model``, read with ``read_network`` and
  built by ``builder.NetworkBuilder`` for the first N ``digits`` test samples (levels from
  ``compare.load_test_inputs``), streamed in chunks as ``runner.run_network`` does;
* netx: a chain of lava-dl ``slayer.block.cuba.Dense`` layers whose sizes are the tiny model's
  spiking layer sizes in order (same total neuron count), written with ``export_hdf5`` into a
  netx file, loaded with ``netx.hdf5.Network(net_config=..., reset_interval=T)`` and fed the
  same number of steps of random 0/1 input (20 %) from a ``RingBuffer`` source.

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

SPIKING = ("conv", "tasa", "spikeMaxPool", "attention")


def trained_tiny_model(steps: int = 8) -> torch.nn.Module:
    from lava_ds2ta import create_model
    from lava_ds2ta.data import build_datasets
    from lava_ds2ta.init import data_init

    torch.manual_seed(0)
    model = create_model("ds2ta", preset="tiny")
    train, _, _ = build_datasets("digits")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(train), (32,)).tolist()
        xs, ys = zip(*(train[i] for i in idx), strict=True)
        x = torch.stack([torch.as_tensor(v) for v in xs]).float()
        y = torch.as_tensor([int(v) for v in ys])
        if not model.initialized:
            data_init(model, x)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def timed_run(proc, num_steps: int, chunk: int, cfg) -> float:
    """Run ``proc``'s network ``num_steps`` steps: 1 untimed warm-up step (compiles), then the
    rest in ``chunk``-step ``run()`` calls, timed. Always stopped."""
    from lava.magma.core.run_conditions import RunSteps

    try:
        proc.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        done, start = 1, time.perf_counter()
        while done < num_steps:
            steps = min(chunk, num_steps - done)
            proc.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            done += steps
        return time.perf_counter() - start
    finally:
        proc.stop()


def ours(samples: int, tmp: Path, cfg) -> tuple[int, float, list[int], int, int]:
    """(timed steps, seconds, spiking layer sizes, processes, T) of our deployed tiny ds2ta."""
    from lava_ds2ta.deploy.builder import NetworkBuilder
    from lava_ds2ta.deploy.compare import load_test_inputs
    from lava_ds2ta.deploy.runner import to_frames
    from lava_ds2ta.export.reader import read_network
    from lava_ds2ta.export.writer import export_model

    path = export_model(trained_tiny_model(), tmp / "tiny_ds2ta.net")
    spec = read_network(path)
    inputs, _ = load_test_inputs(spec, "digits", samples)
    levels = inputs["levels"]
    t = levels.shape[-1]
    sizes = [int(np.prod(layer.shape)) for layer in spec.layers if layer.type in SPIKING]
    net = NetworkBuilder(spec, to_frames(levels.astype(np.int64)), tmp, "fixed_pt").build()
    seconds = timed_run(net.source, net.num_steps, 20 * t, cfg)
    return net.num_steps - 1, seconds, sizes, len(net.processes), t


def netx_chain(sizes: list[int], n_in: int, num_steps: int, t: int, tmp: Path, cfg):
    """(timed steps, seconds, processes) of a netx chain of SLAYER CUBA Dense layers."""
    from lava.lib.dl import netx
    from lava.lib.dl import slayer
    from lava.proc import io

    params = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}
    dims = [n_in, *sizes]
    blocks = [
        slayer.block.cuba.Dense(params, a, b, weight_scale=2, weight_norm=False)
        for a, b in zip(dims[:-1], dims[1:], strict=True)
    ]
    x = (torch.rand(1, n_in, t) < 0.2).float()
    with torch.no_grad():
        for block in blocks:  # a forward pass fixes the neuron shapes that export writes
            x = block(x)
    path = tmp / "dense_chain.net"
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layer.create_group(str(i)))
    net = netx.hdf5.Network(net_config=str(path), reset_interval=t)
    try:
        rng = np.random.default_rng(0)
        data = (rng.random((n_in, num_steps + 1)) < 0.2).astype(np.int32)
        source = io.source.RingBuffer(data=data)
        source.s_out.connect(net.inp)
        seconds = timed_run(net, num_steps + 1, 20 * t, cfg)
    finally:
        net.net_config.f.close()
    return num_steps, seconds, 1 + 2 * len(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    from lava.magma.core.run_configs import Loihi2SimCfg

    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    with tempfile.TemporaryDirectory() as tmp:
        steps, sec, sizes, procs, t = ours(args.samples, Path(tmp), cfg)
        n_steps, n_sec, n_procs = netx_chain(sizes, 64, steps, t, Path(tmp), cfg)
    print(
        f"{args.samples} samples x T={t}; spiking layers {sizes} ({sum(sizes)} neurons); "
        "compile excluded"
    )
    print(f"{'network':<22} {'procs':>5} {'steps':>6} {'s':>7} {'steps/s':>8} {'samples/s':>9}")
    rows = (("ours (tiny ds2ta)", procs, steps, sec), ("netx dense chain", n_procs, n_steps, n_sec))
    rates = []
    for name, p, s, secs in rows:
        rates.append(s / secs)
        print(f"{name:<22} {p:5d} {s:6d} {secs:7.2f} {s / secs:8.1f} {s / secs / t:9.2f}")
    print(f"ratio ours/netx (steps/s): {rates[0] / rates[1]:.3f}")


if __name__ == "__main__":
    main()
