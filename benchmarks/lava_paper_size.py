"""The paper-size presets on Lava's CPU backend: build time, steps/s, memory, where the time goes.

For each model (data-initialised on random input, exported, then run on ``--samples`` random
samples with ``ds2ta-run-cpu``'s runner, fixed_pt, no per-layer recording) it prints:

- the build time (export, file read, Lava graph) and the Lava processes;
- steps/s of the run (compiling the graph excluded: the first sample is run once first);
- the machine's used memory (``MemTotal - MemAvailable`` from ``/proc/meminfo``, so every Lava
  process and the shared memory between them count once) before the run and at its peak, and the
  peak RSS of this process;
- CPU seconds per Lava process (``time.process_time`` in each worker), summed per process kind
  and the top layers: where the time goes. With ``--check`` the run records every layer and
  compares it with PyTorch (slower).

    .venv/bin/python benchmarks/lava_paper_size.py                       # all three presets
    .venv/bin/python benchmarks/lava_paper_size.py --models ds2ta:vit-4-384 --samples 4
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from lava.magma.core.model.py.model import PyLoihiProcessModel

from lava_ds2ta import create_model
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.export import export_model
from lava_ds2ta.export import input_levels
from lava_ds2ta.export import layer_indices
from lava_ds2ta.export import read_network
from lava_ds2ta.export import record_layers
from lava_ds2ta.init import data_init

MODELS = ("ds2ta:vit-4-384", "spikformer:vit-4-384", "ds2ta:vit-2-256")


def used_memory() -> int:
    """Bytes in use on the machine: ``MemTotal - MemAvailable``."""
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return 1024 * (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0]))


class PeakMemory:
    """Samples :func:`used_memory` every 0.1 s in a thread; ``peak`` after ``stop``."""

    def __init__(self) -> None:
        self.base = self.peak = used_memory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, used_memory())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak - self.base


def time_workers(folder: Path) -> None:
    """Make every Lava worker write its CPU seconds (``model_id class seconds``) to ``folder``
    every few steps (the workers are forked after this patch, so they inherit it)."""
    spike = PyLoihiProcessModel._spike

    def timed(self):
        spike(self)
        if self.time_step % 4 == 0:
            line = f"{self.model_id} {type(self).__name__} {time.process_time():.4f}\n"
            (folder / f"{self.model_id}.txt").write_text(line)

    PyLoihiProcessModel._spike = timed


def worker_seconds(folder: Path, names: dict[int, str]) -> list[tuple[str, str, float]]:
    rows = []
    for path in folder.glob("*.txt"):
        model_id, kind, seconds = path.read_text().split()
        rows.append((names.get(int(model_id), model_id), kind, float(seconds)))
    return sorted(rows, key=lambda r: -r[2])


def inputs(model, n: int) -> torch.Tensor:
    c = model.config
    if c.input_levels == 1:  # event frames
        shape = (n, c.in_channels, c.img_size, c.img_size, c.time_steps)
        return (torch.rand(shape) < 0.04).float() * torch.randint(1, 3, shape)
    return torch.rand(n, c.in_channels, c.img_size, c.img_size)


def bench(name: str, preset: str, samples: int, check: bool, tmp: Path) -> dict:
    torch.manual_seed(0)
    model = create_model(name, preset=preset)
    data_init(model, inputs(model, 4))
    model.eval()
    x = inputs(model, samples)
    t0 = time.perf_counter()
    spec = read_network(export_model(model, tmp / f"{name}_{preset}.net"))
    export_s = time.perf_counter() - t0
    frames = x if x.dim() == 5 else x.unsqueeze(-1).expand(*x.shape, model.config.time_steps)
    levels = input_levels(spec, frames.numpy())
    folder = Path(tempfile.mkdtemp(dir=tmp))
    time_workers(folder)
    built: dict = {}

    def on_build(net) -> None:
        built["build_s"] = time.perf_counter() - t1
        built["processes"] = len(net.processes)
        built["names"] = {p.id: p.name for p in net.processes}

    memory = PeakMemory()
    t1 = time.perf_counter()
    result = run_network(spec, levels, record=check, on_build=on_build)
    extra = memory.stop()
    row = {
        "model": f"{name} {preset}",
        "neurons": sum(layer.size for layer in spec.layers[1:-1]),
        "export_s": export_s,
        "build_s": built["build_s"],
        "processes": built["processes"],
        "steps": result.num_steps,
        "steps_per_s": result.steps_per_second,
        "used_memory_increase_gib": extra / 2**30,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "synapse_memory_mib": sum(result.memory.values()) / 2**20,
        "workers": worker_seconds(folder, built["names"]),
    }
    if check:
        ref, index = record_layers(model, x), layer_indices(model)
        row["exact_layers"] = sum(
            bool(np.array_equal(result.spikes[index[k]], v)) for k, v in ref.items()
            if index[k] in result.spikes
        )  # fmt: skip
        row["recorded_layers"] = len(result.spikes)
    return row


def report(row: dict) -> None:
    print(
        f"{row['model']:<22} {row['neurons']:>10,d} neurons  {row['processes']:>3} processes  "
        f"build {row['build_s']:5.1f} s (export {row['export_s']:.1f} s)  "
        f"{row['steps_per_s']:5.2f} steps/s  used memory +{row['used_memory_increase_gib']:.2f} "
        f"GiB  peak RSS (this process) {row['peak_rss_gib']:.2f} GiB  "
        f"synapses {row['synapse_memory_mib']:.1f} MiB"
    )
    if "exact_layers" in row:
        print(f"  every layer exact: {row['exact_layers']}/{row['recorded_layers']}")
    kinds: dict[str, float] = defaultdict(float)
    for _, kind, seconds in row["workers"]:
        kinds[kind] += seconds
    total = sum(kinds.values())
    print(f"  CPU seconds in Lava workers: {total:.1f} (per step {total / row['steps']:.3f})")
    for kind, seconds in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"    {kind:<28} {seconds:7.1f} s  {100 * seconds / total:5.1f} %")
    print("  busiest processes: " + ", ".join(f"{n} {s:.1f} s" for n, _, s in row["workers"][:6]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="name:preset ...")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="record and compare every layer")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.models:
            name, preset = item.split(":")
            rows.append(bench(name, preset, args.samples, args.check, Path(tmp)))
            report(rows[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
