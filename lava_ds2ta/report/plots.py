"""PNG figures of ``ds2ta-report``: operations and energy per layer and block, and the attention
maps of DS2TA's Fig. 3 (per block and head at one time step, two sources side by side, with each
head's NSAD table).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lava_ds2ta.utils.plots import save_png


def _layer_panels(ax_rate, ax_energy, net: dict[str, Any]) -> None:
    rows = [r for r in net["layers"] if r["rate"] is not None or r["energy_nj"] > 0]
    x = np.arange(len(rows))
    ax_rate.bar(x, [100 * (r["rate"] or 0.0) for r in rows], color="tab:blue")
    ax_rate.set(ylabel="activity rate (%)", title=f"{net['model']}: messages per value and step")
    ax_energy.bar(x - 0.2, [r["energy_nj"] for r in rows], 0.4, label="SNN (E_AC, E_MAC)")
    ax_energy.bar(x + 0.2, [r["ann_energy_nj"] for r in rows], 0.4, label="ANN, 8-bit MACs")
    ax_energy.set(ylabel="nJ per inference", yscale="log", title=f"{net['model']}: energy")
    ax_energy.legend(fontsize=8)
    for ax in (ax_rate, ax_energy):
        ax.set_xticks(x, [r["name"] for r in rows], rotation=60, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)


def _block_panels(ax_sparsity, ax_energy, nets: Sequence[dict[str, Any]]) -> None:
    width = 0.8 / len(nets)
    for i, net in enumerate(nets):
        blocks = net["blocks"]
        x = np.arange(len(blocks)) + (i - (len(nets) - 1) / 2) * width
        ax_sparsity.bar(x, [100 * b["sparsity"] for b in blocks], width, label=net["model"])
        ax_energy.bar(x, [b["energy_nj"] for b in blocks], width, label=net["model"])
    ax_sparsity.set(xlabel="block", ylabel="attention-map sparsity (%)", ylim=(0, 100),
                    title="Table 3: sparsity of A")  # fmt: skip
    ax_energy.set(xlabel="block", ylabel="nJ per inference",
                  title="Table 3: E_AC x #OPs x (1 - sparsity)")  # fmt: skip
    for ax in (ax_sparsity, ax_energy):
        ax.set_xticks(range(max(len(n["blocks"]) for n in nets)))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)


def plot_report(nets: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Per network: activity rate and energy per layer (SNN next to the 8-bit ANN); then the
    Table 3 panels (sparsity and energy per block, the networks side by side)."""
    fig = Figure(figsize=(13, 3.6 * (len(nets) + 1)))
    axes = fig.subplots(len(nets) + 1, 2, squeeze=False)
    for net, (ax_rate, ax_energy) in zip(nets, axes, strict=False):
        _layer_panels(ax_rate, ax_energy, net)
    _block_panels(*axes[-1], nets)
    save_png(fig, path)


def _image_panel(ax, image: np.ndarray, a_last: np.ndarray) -> None:
    """The input image (``C, H, W``, channel mean) masked by the attention the tokens receive
    from the last head (``a_last``: tokens x tokens, column sums of ``|A|``), the left column of
    Fig. 3; the mask is drawn over the image on the token grid, so any patch size fits."""
    grid = int(round(np.sqrt(a_last.shape[0])))
    received = np.abs(a_last).sum(axis=0).reshape(grid, grid).astype(float)
    img = image.mean(axis=0)
    extent = (-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5)
    ax.imshow(img, cmap="gray")
    if received.max() > 0:
        shade = np.zeros((grid, grid, 4))
        shade[..., 3] = 0.85 * (1.0 - received / received.max())  # black where none attends
        ax.imshow(shade, extent=extent, interpolation="nearest")
        ax.set_title("input x attention\n(last head)", fontsize=7)
    else:
        ax.set_title("input (the last head\nattends nowhere)", fontsize=7)


def plot_attention(
    maps: Sequence[dict[int, np.ndarray]],
    labels: Sequence[str],
    tables: dict[int, np.ndarray | None],
    image: np.ndarray,
    path: str | Path,
    title: str,
) -> None:
    """DS2TA Fig. 3 for one sample and time step: per block two rows (one per source in
    ``labels``, e.g. Lava and PyTorch), one column per head (``maps[i][layer]``: ``heads x
    tokens x tokens``), the masked input image (``C, H, W``) on the left, and on the right each
    head's NSAD table ``AD_h[s]`` (``tables[layer]``: ``heads x (d + 1)``, ``None`` for
    Spikformer's ``A = S``)."""
    layers = sorted(maps[0])
    heads = maps[0][layers[0]].shape[0]
    fig = Figure(figsize=(1.6 * (heads + 2), 1.6 * len(labels) * len(layers) + 0.6))
    axes = fig.subplots(len(labels) * len(layers), heads + 2, squeeze=False)
    for b, layer in enumerate(layers):
        top = len(labels) * b
        vmax = max(max(float(m[layer].max()), 1.0) for m in maps)
        for r, (label, m) in enumerate(zip(labels, maps, strict=True)):
            for h in range(heads):
                ax = axes[top + r, h + 1]
                ax.imshow(m[layer][h], cmap="viridis", vmin=0, vmax=vmax)
                ax.set_title(f"block {b} head {h}\n{label}", fontsize=7)
        _image_panel(axes[top, 0], image, maps[0][layer][-1])
        _table_panel(axes[top, -1], tables[layer])
        for r in range(1, len(labels)):
            axes[top + r, 0].set_visible(False)
            axes[top + r, -1].set_visible(False)
    for ax in axes.flat:
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    save_png(fig, path)


def _table_panel(ax, tables: np.ndarray | None) -> None:
    """Each head's table ``AD_h[s]`` over ``s = 0..d`` (the identity without NSAD)."""
    if tables is None:
        ax.text(0.5, 0.5, "no NSAD:\nA = Q K^T", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
        return
    for h, row in enumerate(tables):
        ax.plot(np.arange(len(row)), row, marker=".", markersize=3, label=f"head {h}")
    ax.set_title("NSAD tables AD_h[s]", fontsize=7)
    ax.set_xlabel("s = (Q K^T)[i, j]", fontsize=7)
    ax.grid(alpha=0.3)
    if len(tables) <= 8:
        ax.legend(fontsize=5)
