"""``ds2ta-train``: train a spiking transformer from a YAML config.

    ds2ta-train --config train/configs/ds2ta_digits.yaml [--resume] [--output-dir DIR]
                [--set optim.epochs=3 --set data.subset=64] [--overwrite] [--no-progress]
                [--data-root DIR] [--download]

Multi-GPU: ``torchrun --nproc_per_node=N -m lava_ds2ta.training.cli --config ...`` (DDP; rank 0
writes the outputs).

Exit codes: 0 success, 2 user error (one ``error: ...`` line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.training.config import load_config
from lava_ds2ta.training.trainer import Trainer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ds2ta-train", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="YAML training config")
    p.add_argument(
        "--resume", action="store_true", help="continue from OUTPUT_DIR/last.pt (same config)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start over even if OUTPUT_DIR already holds a run"
    )
    p.add_argument("--output-dir", help="override output_dir from the config")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.epochs=3 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the per-batch progress bar")
    p.add_argument(
        "--data-root", help="folder holding the data sets (sets data.root; default ./data)"
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing data sets with torchvision/tonic (sets data.download)",
    )
    return p


def _rank_prefix() -> str:
    """``""`` in single-process runs and on rank 0 of a ``torchrun`` job, else ``"[rank k] "``."""
    rank = os.environ.get("RANK", "0")
    return "" if rank in ("", "0") else f"[rank {rank}] "


def _yaml_str(text: str) -> str:
    """Quote a path so that ``--set`` parses it back as this exact string."""
    return "'" + text.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    """Run training; returns the process exit code."""
    args = _parser().parse_args(argv)
    output_dir: Path | None = None
    try:
        overrides = list(args.overrides)
        if args.data_root:
            overrides.append(f"data.root={_yaml_str(args.data_root)}")
        if args.download:
            overrides.append("data.download=true")
        cfg = load_config(args.config, overrides)
        if args.output_dir:
            cfg.output_dir = args.output_dir
        output_dir = Path(cfg.output_dir)
        trainer = Trainer(
            cfg,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=False if args.no_progress else None,
        )
        result = trainer.fit()
    except Ds2taError as exc:
        print(f"{_rank_prefix()}error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        last = output_dir / "last.pt" if output_dir is not None else None
        if last is not None and last.is_file():
            print(
                f"\ninterrupted: last checkpoint is {last}; run the same command with --resume "
                "to continue",
                file=sys.stderr,
            )
        else:
            print("\ninterrupted before the first checkpoint was written", file=sys.stderr)
        return 130
    if _rank_prefix():  # torchrun: rank 0 alone reports
        return 0
    print(
        f"test accuracy (eval mode, quantised weights): {result.final_acc:.2f} % "
        f"(best {result.best_acc:.2f} % at epoch {result.best_epoch}) "
        f"— checkpoints in {result.output_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
