"""Training checkpoints: a model checkpoint (:mod:`lava_ds2ta.models.checkpoint`) plus the
training state, and the check that a resumed run continues the same recipe.

Keys beyond ``format``/``model``/``model_config``: ``config`` (training config dict),
``optimizer``, ``scheduler`` (and ``scaler`` with AMP) state dicts, ``epoch`` (completed epochs),
``best_acc``, ``best_epoch``, ``history`` (per-epoch metric dicts) and ``rng`` (RNG states).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.models.checkpoint import MODEL_KEYS
from lava_ds2ta.models.checkpoint import load_checkpoint
from lava_ds2ta.training.config import TrainConfig

TRAINING_KEYS = MODEL_KEYS + ("config", "epoch", "history")
#: Config keys that may differ between the original run and a resumed one.
RESUME_FREE_KEYS = {
    "output_dir",
    "device",
    "data.num_workers",
    "data.eval_batch_size",
    "data.root",
    "data.download",
    "data.options.cache",
    "data.options.cache_dir",
}


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint that holds the whole training state (one-line error otherwise)."""
    return load_checkpoint(path, TRAINING_KEYS)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def check_resume_compatible(current: dict[str, Any], saved: dict[str, Any], path: Path) -> None:
    """Refuse to resume when the recipe changed (results would not match an uninterrupted run)."""
    cur, old = _flatten(current), _flatten(saved)
    defaults = _flatten(TrainConfig().to_dict())
    for key in sorted(set(cur) | set(old)):
        if key in RESUME_FREE_KEYS or cur.get(key) == old.get(key):
            continue
        if key not in old and key in defaults and cur[key] == defaults[key]:
            continue  # a key added after the checkpoint was written, at its default
        raise CheckpointError(
            f"cannot resume from {path}: '{key}' is {cur.get(key)!r} in the config but "
            f"{old.get(key)!r} in the checkpoint; use the original config or a new --output-dir"
        )
