"""``ds2ta-train``: train a spiking transformer from a YAML config.

    ds2ta-train --config train/configs/ds2ta_digits.yaml [--resume] [--output-dir DIR]
                [--set optim.epochs=3 --set data.subset=64] [--overwrite] [--no-progress]
                [--data-root DIR] [--download]

Multi-GPU: ``torchrun --nproc_per_node=N -m lava_ds2ta.training.cli --config ...`` (DDP; rank 0
writes the outputs).

Exit codes: 0 success, 2 user error (one ``error: ...`` line on stderr), 130 (SIGINT) or 143
(SIGTERM) interrupted (one line naming the last checkpoint and how to resume).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lava_ds2ta.errors import OutputError
from lava_ds2ta.training.config import TrainConfig
from lava_ds2ta.training.config import load_config
from lava_ds2ta.training.distributed import in_process_group
from lava_ds2ta.training.trainer import Trainer
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import run_command
from lava_ds2ta.utils.paths import check_output_dir
from lava_ds2ta.utils.paths import same_file


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="ds2ta-train", description=__doc__.split("\n")[0])
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
    add_debug_flag(p)
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
    run = _Run(args)
    code = run_command(run.train, args.debug, prefix=_rank_prefix(), kept=run.kept)
    if in_process_group():  # DDP: end without gloo's destructor, which can hang (distributed.py)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class _Run:
    """One ``ds2ta-train`` invocation; :meth:`kept` reports what an interruption left."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.output_dir: Path | None = None

    def config(self) -> TrainConfig:
        """The validated config with the command-line overrides, its output folder checked."""
        args = self.args
        overrides = list(args.overrides)
        if args.data_root:
            overrides.append(f"data.root={_yaml_str(args.data_root)}")
        if args.download:
            overrides.append("data.download=true")
        cfg = load_config(args.config, overrides)
        if args.output_dir:
            cfg.output_dir = args.output_dir
        out = check_output_dir(cfg.output_dir, "--output-dir" if args.output_dir else "output_dir")
        if not args.resume and same_file(out / "config.yaml", args.config):
            raise OutputError(
                f"--config {args.config} is the config.yaml that a new run writes into {out}; "
                "copy it elsewhere first, or continue that run with --resume"
            )
        self.output_dir = out
        return cfg

    def train(self) -> int:
        cfg = self.config()
        trainer = Trainer(
            cfg,
            resume=self.args.resume,
            overwrite=self.args.overwrite,
            progress=False if self.args.no_progress else None,
        )
        result = trainer.fit()
        if _rank_prefix():  # torchrun: rank 0 alone reports
            return 0
        print(
            f"test accuracy (eval mode, quantised weights): {result.final_acc:.2f} % "
            f"(best {result.best_acc:.2f} % at epoch {result.best_epoch}) "
            f"— checkpoints in {result.output_dir}"
        )
        return 0

    def kept(self) -> str:
        last = self.output_dir / "last.pt" if self.output_dir is not None else None
        if last is not None and last.is_file():
            return f"last checkpoint is {last}; run the same command with --resume to continue"
        return "no checkpoint was written yet"


if __name__ == "__main__":
    sys.exit(main())
