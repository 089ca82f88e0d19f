"""Read a ``lava_ds2ta.net`` file (or a plain lava-dl netx chain) into plain dataclasses.

All datasets are loaded into memory (numpy arrays; 0-d values as Python scalars; strings as
``str``) and the file is closed. Every problem raises a one-line
:class:`~lava_ds2ta.errors.FormatError` naming the file, the layer and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lava_ds2ta.errors import FormatError

FORMAT = "lava_ds2ta.net"
FORMAT_VERSION = 1

_CONV = ("inChannels", "outChannels", "kernelSize", "stride", "padding", "dilation", "groups",
         "weight", "bias")  # fmt: skip
_NEURON = ("type", "iDecay", "vDecay", "vThMant")
#: Our layer types -> (required datasets, required neuron keys, allowed number of inputs).
LAYER_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[int, int]]] = {
    "input": (("timeSteps", "inputLevels"), (), (0, 0)),
    "conv": (_CONV, _NEURON, (1, 1)),
    "tasa": (_CONV + ("window", "tau"), _NEURON, (1, 1)),
    "spikeMaxPool": (("kernelSize", "stride", "padding"), (), (1, 1)),
    "add": ((), (), (2, 1 << 30)),
    "attention": (("numHeads", "headDim", "scaleShift", "denoiser"), _NEURON, (3, 3)),
    "readout": (("weight", "bias"), (), (1, 1)),
}
#: Layer types lava-dl's SLAYER blocks write into netx files (kept as they are).
NETX_TYPES = ("input", "conv", "pool", "convT", "unpool", "flatten", "dense", "dense_rec",
              "dense_comp", "average")  # fmt: skip


@dataclass
class LayerSpec:
    """One layer. ``shape`` is ``C, H, W`` (readout: ``classes,``); ``params`` holds every other
    dataset (weights in 8-bit weight units); ``neuron`` the ``neuron/`` group or ``None``."""

    index: int
    name: str
    type: str
    inputs: list[int]
    shape: tuple[int, ...]
    params: dict[str, Any]
    neuron: dict[str, Any] | None


@dataclass
class NetworkSpec:
    """A network file: ``version`` is ``formatVersion`` (0 for a plain netx file), ``config``
    the model config dict (empty for netx), ``layers`` in topological order, ``path`` the file."""

    version: int
    config: dict[str, Any]
    layers: list[LayerSpec]
    path: Path | None = None


def _value(ds: h5py.Dataset) -> Any:
    v = ds[()]
    if isinstance(v, bytes):
        return v.decode("ascii")
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "SO":
            items = [s.decode("ascii") if isinstance(s, bytes) else str(s) for s in v.flat]
            return items[0] if len(items) == 1 else items
        return v
    return v.item() if isinstance(v, np.generic) else v


def _group_dict(group: h5py.Group, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out.update(_group_dict(obj, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = _value(obj)
    return out


def _layer(path: Path, i: int, group: h5py.Group, ours: bool) -> LayerSpec:
    def fail(problem: str, fix: str = "re-export the network with ds2ta-export") -> FormatError:
        name = _value(group["name"]) if "name" in group else None
        where = f"layer {i}" + (f" ({name})" if name else "")
        return FormatError(f"{path}: {where}: {problem}; {fix}")

    data = _group_dict(group)
    neuron = {k[7:]: v for k, v in data.items() if k.startswith("neuron/")} or None
    params = {k: v for k, v in data.items() if not k.startswith("neuron/")}
    for key in ("type", "shape") + (("name", "inputs") if ours else ()):
        if key not in params:
            raise fail(f"missing dataset '{key}'")
    kind = params.pop("type")
    known = LAYER_TYPES if ours else NETX_TYPES
    if kind not in known:
        raise fail(f"unknown layer type {kind!r} (known: {', '.join(known)})",
                   "use a lava_ds2ta version that knows this layer type")  # fmt: skip
    shape = tuple(int(n) for n in np.atleast_1d(params.pop("shape")))
    if ours:
        name = str(params.pop("name"))
        inputs = [int(j) for j in np.atleast_1d(params.pop("inputs"))]
        required, neuron_keys, (lo, hi) = LAYER_TYPES[kind]
        for key in required + (("tables",) if params.get("denoiser") == "nsad" else ()):
            if key not in params:
                raise fail(f"missing dataset '{key}'")
        for key in neuron_keys:
            if key not in (neuron or {}):
                raise fail(f"missing dataset 'neuron/{key}'")
        if not lo <= len(inputs) <= hi:
            raise fail(f"a {kind} layer takes {lo}..{min(hi, 99)} inputs, found {len(inputs)}")
    else:
        name = f"layer{i}"
        inputs = [] if i == 0 else [i - 1]
    bad = [j for j in inputs if not 0 <= j < i]
    if bad:
        raise fail(f"input {bad[0]} is not an earlier layer (inputs must be < {i})")
    return LayerSpec(i, name, kind, inputs, shape, params, neuron)


def _read(path: Path, f: h5py.File) -> NetworkSpec:
    fmt = f.attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    ours = fmt is not None
    if ours and fmt != FORMAT:
        raise FormatError(f"{path}: format {fmt!r} is not {FORMAT!r}; not a lava_ds2ta network")
    if "layer" not in f or not isinstance(f["layer"], h5py.Group):
        raise FormatError(
            f"{path}: not a lava_ds2ta or netx network (no 'layer' group); "
            "export one with ds2ta-export"
        )
    version, config = 0, {}
    if ours:
        version = int(f.attrs.get("formatVersion", -1))
        if version > FORMAT_VERSION:
            raise FormatError(
                f"{path}: formatVersion {version} is newer than this reader ({FORMAT_VERSION}); "
                "upgrade lava_ds2ta or re-export with this version"
            )
        if version < 1 or "config" not in f:
            raise FormatError(
                f"{path}: missing formatVersion or 'config' dataset; re-export the network"
            )
        try:
            config = json.loads(_value(f["config"]))
        except (TypeError, ValueError) as exc:
            raise FormatError(f"{path}: 'config' is not valid JSON ({exc}); re-export") from None
    keys = sorted(f["layer"].keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0))
    if keys != [str(i) for i in range(len(keys))]:
        raise FormatError(
            f"{path}: layer groups must be numbered 0..{len(keys) - 1}, found {keys[:8]}; "
            "re-export the network"
        )
    if not keys:
        raise FormatError(f"{path}: the network has no layers; re-export it")
    layers = [_layer(path, i, f["layer"][k], ours) for i, k in enumerate(keys)]
    return NetworkSpec(version, config, layers, path)


def read_network(path: str | Path) -> NetworkSpec:
    """Load a network file into a :class:`NetworkSpec` (file closed on return)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: network file not found; check the path or run ds2ta-export")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise FormatError(
            f"{path}: not a readable HDF5 file, corrupt or truncated ({reason}); "
            "re-export it with ds2ta-export"
        ) from None
    try:
        with f:
            return _read(path, f)
    except FormatError:
        raise
    except Exception as exc:  # h5py read errors on damaged files vary
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise FormatError(
            f"{path}: corrupt network file ({reason}); re-export it with ds2ta-export"
        ) from None
