"""Checkpoints: state dicts and plain data only, never pickled modules; written atomically.

A checkpoint is a dict with at least ``format`` (int), ``model`` (state dict) and
``model_config`` (plain dict: ``create_model(**model_config)`` rebuilds the model). Training adds
``config``, ``optimizer``, ``scheduler``, ``epoch``, ``best_acc``, ``best_epoch``, ``history`` and
``rng`` (:mod:`lava_ds2ta.training.checkpoint`).

    from lava_ds2ta import load_model
    model, state = load_model("runs/ds2ta_digits/last.pt")   # eval mode, CPU
"""

from __future__ import annotations

import pickletools
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lava_ds2ta.errors import CheckpointError
from lava_ds2ta.errors import ConfigError
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


#: First bytes of the files a checkpoint path may hold by mistake or damage.
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format
PICKLE_MAGIC = b"\x80"  # a pickle (protocol >= 2), also torch's legacy format
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # a network file
#: Pickle opcodes that import or call Python objects (what a safe load refuses).
CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX"}
#: The fix for checkpoints that hold code.
TRUSTED_FIX = (
    "use a checkpoint written by ds2ta-train; if you trust its origin, load it yourself with "
    "torch.load(weights_only=False) and re-save its state with "
    "lava_ds2ta.models.checkpoint.save_checkpoint"
)


def _pickled_code(path: Path) -> str | None:
    """Names a raw pickle would import (``module.name``), read without unpickling; ``""`` if
    it imports nothing, ``None`` if it is not one complete pickle (torch's legacy format is
    several pickles in a row)."""
    names: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if isinstance(arg, str):
                    strings.append(arg)
                if op.name == "GLOBAL":
                    names.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL":
                    names.append(".".join(strings[-2:]))
                elif op.name in CODE_OPCODES and not names:
                    names.append(op.name)
            if f.read(1):
                return None
    except Exception:  # truncated or not a pickle
        return None
    return ", ".join(dict.fromkeys(names))


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """The truthful one-line reason why ``torch.load(weights_only=True)`` failed on ``path``."""
    with open(path, "rb") as f:
        head = f.read(8)
    reason = " ".join(str(exc).split()) or type(exc).__name__
    code = re.search(r"Unsupported (?:class|global:?) (?:GLOBAL )?([\w.]+)", reason)
    if not head:
        return CheckpointError(f"checkpoint {path} is empty (0 bytes); pick another checkpoint")
    if head.startswith(HDF5_MAGIC):
        return CheckpointError(
            f"{path} is a network file, not a checkpoint; pass the .pt checkpoint it was "
            "exported from (ds2ta-run-cpu takes the network file itself)"
        )
    if code is not None:
        return CheckpointError(
            f"checkpoint {path} refused: it contains code ({code.group(1)}; unpickling it "
            f"could run it); {TRUSTED_FIX}"
        )
    if head.startswith(PICKLE_MAGIC):
        names = _pickled_code(path)
        if names:
            return CheckpointError(
                f"checkpoint {path} refused: it contains code ({names}; unpickling it could run "
                f"it); {TRUSTED_FIX}"
            )
        if names == "":
            return CheckpointError(
                f"{path} is a plain pickle, not a PyTorch checkpoint; save checkpoints with "
                "torch.save or lava_ds2ta.models.checkpoint.save_checkpoint"
            )
    if head.startswith((ZIP_MAGIC, PICKLE_MAGIC)):
        return CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({reason[:80]}); copy it again or pick "
            "another checkpoint (a training run keeps last.pt and best.pt)"
        )
    return CheckpointError(
        f"{path} is not a PyTorch checkpoint (neither a torch.save archive nor a pickle); "
        "pick a .pt file written by ds2ta-train"
    )


def load_checkpoint(path: str | Path, required: tuple[str, ...] = MODEL_KEYS) -> dict[str, Any]:
    """Load a checkpoint on CPU with ``weights_only=True`` (nothing in it is executed); a
    one-line :class:`CheckpointError` saying what the file is if it is not a usable one."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise CheckpointError(f"checkpoint {path} {what}; check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/unpickling errors vary between torch versions
        raise _unreadable(path, exc) from None
    missing = [k for k in required if k not in state] if isinstance(state, dict) else required
    if missing:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a lava_ds2ta checkpoint (missing "
            f"{', '.join(repr(k) for k in missing)}); pick a checkpoint written by ds2ta-train"
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
    config = state["model_config"]
    if not isinstance(config, dict) or not isinstance(state["model"], dict):
        raise CheckpointError(
            f"{source}: 'model_config' and 'model' must be dicts; pick a checkpoint written by "
            "ds2ta-train"
        )
    try:
        model = create_model(**config)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(
            f"{source} holds an invalid model config ({exc}); pick a checkpoint written by "
            "ds2ta-train"
        ) from None
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{source} does not match its model config "
            f"({str(exc).splitlines()[0][:120]}); pick a checkpoint written by ds2ta-train"
        ) from None
    return model.eval()


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint file and rebuild its model; returns ``(model (eval, CPU), state)``."""
    state = load_checkpoint(path)
    return model_from_state(state, f"checkpoint {path}"), state
