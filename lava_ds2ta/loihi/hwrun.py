"""``ds2ta-loihi run`` on Loihi 2 hardware through Intel's lava-loihi (INRC only).

Written against lava-loihi's public API as lava-dl's notebooks use it
(``lava.utils.loihi.use_slurm_host``, ``Loihi2HwCfg(callback_fxs=...)``,
``lava.utils.loihi2_profiler``); NOT run on hardware: lava-loihi is not public. The graph is the
one ``run --sim`` proves bit-exact on ``Loihi2SimCfg``; a test runs this function with
lava-loihi's API faked and ``Loihi2SimCfg`` in place of ``Loihi2HwCfg`` (docs/loihi2.md).
Import it only after ``lava.utils.loihi.is_installed()`` returned True.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from lava.magma.core.run_configs import Loihi2HwCfg
from lava.utils import loihi

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.deploy.runner import read_results
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.loihi.hardware import build_padded
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
    """Run the samples through the hardware-form graph on Loihi 2: the same padded-period graph
    as ``run --sim`` (:func:`~lava_ds2ta.loihi.hardware.build_padded`: one compile, samples
    ``T + latency`` steps apart, isolated by the graph's own resets), read back each sample's
    ``T`` steps, and write the accuracy, the logits and the profilers' figures as JSON."""
    loihi.use_slurm_host(partition=args.partition, board=args.board,
                         loihi_gen=getattr(loihi.ChipGeneration, args.loihi_gen))  # fmt: skip
    spec = read_network(args.network)
    x, y = load_test_inputs(spec, args.data, args.samples, args.data_root)
    n, _, _, _, t = x["levels"].shape
    with LavaSession(samples=n, period=t) as session:
        net, period = build_padded(spec, x["levels"], session.workdir)
        session.period = period  # a sample takes a whole period (for the interrupt line)
        profilers = _profilers(args.profile, net.num_steps)
        cfg = Loihi2HwCfg(callback_fxs=list(profilers.values()))
        ran = False
        try:
            session.run(net.source, net.num_steps, cfg)
            logits, _ = read_results(net, n, t, period)
            ran = True
        finally:
            session.stop(failed=not ran)
    predictions = logits.argmax(1)
    report: dict[str, Any] = {
        "accuracy": float((predictions == y).mean()), "samples": n, "period": period,
        "steps": net.num_steps, "predictions": predictions.tolist(), "logits": logits.tolist(),
    }  # fmt: skip
    for name, p in profilers.items():
        report[name] = {k: np.asarray(v).tolist() for k, v in vars(p).items()
                        if isinstance(v, (int, float, list, np.ndarray))}  # fmt: skip
    path = Path(args.report or Path(args.network).with_suffix(".loihi.json"))
    write_text_atomic(path, json.dumps(report, indent=2))
    print(f"Loihi 2: accuracy {100 * report['accuracy']:.2f} % on {n} samples "
          f"({period} steps each); report {path}")  # fmt: skip
    return 0
