"""``ds2ta-export CHECKPOINT -o model.net``: export a training checkpoint to a network file.

Prints one summary line (layers, LIF neurons, file size). ``--verify N`` also simulates the file
on the first N test samples of the checkpoint's data set and compares every layer and the
logits with the PyTorch eval model. Errors print ``error: ...`` on stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.record import layer_indices
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.simulate import input_levels
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.models import load_model
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import int_at_least
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.paths import check_output


def summary(path: Path) -> str:
    spec = read_network(path)
    neurons = sum(layer.size for layer in spec.layers if REGISTRY[layer.type].has_neuron)
    c = spec.config
    return (
        f"wrote {path}: {len(spec.layers)} layers, {neurons:,d} neurons, "
        f"{path.stat().st_size / 1024:.1f} KiB ({c.get('name')} {c.get('preset')}, "
        f"T={c.get('time_steps')}, format v{spec.version})"
    )


def verify(model, path: Path, data: str, n: int) -> str:
    """Compare the file's numpy simulation with the PyTorch model on ``n`` test samples."""
    _, test, _ = build_datasets(data)
    x = torch.stack([test[i][0] for i in range(min(n, len(test)))])
    spec = read_network(path)
    logits, spikes = simulate(spec, input_levels(spec, x.numpy()))
    idx = layer_indices(model)
    for name, ref in record_layers(model, x).items():
        got = spikes[idx[name]]
        if not np.array_equal(ref, got):
            where = tuple(int(i) for i in np.argwhere(ref != got)[0])
            raise Ds2taError(
                f"verify: layer {idx[name]} ({name}) differs from PyTorch at "
                f"(sample, c, h, w, t) = {where}"
            )
    with torch.no_grad():
        y = model(x).double().numpy()
    scale = spec.logit_scale
    if not np.allclose(logits, y * scale, rtol=0, atol=1e-6 * scale):
        raise Ds2taError("verify: readout logits differ from PyTorch")
    agree = int((logits.argmax(1) == y.argmax(1)).sum())
    return f"verified {len(x)} {data} test samples: every layer bit-exact, argmax {agree}/{len(x)}"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="ds2ta-export", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="training checkpoint (.pt)")
    parser.add_argument("-o", "--output", type=Path, help="network file (default: CKPT.net)")
    parser.add_argument("--verify", type=int_at_least(0), default=0, metavar="N",
                        help="check bit-exactness on N test samples")  # fmt: skip
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    return run_command(lambda: export(args), args.debug, kept=lambda: _kept(args))


def _kept(args: argparse.Namespace) -> str:
    """What an interrupted export leaves: nothing (the write is atomic), or the network."""
    written = getattr(args, "written", None)
    if written:
        return f"{written} was written; the verification did not finish"
    return "no network written"


def export(args: argparse.Namespace) -> None:
    out = args.output or args.checkpoint.with_suffix(".net")
    model, state = load_model(args.checkpoint)
    check_output(out, "-o" if args.output else "output (CHECKPOINT.net)", [args.checkpoint])
    export_model(model, out)
    args.written = out
    print(summary(out))
    if args.verify > 0:
        data = (state.get("config") or {}).get("data", {}).get("name", "digits")
        print(verify(model, out, data, args.verify))


if __name__ == "__main__":
    sys.exit(main())
