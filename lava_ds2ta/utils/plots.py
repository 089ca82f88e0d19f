"""PNG plots: training curves, per-layer spike counts and attention ablations.

Figures are drawn with matplotlib's object-oriented API (``Figure`` renders to PNG with the Agg
canvas itself), so plotting never changes pyplot's backend: a notebook keeps its inline plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lava_ds2ta.utils.atomic import atomic_path


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` as PNG, atomically."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Loss and accuracy (train, test) per epoch, written atomically to ``path``."""
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(9, 3.4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for split in ("train", "test"):
        ax_loss.plot(epochs, [row[f"{split}_loss"] for row in history], label=split)
        ax_acc.plot(epochs, [row[f"{split}_acc"] for row in history], label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (eval mode, 8-bit)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    save_png(fig, path)


def plot_layer_spikes(rows: Sequence[dict[str, Any]], path: str | Path, title: str) -> None:
    """Spikes per sample for every layer, Lava next to the reference, written to ``path``."""
    names = [row["name"] for row in rows]
    x = range(len(rows))
    fig = Figure(figsize=(max(6, 0.55 * len(rows) + 2), 3.8))
    ax = fig.subplots()
    ax.bar([i - 0.2 for i in x], [row["lava_spikes"] for row in rows], 0.4, label="Lava")
    ax.bar([i + 0.2 for i in x], [row["reference_spikes"] for row in rows], 0.4, label="reference")
    ax.set_xticks(list(x), names, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="spikes per sample", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    save_png(fig, path)


def plot_ablation(rows: Sequence[dict[str, Any]], path: str | Path, title: str) -> None:
    """Accuracy (mean, std over seeds) and NASAR per attention variant, written to ``path``."""
    names = [row["variant"] for row in rows]
    fig = Figure(figsize=(max(6, 0.9 * len(rows) + 3), 3.4))
    ax_acc, ax_rate = fig.subplots(1, 2)
    ax_acc.bar(names, [row["acc_mean"] for row in rows], yerr=[row["acc_std"] for row in rows],
               capsize=3)  # fmt: skip
    low = min(row["acc_mean"] - row["acc_std"] for row in rows)
    ax_acc.set(ylabel="test accuracy (%)", title="accuracy (mean, std over seeds)",
               ylim=(max(0.0, low - 5), 100))  # fmt: skip
    ax_rate.bar(names, [row["nasar"] for row in rows], color="tab:orange")
    ax_rate.set(ylabel="spikes / (neurons x T)", title="NASAR")
    for ax in (ax_acc, ax_rate):
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle(title)
    save_png(fig, path)
