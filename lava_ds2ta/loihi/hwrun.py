"""``ds2ta-loihi run`` on Loihi 2 hardware through Intel's lava-loihi (INRC only).

Written against lava-loihi's public API as lava-dl's notebooks use it
(``lava.utils.loihi.use_slurm_host``, ``Loihi2HwCfg(callback_fxs=...)``,
``lava.utils.loihi2_profiler``); NOT run here: lava-loihi is not public (docs/loihi2.md).
Import it only after ``lava.utils.loihi.is_installed()`` returned True.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2HwCfg
from lava.utils import loihi

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.deploy.runner import from_lava
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.loihi.hardware import HardwareBuilder
from lava_ds2ta.utils.atomic import write_text_atomic

#: What ``--profile`` accepts -> the lava-loihi profiler class (``lava.utils.loihi2_profiler``).
PROFILERS = {"power": "Loihi2Power", "time": "Loihi2ExecutionTime", "memory": "Loihi2Memory",
             "activity": "Loihi2Activity"}  # fmt: skip


def _profilers(names: str, steps: int) -> dict[str, Any]:
    from lava.utils import loihi2_profiler as prof  # lava-loihi only

    out = {}
    for name in filter(None, (n.strip() for n in names.split(","))):
        if name not in PROFILERS:
            raise InputError(f"--profile {name!r} is not one of {', '.join(PROFILERS)}")
        cls = getattr(prof, PROFILERS[name])
        out[name] = cls(num_steps=steps) if name == "power" else cls()
    return out


def run_on_loihi(args: argparse.Namespace) -> int:
    """Stream the samples through the hardware-form graph on Loihi 2 (one compile, LIFReset
    neurons; the TASA relays are not cleared between samples on hardware: see docs)."""
    loihi.use_slurm_host(partition=args.partition, board=args.board,
                         loihi_gen=getattr(loihi.ChipGeneration, args.loihi_gen))  # fmt: skip
    spec = read_network(args.network)
    x, y = load_test_inputs(spec, args.data, args.samples, args.data_root)
    n, _, _, _, t = x["levels"].shape
    frames = to_frames(x["levels"])
    with LavaSession(samples=n, period=t) as session:
        net = HardwareBuilder(spec, frames, session.workdir, period=t).build()
        profilers = _profilers(args.profile, net.num_steps)
        cfg = Loihi2HwCfg(callback_fxs=list(profilers.values()))
        net.source.run(condition=RunSteps(num_steps=net.num_steps), run_cfg=cfg)
        out = np.load(net.output)[:, net.output_latency : net.output_latency + n * t]
        net.source.stop()
    logits = from_lava(out, net.output_shape, n, t).reshape(n, -1, t).sum(-1)
    logits = logits + t * net.step_bias[None, :]
    report: dict[str, Any] = {"accuracy": float((logits.argmax(1) == y).mean()), "samples": n}
    for name, p in profilers.items():
        report[name] = {k: np.asarray(v).tolist() for k, v in vars(p).items()
                        if isinstance(v, (int, float, list, np.ndarray))}  # fmt: skip
    path = Path(args.report or Path(args.network).with_suffix(".loihi.json"))
    write_text_atomic(path, json.dumps(report, indent=2))
    print(f"Loihi 2: accuracy {100 * report['accuracy']:.2f} % on {n} samples; report {path}")
    return 0
