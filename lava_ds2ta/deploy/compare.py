"""Inputs for a deployed network and its comparison with the trained PyTorch model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lava_ds2ta.data import build_datasets
from lava_ds2ta.errors import InputError
from lava_ds2ta.export.record import layer_indices
from lava_ds2ta.export.record import record_layers
from lava_ds2ta.export.simulate import input_levels
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.models import load_model


def load_test_inputs(
    spec, data: str, samples: int | None, root: str | None = None
) -> tuple[dict[str, Any], np.ndarray]:
    """The test split of ``data`` (the first ``samples``) as float inputs and as the integer
    levels Lava receives; real data sets are read from ``root`` (default ``./data``), with the
    network's input grid (``img_size``, ``time_steps``, ``input_levels`` of its config).

    Returns ``({"float": tensor N, C, H, W[, T], "levels": int64 N, C, H, W, T}, labels)``.
    """
    if samples is not None and samples < 1:
        raise InputError(f"--samples must be >= 1, got {samples}")
    kw: dict[str, Any] = {"root": root}
    if samples is not None:
        kw["subset"] = samples
    _, test, _ = build_datasets(data, model=spec.config, **kw)
    n = len(test) if samples is None else min(samples, len(test))
    xs, ys = zip(*(test[i] for i in range(n)), strict=True)
    x = torch.stack([torch.as_tensor(v) for v in xs]).float()
    shape = tuple(int(s) for s in spec.layers[0].shape)
    if tuple(x.shape[1:4]) != shape:
        raise InputError(
            f"data set {data!r} has inputs of shape {tuple(x.shape[1:])}, the network expects "
            f"{shape} (C, H, W): export a model trained on {data!r} or pick matching data"
        )
    steps = spec.time_steps
    if steps is None:
        raise InputError(
            f"{spec.path} is a plain netx file without timeSteps: pass --time-steps T "
            "(or set spec.config['timeSteps'] in Python)"
        )
    frames = x if x.dim() == 5 else x.unsqueeze(-1).expand(*x.shape, steps)
    return {"float": x, "levels": input_levels(spec, frames.numpy())}, np.asarray(
        [int(v) for v in ys]
    )


def reference_outputs(
    spec, inputs: dict[str, Any], checkpoint: str | None, model: nn.Module | None = None
):
    """Integer logits and per-layer spikes ``{layer index: N, C, H, W, T}`` of the reference.

    With a checkpoint the reference is the PyTorch model in eval mode (``model``, if already
    loaded); without one it is the integer simulation of the exported file (tests prove the two
    equal, layer by layer). ``inputs`` is the dict of :func:`load_test_inputs`.
    """
    if checkpoint:
        if model is None:
            model, _ = load_model(checkpoint)
        x = inputs["float"]
        with torch.no_grad():
            logits = model(x).double().numpy()
        by_name = record_layers(model, x)
        index = layer_indices(model)
        spikes = {index[name]: v for name, v in by_name.items()}
        logits_int = np.rint(spec.logit_scale * logits).astype(np.int64)
        return logits_int, spikes, f"PyTorch eval model of {Path(checkpoint).name}"
    logits_int, spikes = simulate(spec, inputs["levels"])
    return logits_int, spikes, "integer simulation of the exported file"


def compare_with_torch(
    spec, inputs: dict[str, Any], result, checkpoint: str | None, model: nn.Module | None = None
) -> dict[str, Any]:
    """Agreement of a :class:`LavaResult` with the reference, overall and per layer.

    ``inputs`` is the dict of :func:`load_test_inputs` that ``result`` was computed from;
    ``model`` the checkpoint's model if already loaded.
    """
    logits, spikes, reference = reference_outputs(spec, inputs, checkpoint, model)
    n = len(logits)
    out: dict[str, Any] = {
        "reference": reference,
        "prediction_agreement": float((result.predictions == logits.argmax(1)).mean()),
        "logit_agreement": float((np.abs(result.logits - logits) < 1e-6).all(axis=1).mean()),
        "layers": [],
    }
    for index, lava in sorted(result.spikes.items()):
        ref = spikes.get(index)
        layer = spec.layers[index]
        row = {
            "index": index,
            "name": layer.name,
            "type": layer.type,
            "lava_spikes": float(lava.sum() / n),
            "reference_spikes": float(ref.sum() / n) if ref is not None else float("nan"),
            "exact": bool(ref is not None and np.array_equal(lava, ref)),
        }
        if ref is not None and not row["exact"]:
            where = np.argwhere(lava != ref)[0]
            row["first_mismatch"] = {
                "sample": int(where[0]),
                "neuron": where[1:-1].tolist(),
                "time_step": int(where[-1]),
            }
        out["layers"].append(row)
    out["reference_predictions"] = logits.argmax(1).tolist()
    return out
