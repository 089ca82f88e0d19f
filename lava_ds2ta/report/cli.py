"""``ds2ta-report``: operations, sparsity and energy measured from a deployed network.

    ds2ta-report model.net --data digits [--samples N] [--compare other.net]
                 [--checkpoint CKPT] [--compare-checkpoint CKPT] [--source lava|reference]
                 [--sample I] [--time-step T] [-o REPORT.json] [--data-root DIR]

Runs the test split through Lava (``fixed_pt``, every neuron layer recorded) and counts every
layer's operations on the spikes that occurred (:mod:`lava_ds2ta.report.counter`); checks the
counts and attention maps against the integer reference of the file and, with ``--checkpoint``,
the PyTorch eval model; prints DS2TA's Table 3 (attention-map sparsity and energy per block, the
networks side by side) and the per-layer operations and energy, and writes the JSON report
(default ``<network>.ops.json`` next to the network), ``<prefix>.ops.png`` and the attention
maps of Fig. 3 (``<prefix>.attention.png``, ``<prefix>.compare-attention.png``), ``<prefix>``
being the report path without ``.json`` and ``.ops``. Every output path is checked before any
work (never an input file). Exit codes: 0 ok, 2 user error, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.match import load_matching_model
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers.attention import AttentionLayer
from lava_ds2ta.report.counter import count_layers
from lava_ds2ta.report.counter import summarize
from lava_ds2ta.report.energy import conventions
from lava_ds2ta.report.observe import Observed
from lava_ds2ta.report.observe import observe_lava
from lava_ds2ta.report.observe import observe_reference
from lava_ds2ta.report.observe import observe_torch
from lava_ds2ta.report.plots import plot_attention
from lava_ds2ta.report.plots import plot_report
from lava_ds2ta.report.text import format_report
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import int_at_least
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.paths import check_output


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="ds2ta-report", description=__doc__.split("\n")[0])
    p.add_argument("network", help="exported network (ds2ta-export CHECKPOINT -o model.net)")
    p.add_argument("--data", default="digits", help="data set whose test split is streamed")
    p.add_argument("--data-root", help="folder holding the real data sets (default ./data)")
    p.add_argument("--samples", type=int_at_least(1), help="first N test samples (default all)")
    p.add_argument("--compare", help="a second network, reported next to the first (Table 3)")
    p.add_argument("--checkpoint", help="the network's PyTorch checkpoint: cross-check with "
                   "PyTorch and its attention maps next to Lava's")  # fmt: skip
    p.add_argument("--compare-checkpoint", help="the PyTorch checkpoint of --compare")
    p.add_argument("--source", choices=("lava", "reference"), default="lava",
                   help="count the Lava run (default) or the integer reference")  # fmt: skip
    p.add_argument("--sample", type=int_at_least(0), default=0,
                   help="test sample of the attention maps (default 0)")  # fmt: skip
    p.add_argument("--time-step", type=int_at_least(0), default=0,
                   help="time step of the attention maps (default 0, as Fig. 3 of DS2TA)")
    p.add_argument("-o", "--output", help="JSON report path (default: <network>.ops.json next "
                   "to the network); the PNGs go next to it")  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: print(run(args)["summary"]), args.debug)


def output_files(args: argparse.Namespace) -> dict[str, Path]:
    """The files the report writes, each checked (never an input, writable) before any work."""
    report = Path(args.output) if args.output else Path(args.network).with_suffix(".ops.json")
    prefix = report.with_suffix("") if report.suffix == ".json" else report
    prefix = prefix.with_suffix("") if prefix.suffix == ".ops" else prefix
    files = {"json": report, "ops_png": Path(f"{prefix}.ops.png"),
             "attention_png": Path(f"{prefix}.attention.png")}  # fmt: skip
    if args.compare:
        files["compare_attention_png"] = Path(f"{prefix}.compare-attention.png")
    inputs = [args.network, args.compare, args.checkpoint, args.compare_checkpoint]
    what = "-o" if args.output else "the report"
    for path in files.values():
        check_output(path, what, inputs)
    return files


@dataclass
class Job:
    """One network to report: its file, the PyTorch model it was exported from (or ``None``),
    and the test inputs (:func:`~lava_ds2ta.deploy.compare.load_test_inputs`) and labels."""

    path: str
    spec: NetworkSpec
    model: nn.Module | None
    inputs: dict[str, Any]
    labels: np.ndarray


def prepare(path: str, checkpoint: str | None, args: argparse.Namespace) -> Job:
    """Read the network, its checkpoint and the data; check ``--sample`` and ``--time-step``
    against them (all before any Lava run)."""
    spec = read_network(path)
    model = load_matching_model(checkpoint, spec) if checkpoint else None
    steps = spec.time_steps or 1
    if args.time_step >= steps:
        raise InputError(
            f"--time-step {args.time_step} is outside the {steps} time steps of {path}"
        )
    if args.samples is not None and args.sample >= args.samples:
        raise InputError(f"--sample {args.sample} is outside the {args.samples} samples run "
                         f"(--samples {args.samples})")  # fmt: skip
    inputs, labels = load_test_inputs(spec, args.data, args.samples, args.data_root)
    if args.sample >= len(labels):
        raise InputError(f"--sample {args.sample} is outside the {len(labels)} {args.data} test "
                         "samples")  # fmt: skip
    return Job(path, spec, model, inputs, labels)


def _observe(job: Job, args: argparse.Namespace) -> list[Observed]:
    """The counted source first, then those it is checked against: the integer reference (for
    a Lava run) and the PyTorch model (with a checkpoint)."""
    levels = job.inputs["levels"]
    if args.source == "lava":
        progress = not args.no_progress and sys.stderr.isatty()
        sources = [observe_lava(job.spec, levels, progress), observe_reference(job.spec, levels)]
    else:
        sources = [observe_reference(job.spec, levels)]
    if job.model is not None:
        sources.append(observe_torch(job.spec, job.inputs, job.model))
    return sources


def _figure_data(job: Job, observed: list[Observed], args) -> dict[str, Any]:
    """One sample and time step of the counted source's and the last cross-check's maps
    (``heads x tokens x tokens``, PyTorch when given), the NSAD tables and the input image
    (``C, H, W``; the first frame of an event clip)."""
    shown = [observed[0], observed[-1]] if len(observed) > 1 else observed
    image = job.inputs["float"][args.sample].numpy()
    return {
        "maps": [{i: m[args.sample, :, args.time_step] for i, m in o.maps.items()}
                 for o in shown],  # fmt: skip
        "labels": [o.source for o in shown],
        "tables": {i: AttentionLayer.tables(job.spec.layers[i]) for i in observed[0].maps},
        "image": image[..., 0] if image.ndim == 4 else image,
    }


def analyse(job: Job, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """One network's report (JSON-ready) and the data of its attention figure."""
    observed = _observe(job, args)
    counted = observed[0]
    n = len(job.labels)
    counts = count_layers(job.spec, counted.outputs)
    checks = []
    for other in observed[1:]:
        same_maps = counted.maps.keys() == other.maps.keys() and all(
            np.array_equal(m, other.maps[i]) for i, m in counted.maps.items()
        )
        checks.append({
            "source": other.source,
            "counts_identical": [c.ops for c in counts]
            == [c.ops for c in count_layers(job.spec, other.outputs)],
            "maps_identical": same_maps,
            "logits_identical": bool(np.array_equal(counted.logits, other.logits)),
        })  # fmt: skip
    net: dict[str, Any] = {
        "network": str(job.path),
        "model": job.spec.config.get("name", Path(job.path).stem),
        "source": counted.source,
        "data": args.data,
        "samples": n,
        "time_steps": job.spec.time_steps,
        "accuracy": float((counted.logits.argmax(axis=1) == job.labels).mean()),
        "cross_checks": checks,
        **summarize(job.spec, counts, n),
    }
    return net, _figure_data(job, observed, args)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Analyse the network (and ``--compare``), print, and write the JSON and the PNGs."""
    if args.compare_checkpoint and not args.compare:
        raise InputError("--compare-checkpoint needs --compare OTHER.net")
    files = output_files(args)
    jobs = [prepare(args.network, args.checkpoint, args)]
    if args.compare:
        jobs.append(prepare(args.compare, args.compare_checkpoint, args))
    results = [analyse(job, args) for job in jobs]
    nets = [net for net, _ in results]
    if len({net["model"] for net in nets}) < len(nets):
        for net in nets:
            net["model"] = f"{net['model']} ({Path(net['network']).stem})"
    written = {"json": files["json"], "ops_png": files["ops_png"]}
    for key, (net, fig) in zip(("attention_png", "compare_attention_png"), results, strict=False):
        if fig["maps"][0]:
            plot_attention(**fig, path=files[key], title=f"{net['model']}: attention maps A, "
                           f"sample {args.sample}, time step {args.time_step}")  # fmt: skip
            written[key] = files[key]
    plot_report(nets, files["ops_png"])
    report = {"conventions": conventions(), "networks": nets,
              "files": {k: str(v) for k, v in written.items()}}  # fmt: skip
    write_text_atomic(files["json"], json.dumps(report, indent=2))
    report["summary"] = format_report(nets, report["files"])
    return report


if __name__ == "__main__":
    sys.exit(main())
