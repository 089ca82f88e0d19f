"""``ds2ta-ablation``: train several variants of one config on the same seeds, then tabulate
accuracy (mean and spread over the seeds) and NASAR in the form of MA-SNN's Table 6.

    ds2ta-ablation --config train/configs/ma_snn_dvs_digits.yaml --seeds 0 1 2 \\
        [--variants none TA CA SA TCA TSA CSA TCSA] [--output-dir runs/ma_snn_ablation] \\
        [--set optim.epochs=5] [--no-progress]
    ds2ta-ablation --config train/configs/ds2ta_digits.yaml --variants ds2ta spikformer

Variants are MA-SNN attention variants (``model.attention``; vanilla ``none``) for an MA-SNN
config, and transformer variants (``model.name``: spikformer, ds2ta_nsad, ds2ta;
DS2TA's Table 4 ablation, spike change against ``spikformer``) for a Spikformer/DS2TA config.

Every run is a normal training run directory, ``<output-dir>/<variant>/seed<k>`` (``last.pt``,
``metrics.csv``, ...). A finished run is skipped and an interrupted one resumed, so the same
command continues where it stopped (a run whose recipe differs stops with a one-line error).
After training, each run's NASAR (:mod:`.spikes`) is measured on the test split with its
``last.pt`` and cached in ``spikes.json``. Accuracy is the final epoch's test accuracy (eval mode,
8-bit, no selection on the test set): mean and sample standard deviation over the seeds. The
table, ``ablation.json`` and ``ablation.png`` go to the output directory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from lava_ds2ta.block.ma import ATTENTIONS
from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.models import load_model
from lava_ds2ta.models.config import VARIANTS
from lava_ds2ta.training.checkpoint import check_resume_compatible
from lava_ds2ta.training.checkpoint import load_training_checkpoint
from lava_ds2ta.training.config import TrainConfig
from lava_ds2ta.training.config import apply_overrides
from lava_ds2ta.training.config import config_from_dict
from lava_ds2ta.training.config import read_yaml
from lava_ds2ta.training.loaders import dataset_options
from lava_ds2ta.training.model_factory import resolve_model_config
from lava_ds2ta.training.spikes import spike_stats
from lava_ds2ta.training.trainer import Trainer
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import int_at_least
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.device import select_device
from lava_ds2ta.utils.paths import check_output_dir
from lava_ds2ta.utils.plots import plot_ablation

#: The baseline each family's spike change is measured against (the first one present).
BASELINES = ("none", "spikformer")


def variant_key(raw: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The model key a variant sets and the variants known for the config's model family:
    ``model.name`` for Spikformer/DS2TA configs, ``model.attention`` for MA-SNN ones."""
    name = (raw.get("model") or {}).get("name")
    return ("name", tuple(VARIANTS)) if name in VARIANTS else ("attention", tuple(ATTENTIONS))


def run_config(raw: dict[str, Any], variant: str, seed: int, out: Path) -> TrainConfig:
    """The training config of one run: the variant (:func:`variant_key`), ``seed``, its folder."""
    key, known = variant_key(raw)
    if variant not in known:
        raise ConfigError(
            f"--variants: unknown variant {variant!r} for this config (known: {', '.join(known)})"
        )
    model = {**(raw.get("model") or {}), key: variant}
    run_dir = out / variant / f"seed{seed}"
    return config_from_dict({**raw, "model": model, "seed": seed, "output_dir": str(run_dir)})


def train_run(cfg: TrainConfig, progress: bool | None, log) -> None:
    """Train ``cfg`` into its folder unless it is finished there; resume an unfinished run."""
    last = Path(cfg.output_dir) / "last.pt"
    resume = last.is_file()
    if resume:
        state = load_training_checkpoint(last)
        check_resume_compatible(cfg.to_dict(), state["config"], last)
        if state["epoch"] >= cfg.optim.epochs:
            log(f"{cfg.output_dir}: finished ({state['epoch']} epochs), skipped")
            return
    log(f"{cfg.output_dir}: {'resuming' if resume else 'training'}")
    Trainer(cfg, resume=resume, progress=progress, log=log).fit()


def measure_run(cfg: TrainConfig, variant: str) -> dict[str, Any]:
    """Accuracy and spike statistics of a finished run (``spikes.json`` caches the latter)."""
    run_dir = Path(cfg.output_dir)
    state = load_training_checkpoint(run_dir / "last.pt")
    record = {"variant": variant, "seed": cfg.seed,
              "epochs": state["epoch"], "acc": state["history"][-1]["test_acc"],
              "best_acc": state["best_acc"]}  # fmt: skip
    cache = run_dir / "spikes.json"
    if cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("epochs") == state["epoch"]:
            return {**record, **cached}
    model, _ = load_model(run_dir / "last.pt")
    device = select_device(cfg.device)
    _, test_ds, _ = build_datasets(cfg.data.name, model=resolve_model_config(cfg.model),
                                   **dataset_options(cfg.data))  # fmt: skip
    stats = spike_stats(model.to(device), DataLoader(test_ds, cfg.data.eval_batch_size), device)
    spikes = {"epochs": state["epoch"], "nasar": stats.nasar, "layers": stats.rates()}
    write_text_atomic(cache, json.dumps(spikes, indent=1) + "\n")
    return {**record, **spikes}


def summarise(records: list[dict[str, Any]], variants: list[str]) -> list[dict[str, Any]]:
    """One row per variant: accuracy mean/std over seeds, NASAR mean, spike change vs vanilla."""
    rows = []
    for v in variants:
        accs = [r["acc"] for r in records if r["variant"] == v]
        nasar = statistics.fmean(r["nasar"] for r in records if r["variant"] == v)
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        rows.append({"variant": v, "seeds": len(accs), "acc_mean": statistics.fmean(accs),
                     "acc_std": std, "acc_min": min(accs), "acc_max": max(accs),
                     "nasar": nasar})  # fmt: skip
    base = next((r["nasar"] for b in BASELINES for r in rows if r["variant"] == b), None)
    for r in rows:
        r["spike_change"] = 100.0 * (r["nasar"] / base - 1.0) if base else None
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The paper's Table 6 layout: accuracy (mean +- sample std over seeds, and the range),
    NASAR, spikes against the baseline (vanilla MA-SNN or Spikformer)."""
    lines = [f"{'variant':<10} {'accuracy (%)':>16} {'range (%)':>15} {'seeds':>5} {'NASAR':>8} "
             f"{'spikes':>9}"]  # fmt: skip
    for r in rows:
        change = "" if r["spike_change"] is None else f"{r['spike_change']:+8.1f}%"
        span = f"{r['acc_min']:.2f}-{r['acc_max']:.2f}"
        lines.append(f"{r['variant']:<10} {r['acc_mean']:>8.2f} +- {r['acc_std']:<5.2f} "
                     f"{span:>15} {r['seeds']:>5d} {r['nasar']:>8.4f} {change:>9}")  # fmt: skip
    return "\n".join(lines)


def ablation(args: argparse.Namespace) -> None:
    raw = apply_overrides(read_yaml(args.config), args.overrides)
    out = check_output_dir(args.output_dir or raw.get("output_dir") or "runs/ablation",
                           "--output-dir")
    variants = args.variants or list(variant_key(raw)[1])
    runs = [(v, run_config(raw, v, s, out)) for v in variants for s in args.seeds]
    progress = False if args.no_progress else None
    for _, cfg in runs:
        train_run(cfg, progress, print)
    records = [measure_run(cfg, v) for v, cfg in runs]
    rows = summarise(records, variants)
    table = format_table(rows)
    print(f"\n{table}\n")
    report = {"config": str(args.config), "overrides": args.overrides, "seeds": args.seeds,
              "rows": rows, "runs": records}  # fmt: skip
    write_text_atomic(out / "ablation.json", json.dumps(report, indent=1) + "\n")
    plot_ablation(rows, out / "ablation.png", f"{Path(args.config).stem}, seeds {args.seeds}")
    print(f"wrote {out / 'ablation.json'} and {out / 'ablation.png'}")


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="ds2ta-ablation", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="YAML training config (MA-SNN or DS2TA)")
    p.add_argument("--seeds", type=int_at_least(0), nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--variants", nargs="+",
        help="MA-SNN attention variants (default: all 8) or transformer variants (default: "
        f"{' '.join(VARIANTS)})",
    )  # fmt: skip
    p.add_argument("--output-dir", help="folder of the runs (default: the config's output_dir)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for every run (repeatable)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="hide the per-batch progress bar")
    add_debug_flag(p)
    args = p.parse_args(argv)
    return run_command(lambda: ablation(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
