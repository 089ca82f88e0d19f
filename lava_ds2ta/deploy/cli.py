"""``ds2ta-run-cpu``: run an exported network on Lava's CPU backend (``Loihi2SimCfg``).

    ds2ta-run-cpu model.net --data digits [--samples N] [--tag fixed_pt|floating_pt]
                  [--checkpoint CKPT] [--report report.json] [--data-root DIR]
                  [--synapses conv|unrolled] [--max-memory GIB] [--no-spikes] [--time-steps T]

Before Lava starts, prints the synapse memory the graph allocates (and refuses a build over
``--max-memory``); then accuracy, agreement with the trained PyTorch model (eval mode), spikes per
layer and Lava steps per second, and writes a JSON report and a PNG. The report path and the
checkpoint (it must be the one the network was exported from) are checked before the Lava run
starts. Exit codes: 0 ok, 2 user error, 130/143 interrupted by SIGINT/SIGTERM (the run stops
within seconds and leaves no process, shared memory or temporary file; docs/deployment.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from lava_ds2ta.deploy.builder import SYNAPSES
from lava_ds2ta.deploy.compare import compare_with_torch
from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.runner import run_network
from lava_ds2ta.deploy.unroll import format_bytes
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.match import load_matching_model
from lava_ds2ta.export.reader import NetworkSpec
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import int_at_least
from lava_ds2ta.utils.cli import positive_float
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.paths import check_output
from lava_ds2ta.utils.plots import plot_layer_spikes


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="ds2ta-run-cpu", description=__doc__.split("\n")[0])
    p.add_argument("network", help="exported network (ds2ta-export CHECKPOINT -o model.net)")
    p.add_argument(
        "--data", default="digits",
        help="data set whose test split is streamed: digits, dvs-digits (embedded), cifar10, "
        "cifar100, dvsgesture, cifar10dvs (read from --data-root)",
    )  # fmt: skip
    p.add_argument("--data-root", help="folder holding the real data sets (default ./data)")
    p.add_argument("--samples", type=int_at_least(1), help="first N test samples (default all)")
    p.add_argument("--tag", choices=("fixed_pt", "floating_pt"), default="fixed_pt")
    p.add_argument(
        "--checkpoint",
        help="PyTorch checkpoint to compare with (default: the integer simulation of the file, "
        "which the tests prove equal to the PyTorch eval model)",
    )
    p.add_argument("--report", help="JSON report path (default: next to the network)")
    p.add_argument(
        "--no-spikes", action="store_true", help="do not record per-layer spikes (faster)"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--synapses", choices=SYNAPSES, default="conv",
        help="conv: Lava's shared-weight Conv (memory grows with the kernel; default); "
        "unrolled: dense matrices (memory grows with the image; small maps only)",
    )  # fmt: skip
    p.add_argument(
        "--max-memory", type=positive_float, default=None, metavar="GIB",
        help="refuse to build when the synapses would take more than GIB gibibytes",
    )  # fmt: skip
    p.add_argument(
        "--time-steps", type=int_at_least(1), help="steps per sample of a plain netx file"
    )
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: print(run(args)["summary"]), args.debug, kept=lambda: _kept(args))


def _kept(args: argparse.Namespace) -> str:
    """What an interrupted run leaves: nothing, or the report if it was written already."""
    written = getattr(args, "written", None)
    return f"report {written} written" if written else "no report written"


def _report_path(args: argparse.Namespace) -> Path:
    """The report path (checked, with its plot, before any work); never one of the inputs."""
    path = Path(args.report) if args.report else Path(args.network).with_suffix(".report.json")
    for out in (path, path.with_suffix(".png")):
        check_output(out, "--report", [args.network, args.checkpoint])
    return path


def _read(args: argparse.Namespace) -> tuple[NetworkSpec, nn.Module | None]:
    """The network (with ``--time-steps`` for a netx file) and the checkpoint's model, checked
    to be the one the network was exported from (``None`` without ``--checkpoint``)."""
    spec = read_network(args.network)
    if args.time_steps is not None:
        if spec.version > 0:
            raise InputError(
                f"--time-steps is for plain netx files; {args.network} has timeSteps "
                f"{spec.time_steps}: leave --time-steps out"
            )
        spec.config["timeSteps"] = args.time_steps
    model = load_matching_model(args.checkpoint, spec) if args.checkpoint else None
    return spec, model


def memory_line(spec, net) -> str:
    """The synapse memory the built network allocates, in total and its largest layer."""
    total = sum(net.memory.values())
    i = max(net.memory, key=net.memory.get)
    return (
        f"built {len(net.processes)} Lava processes: synapse memory {format_bytes(total)} "
        f"(largest: layer {i} {spec.layers[i].name}, {format_bytes(net.memory[i])})"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    path = _report_path(args)
    spec, model = _read(args)
    x, y = load_test_inputs(spec, args.data, args.samples, args.data_root)
    limit = None if args.max_memory is None else int(args.max_memory * 2**30)
    result = run_network(
        spec,
        x["levels"],
        args.tag,
        record=not args.no_spikes,
        progress=not args.no_progress and sys.stderr.isatty(),
        synapses=args.synapses,
        max_memory=limit,
        on_build=lambda net: print(memory_line(spec, net), flush=True),
    )
    pred = result.predictions
    report: dict[str, Any] = {
        "network": str(args.network),
        "data": args.data,
        "samples": int(len(y)),
        "tag": args.tag,
        "accuracy": float((pred == y).mean()),
        "lava_steps": result.num_steps,
        "lava_seconds": result.seconds,
        "lava_startup_seconds": result.startup_seconds,
        "steps_per_second": result.steps_per_second,
        "samples_per_second": result.steps_per_second / spec.time_steps,
        "processes": result.num_processes,
        "synapses": args.synapses,
        "synapse_memory_bytes": {spec.layers[i].name: b for i, b in result.memory.items()},
    }
    report.update(compare_with_torch(spec, x, result, args.checkpoint, model))
    report["reference_accuracy"] = float((np.asarray(report["reference_predictions"]) == y).mean())
    lines = [
        f"Lava {args.tag} on {len(y)} {args.data} test samples "
        f"({result.num_processes} processes, {result.num_steps} steps)"
    ]
    lines.append(
        f"  accuracy      Lava {100 * report['accuracy']:.2f} %   "
        f"reference {100 * report['reference_accuracy']:.2f} %   ({report['reference']})"
    )
    lines.append(
        f"  agreement     predictions {100 * report['prediction_agreement']:.2f} %   "
        f"logits exact {100 * report['logit_agreement']:.2f} %"
    )
    if result.spikes:
        lines.append("  spikes per sample, per layer (Lava | reference, exact match):")
        for row in report["layers"]:
            lines.append(
                f"    {row['index']:>3} {row['name']:<24} {row['lava_spikes']:>10.1f} | "
                f"{row['reference_spikes']:>10.1f}  {'yes' if row['exact'] else 'NO'}"
            )
    lines.append(
        f"  speed         {report['steps_per_second']:.1f} steps/s, "
        f"{report['samples_per_second']:.2f} samples/s"
    )
    report["summary"] = "\n".join(lines)
    write_text_atomic(path, json.dumps(report, indent=2))
    args.written = path
    report["summary"] += f"\n  report        {path}"
    if report["layers"]:
        png = path.with_suffix(".png")
        plot_layer_spikes(report["layers"], png, f"{Path(args.network).name}: Lava {args.tag}")
        report["summary"] += f"\n  plot          {png}"
    return report


if __name__ == "__main__":
    sys.exit(main())
