"""``ds2ta-report``: operations, sparsity and energy measured from a deployed network.

    ds2ta-report model.net --data digits [--samples N] [--compare other.net]
                 [--checkpoint CKPT] [--compare-checkpoint CKPT] [--source lava|reference]
                 [--sample I] [--time-step T] [--output-dir DIR] [--data-root DIR]

Runs the test split through Lava (``fixed_pt``, every neuron layer recorded) and counts every
layer's operations on the spikes that occurred (:mod:`lava_ds2ta.report.counter`); checks the
counts and attention maps against a second source (the PyTorch model of ``--checkpoint``, else
the integer reference); prints DS2TA's Table 3 (attention-map sparsity and energy per block, the
networks side by side) and the per-layer operations and energy, and writes
``<stem>.ops.json``, ``<stem>.ops.png`` and the attention maps of Fig. 3
(``<stem>.attention.png``). Exit codes: 0 ok, 2 user error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.layers.attention import AttentionLayer
from lava_ds2ta.report.counter import count_layers
from lava_ds2ta.report.counter import summarize
from lava_ds2ta.report.energy import CONVENTIONS
from lava_ds2ta.report.observe import Observed
from lava_ds2ta.report.observe import observe_lava
from lava_ds2ta.report.observe import observe_reference
from lava_ds2ta.report.observe import observe_torch
from lava_ds2ta.report.plots import plot_attention
from lava_ds2ta.report.plots import plot_report
from lava_ds2ta.report.text import format_report
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ds2ta-report", description=__doc__.split("\n")[0])
    p.add_argument("network", help="exported network (ds2ta-export CHECKPOINT -o model.net)")
    p.add_argument("--data", default="digits", help="data set whose test split is streamed")
    p.add_argument("--data-root", help="folder holding the real data sets (default ./data)")
    p.add_argument("--samples", type=int, default=None, help="first N test samples (default all)")
    p.add_argument("--compare", help="a second network (e.g. Spikformer next to DS2TA)")
    p.add_argument("--checkpoint", help="the network's PyTorch checkpoint: cross-check and "
                   "attention maps from PyTorch (default: the integer reference)")  # fmt: skip
    p.add_argument("--compare-checkpoint", help="the PyTorch checkpoint of --compare")
    p.add_argument("--source", choices=("lava", "reference"), default="lava",
                   help="count the Lava run (default) or the integer reference")  # fmt: skip
    p.add_argument("--sample", type=int, default=0, help="sample of the attention maps")
    p.add_argument("--time-step", type=int, default=0, help="time step of the attention maps")
    p.add_argument("--output-dir", help="folder of the JSON and PNGs (default: the network's)")
    p.add_argument("--no-progress", action="store_true")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(lambda: print(run(args)["summary"]), args.debug)


def _observe(spec, inputs: dict[str, Any], checkpoint, args) -> tuple[Observed, Observed | None]:
    """The counted source and the one it is checked against (``None``: nothing to check)."""
    levels = inputs["levels"]
    if args.source == "lava":
        progress = not args.no_progress and sys.stderr.isatty()
        main_obs = observe_lava(spec, levels, progress)
    else:
        main_obs = observe_reference(spec, levels)
    if checkpoint:
        return main_obs, observe_torch(spec, inputs, checkpoint)
    return main_obs, observe_reference(spec, levels) if args.source == "lava" else None


def _figure_data(spec, inputs, observed: list[Observed], args) -> dict[str, Any]:
    """One sample and time step of every source's maps (``heads x tokens x tokens``), the NSAD
    tables and the input image (``C, H, W``)."""
    n, t = len(inputs["levels"]), spec.time_steps or 1
    if not (0 <= args.sample < n and 0 <= args.time_step < t):
        raise InputError(
            f"--sample {args.sample} / --time-step {args.time_step} outside the {n} samples and "
            f"{t} time steps run"
        )
    image = inputs["float"][args.sample].numpy()
    return {
        "maps": [{i: m[args.sample, :, args.time_step] for i, m in o.maps.items()}
                 for o in observed],  # fmt: skip
        "labels": [o.source for o in observed],
        "tables": {i: AttentionLayer.tables(spec.layers[i]) for i in observed[0].maps},
        "image": image.mean(axis=-1) if image.ndim == 4 else image,
    }


def analyse(path: str, checkpoint: str | None, args) -> tuple[dict[str, Any], dict[str, Any]]:
    """One network's report (JSON-ready) and the data of its attention figure."""
    spec = read_network(path)
    inputs, labels = load_test_inputs(spec, args.data, args.samples, args.data_root)
    main_obs, cross = _observe(spec, inputs, checkpoint, args)
    n = len(labels)
    counts = count_layers(spec, main_obs.outputs)
    net: dict[str, Any] = {
        "network": str(path),
        "model": spec.config.get("name", Path(path).stem),
        "source": main_obs.source,
        "data": args.data,
        "samples": n,
        "time_steps": spec.time_steps,
        "accuracy": float((main_obs.logits.argmax(axis=1) == labels).mean()),
        **summarize(spec, counts, n),
    }
    observed = [main_obs]
    if cross is not None:
        same_maps = all(np.array_equal(m, cross.maps[i]) for i, m in main_obs.maps.items())
        net["cross_check"] = {
            "source": cross.source,
            "counts_identical": [c.ops for c in counts]
            == [c.ops for c in count_layers(spec, cross.outputs)],
            "maps_identical": same_maps and main_obs.maps.keys() == cross.maps.keys(),
        }
        observed.append(cross)
    return net, _figure_data(spec, inputs, observed, args)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Analyse the network (and ``--compare``), print, and write the JSON and the PNGs."""
    if args.compare_checkpoint and not args.compare:
        raise InputError("--compare-checkpoint needs --compare OTHER.net")
    jobs = [(args.network, args.checkpoint)]
    if args.compare:
        jobs.append((args.compare, args.compare_checkpoint))
    results = [analyse(path, ckpt, args) for path, ckpt in jobs]
    nets = [net for net, _ in results]
    if len({net["model"] for net in nets}) < len(nets):
        for net in nets:
            net["model"] = f"{net['model']} ({Path(net['network']).stem})"
    out_dir = Path(args.output_dir) if args.output_dir else Path(args.network).parent
    stem = Path(args.network).stem
    files = {"json": out_dir / f"{stem}.ops.json", "ops_png": out_dir / f"{stem}.ops.png"}
    for i, (net, fig) in enumerate(results):
        if fig["maps"][0]:
            png = out_dir / f"{stem}.{'compare-' if i else ''}attention.png"
            plot_attention(**fig, path=png, title=f"{net['model']}: attention maps A, sample "
                           f"{args.sample}, time step {args.time_step}")  # fmt: skip
            files[f"attention_png_{i}"] = png
    plot_report(nets, files["ops_png"])
    report = {"conventions": CONVENTIONS, "networks": nets,
              "files": {k: str(v) for k, v in files.items()}}  # fmt: skip
    write_text_atomic(files["json"], json.dumps(report, indent=2))
    report["summary"] = format_report(nets, report["files"])
    return report


if __name__ == "__main__":
    sys.exit(main())
