"""``ds2ta-loihi``: Loihi 2 checks, runs and INRC cloud bundles (docs/loihi2.md).

    ds2ta-loihi check model.net [--data digits --samples 4] [--json] [--neurons-per-core N]
                                [--synmem-units U] [--cores-per-chip C] [--time-steps T]
    ds2ta-loihi run model.net --data digits [--samples N] --sim [--checkpoint CKPT]
                                [--report r.json]
    ds2ta-loihi run model.net --data digits [--profile power,time,memory,activity]
                                [--partition P | --board B] [--loihi-gen N3B3]
    ds2ta-loihi bundle model.net --out bundle/ (or bundle.tar.gz) [--data digits --samples N]
    ds2ta-loihi submit bundle/ --host USER@HOST [--remote-dir DIR] [--identity KEY] [--port P]
                      [--ssh-option KEY=VALUE ...] [--remote-python PY] [--results DIR] [--dry-run]

``check`` exits 1 when the model breaks a Loihi 2 limit (each listed on one line). ``run --sim``
runs the hardware-form graph on ``Loihi2SimCfg`` and compares every layer with the integer
reference (with ``--checkpoint``: the PyTorch eval model); without ``--sim`` it needs Intel's
lava-loihi.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from lava.utils import loihi

from lava_ds2ta.deploy.compare import compare_with_torch
from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.match import load_matching_model
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.loihi.bundle import SshOptions
from lava_ds2ta.loihi.bundle import make_bundle
from lava_ds2ta.loihi.bundle import submit
from lava_ds2ta.loihi.check import check_network
from lava_ds2ta.loihi.check import format_table
from lava_ds2ta.loihi.hardware import graph_processes
from lava_ds2ta.loihi.hardware import run_hardware_form
from lava_ds2ta.loihi.hwrun import PROFILERS
from lava_ds2ta.loihi.hwrun import run_on_loihi
from lava_ds2ta.loihi.resources import Budget
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import int_at_least
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.paths import check_output

NO_LAVA_LOIHI = (
    "the Loihi 2 backend needs Intel's lava-loihi (INRC membership), which is not installed "
    "here; run the hardware form on the CPU with `ds2ta-loihi run {net} --sim`, or make a cloud "
    "bundle with `ds2ta-loihi bundle {net} --out bundle/` and run it on the INRC VM"
)


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="ds2ta-loihi", description=__doc__.split("\n")[0])
    add_debug_flag(p)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def data_args(q: argparse.ArgumentParser, samples: int | None) -> None:
        q.add_argument("--data", help="test split streamed (digits, dvs-digits, cifar10, ...)")
        q.add_argument("--data-root", help="folder of the real data sets (default ./data)")
        q.add_argument("--samples", type=int_at_least(1), default=samples,
                       help=f"first N test samples (default {samples or 'all'})")  # fmt: skip
        q.add_argument("--time-steps", type=int_at_least(1), help="steps per sample (netx)")

    c = sub.add_parser("check", help="Loihi 2 constraints and resource estimate")
    c.add_argument("network")
    data_args(c, 4)
    c.add_argument("--json", nargs="?", const="-", metavar="PATH",
                   help="JSON instead of the table (to PATH, or stdout)")  # fmt: skip
    c.add_argument("--neurons-per-core", type=int_at_least(1), default=4096)
    c.add_argument("--synmem-units", type=int_at_least(1), default=12000,
                   help="64-bit synaptic-memory words per core (default 12000)")  # fmt: skip
    c.add_argument("--axons-per-core", type=int_at_least(1), default=16000)
    c.add_argument("--cores-per-chip", type=int_at_least(1), default=120)
    c.add_argument("--skip-layers", type=int_at_least(0), default=0,
                   help="the first N layers run off the chip, by the host (netx's skip_layers)")

    r = sub.add_parser("run", help="run on Loihi 2 (or its hardware form with --sim)")
    r.add_argument("network")
    data_args(r, None)
    r.add_argument("--sim", action="store_true", help="hardware form on Loihi2SimCfg (CPU)")
    r.add_argument("--checkpoint", help="with --sim: PyTorch checkpoint to compare with "
                   "(default: the integer simulation of the file)")  # fmt: skip
    r.add_argument("--report", help="JSON report path (default: next to the network)")
    r.add_argument("--profile", default="", help=f"comma list of {', '.join(PROFILERS)}")
    r.add_argument("--partition", help="SLURM partition of the INRC cloud (e.g. oheogulch)")
    r.add_argument("--board", help="SLURM board of the INRC cloud")
    r.add_argument("--loihi-gen", default="N3B3", help="chip generation (default N3B3)")

    b = sub.add_parser("bundle", help="self-contained folder/tarball for the INRC cloud")
    b.add_argument("network")
    b.add_argument("--out", "-o", required=True, help="folder, or a .tar.gz file")
    b.add_argument("--data", default="digits")
    b.add_argument("--samples", type=int_at_least(1))
    b.add_argument("--loihi-gen", default="N3B3")
    b.add_argument("--partition", default="oheogulch")
    b.add_argument("--board")

    s = sub.add_parser("submit", help="copy a bundle to the INRC VM, run it, fetch results")
    s.add_argument("bundle")
    s.add_argument("--host", required=True, help="USER@HOST of the INRC VM")
    s.add_argument("--remote-dir", default="ds2ta_bundle",
                   help="folder on the host, relative to its home or absolute "
                        "(default ds2ta_bundle)")  # fmt: skip
    s.add_argument("--identity", "-i", metavar="KEY", help="private key file (ssh -i)")
    s.add_argument("--port", "-p", type=int_at_least(1), help="ssh port of the host (ssh -p)")
    s.add_argument("--ssh-option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="an ssh option (ssh -o), repeatable; also used by rsync")  # fmt: skip
    s.add_argument("--remote-python", metavar="PY",
                   help="Python on the host with the requirements installed, e.g. "
                        "venv/bin/python (default python3 on its PATH)")  # fmt: skip
    s.add_argument("--results", metavar="DIR",
                   help="local folder the run's results/ are fetched into "
                        "(default BUNDLE/results)")  # fmt: skip
    s.add_argument("--dry-run", action="store_true", help="print the commands only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"check": _check, "run": _run, "bundle": _bundle, "submit": _submit}
    return run_command(lambda: commands[args.command](args), args.debug)


def _spec(args: argparse.Namespace):
    spec = read_network(args.network)
    if getattr(args, "time_steps", None) is not None:
        spec.config["timeSteps"] = args.time_steps
    return spec


def _levels(spec, args: argparse.Namespace) -> tuple[dict[str, Any], np.ndarray]:
    return load_test_inputs(spec, args.data, args.samples, args.data_root)


def _check(args: argparse.Namespace) -> int:
    spec = _spec(args)
    if args.skip_layers >= len(spec.layers):
        raise InputError(f"--skip-layers {args.skip_layers}: {args.network} has only "
                         f"{len(spec.layers)} layers; skip fewer (1 leaves its input layer "
                         "to the host)")  # fmt: skip
    levels = _levels(spec, args)[0]["levels"] if args.data else None
    budget = Budget(args.neurons_per_core, args.synmem_units, args.axons_per_core,
                    args.cores_per_chip)  # fmt: skip
    report = check_network(spec, budget, levels, args.skip_layers)
    if args.json:
        text = json.dumps(report.as_dict(), indent=2)
        if args.json == "-":
            print(text)
        else:
            write_text_atomic(check_output(args.json, "--json", [args.network]), text)
            print(f"wrote {args.json}")
    else:
        print(format_table(report))
    return 1 if report.violations else 0


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise InputError("ds2ta-loihi run needs --data (e.g. --data digits)")
    if not args.sim:
        return _run_hardware(args)
    path = Path(args.report) if args.report else Path(args.network).with_suffix(".loihi.json")
    check_output(path, "--report", [args.network, args.checkpoint])
    spec = _spec(args)
    model = load_matching_model(args.checkpoint, spec) if args.checkpoint else None
    x, y = _levels(spec, args)
    sides: dict[str, list[str]] = {}
    result = run_hardware_form(spec, x["levels"], on_build=lambda net: sides.update(
        graph_processes(net.processes)))  # fmt: skip
    report = {"network": str(args.network), "data": args.data, "samples": int(len(y)),
              "backend": "Loihi2SimCfg fixed_pt, hardware form",
              "accuracy": float((result.predictions == y).mean()),
              "steps": result.num_steps, "seconds": result.seconds,
              "startup_seconds": result.startup_seconds,
              "steps_per_second": result.steps_per_second,
              "processes": {k: len(v) for k, v in sides.items()}, "graph": sides}  # fmt: skip
    report.update(compare_with_torch(spec, x, result, args.checkpoint, model))
    report["reference_accuracy"] = float((np.asarray(report["reference_predictions"]) == y).mean())
    exact = all(r["exact"] for r in report["layers"]) and report["logit_agreement"] == 1.0
    write_text_atomic(path, json.dumps(report, indent=2))
    print(f"hardware form on Loihi2SimCfg: {len(y)} {args.data} samples, accuracy "
          f"{100 * report['accuracy']:.2f} % (reference {100 * report['reference_accuracy']:.2f} "
          f"%), {result.num_steps} steps in {result.seconds:.1f} s "
          f"({result.steps_per_second:.1f} steps/s after the first), {len(sides['neuro'])} "
          f"neuro-core processes (Lava standard), {len(sides['host'])} host processes; every "
          f"layer {'bit-exact' if exact else 'NOT exact'} with the {report['reference']}; "
          f"report {path}")  # fmt: skip
    return 0 if exact else 1


def _run_hardware(args: argparse.Namespace) -> int:
    """Loihi2HwCfg through lava-loihi (INRC); one line when lava-loihi is absent."""
    if not loihi.is_installed():
        raise InputError(NO_LAVA_LOIHI.format(net=args.network))
    return run_on_loihi(args)  # needs lava-loihi (INRC): not run here


def _bundle(args: argparse.Namespace) -> int:
    read_network(args.network)  # a bad file fails here, not on the INRC VM
    out = make_bundle(Path(args.network), Path(args.out), args.data, args.samples,
                      args.loihi_gen, args.partition, args.board)  # fmt: skip
    print(f"bundle written to {out}: run `bash run_on_loihi.sh` on the INRC VM, or "
          f"`ds2ta-loihi submit {out} --host USER@HOST`")
    return 0


def _submit(args: argparse.Namespace) -> int:
    options = SshOptions(args.identity and Path(args.identity), args.port,
                         tuple(args.ssh_option))  # fmt: skip
    submit(Path(args.bundle), args.host, args.remote_dir, args.dry_run, options=options,
           results=args.results and Path(args.results), remote_python=args.remote_python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
