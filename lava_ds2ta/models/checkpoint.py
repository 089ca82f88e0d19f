"""Checkpoints: state dicts and plain data only, never pickled modules; written atomically.

A checkpoint is a dict with at least ``format`` (int), ``model`` (state dict) and
``model_config`` (plain dict: ``create_model(**model_config)`` rebuilds the model). Training adds
``config``, ``optimizer``, ``scheduler``, ``epoch``, ``best_acc``, ``best_epoch``, ``history`` and
``rng`` (:mod:`lava_ds2ta.training.checkpoint`).

    from lava_ds2ta import load_model
    model, state = load_model("runs/ds2ta_digits/last.pt")   # eval mode, CPU
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.models.registry import create_model
from lava_ds2ta.utils.atomic import atomic_path

CHECKPOINT_FORMAT = 1
MODEL_KEYS = ("format", "model", "model_config")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same dir, fsync, os.replace)."""
    path = Path(path)
    state = {"format": CHECKPOINT_FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, required: tuple[str, ...] = MODEL_KEYS) -> dict[str, Any]:
    """Load a checkpoint on CPU with ``weights_only=True``; one-line error if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/unpickling errors vary between torch versions
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({reason[:120]}); "
            "delete it or pick another checkpoint"
        ) from None
    if not isinstance(state, dict) or any(k not in state for k in required):
        raise CheckpointError(
            f"checkpoint {path} is not a lava_ds2ta checkpoint (missing keys); "
            "delete it or pick another checkpoint"
        )
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {state['format']}, expected {CHECKPOINT_FORMAT}; "
            "pick a checkpoint written by this version"
        )
    return state


def model_from_state(state: dict[str, Any], source: str = "checkpoint") -> nn.Module:
    """Rebuild the model of a checkpoint dict: ``create_model(**model_config)`` + state dict,
    in eval mode on CPU. ``source`` names the checkpoint in error messages."""
    model = create_model(**state["model_config"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{source} does not match its model config "
            f"({str(exc).splitlines()[0][:120]}); pick another checkpoint"
        ) from None
    return model.eval()


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint file and rebuild its model; returns ``(model (eval, CPU), state)``."""
    state = load_checkpoint(path)
    return model_from_state(state, f"checkpoint {path}"), state
