"""Per-epoch metrics files: ``metrics.csv``, ``metrics.json`` and ``curves.png`` in the run's
output dir.

Columns: epoch (1-based), lr (at the end of the epoch), train_loss, train_acc, test_loss,
test_acc, epoch_seconds. Accuracies are percentages (0-100). Both files are rewritten atomically
from the full history every epoch, so after a resume they match the checkpoint exactly.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.plots import plot_training_curves

COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "epoch_seconds")


def write_metrics(output_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """Write ``history`` (list of per-epoch dicts with :data:`COLUMNS`) to CSV and JSON."""
    out = Path(output_dir)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: row[k] for k in COLUMNS})
    write_text_atomic(out / "metrics.csv", buf.getvalue())
    write_text_atomic(out / "metrics.json", json.dumps(history, indent=1) + "\n")
    plot_training_curves(history, out / "curves.png")
