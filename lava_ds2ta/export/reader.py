"""Read a ``lava_ds2ta.net`` file (or a plain lava-dl netx chain) into plain dataclasses.

All datasets are loaded into memory (numpy arrays; 0-d values as Python scalars; strings as
``str``) and the file is closed. Every problem raises a one-line
:class:`~lava_ds2ta.errors.FormatError` naming the file, the layer and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lava_ds2ta.errors import FormatError
from lava_ds2ta.layers import FORMAT
from lava_ds2ta.layers import FORMAT_VERSION
from lava_ds2ta.layers import Failure
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers.base import COMMON_FIELDS
from lava_ds2ta.layers.validate import validate_network
from lava_ds2ta.models.checkpoint import ZIP_MAGIC

__all__ = ["LayerSpec", "NetworkSpec", "read_network", "read_open_network"]


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
    """One ``layer/<i>`` group as a :class:`LayerSpec` (structure only; values checked later)."""
    data = _group_dict(group)
    neuron = {k[7:]: v for k, v in data.items() if k.startswith("neuron/")} or None
    params = {k: v for k, v in data.items() if not k.startswith("neuron/")}
    fail = Failure(path, i, str(params["name"]) if "name" in params else None)
    for key in ("type", "shape") + (("name", "inputs") if ours else ()):
        if key not in params:
            fail(f"missing dataset '{key}'")
    kind = str(params.pop("type"))
    shape = np.atleast_1d(params.pop("shape"))
    values = {"shape": shape, "inputs": np.atleast_1d(params.get("inputs", []))}
    for field in COMMON_FIELDS:
        problem = field.problem(values[field.name])
        if problem is None and field.name == "shape" and shape.size == 0:
            problem = "is empty"
        if problem is not None:
            fail(f"{field.name} {problem}")
    if ours:
        name = str(params.pop("name"))
        inputs = [int(j) for j in values["inputs"]]
        params.pop("inputs")
    else:  # a netx chain: every layer reads the one before; names are the types
        name, inputs = kind, ([] if i == 0 else [i - 1])
    return LayerSpec(i, name, kind, inputs, tuple(int(n) for n in shape), params, neuron)


def _layer_keys(path: Path, names: list[str]) -> list[str]:
    """The layer group names ``0 .. L-1`` in order; a one-line error naming the missing and
    the unexpected ones otherwise."""
    if not names:
        raise FormatError(f"{path}: the network has no layers; re-export it")
    expected = [str(i) for i in range(len(names))]
    missing = [k for k in expected if k not in names]
    unexpected = sorted((k for k in names if k not in expected), key=lambda k: (len(k), k))
    if missing or unexpected:
        raise FormatError(
            f"{path}: layer groups must be numbered 0..{len(names) - 1}: missing "
            f"{', '.join(missing[:8])}; unexpected {', '.join(repr(k) for k in unexpected[:8])}; "
            "re-export the network"
        )
    return expected


def read_open_network(f: h5py.File, path: Path) -> NetworkSpec:
    """The network in the open HDF5 file ``f`` (``path`` names it in messages), checked."""
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
    keys = _layer_keys(path, list(f["layer"].keys()))
    layers = [_layer(path, i, f["layer"][k], ours) for i, k in enumerate(keys)]
    spec = NetworkSpec(version, config, layers, path)
    validate_network(spec)
    return spec


def read_network(path: str | Path) -> NetworkSpec:
    """Load a network file into a :class:`NetworkSpec` (file closed on return)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: network file not found; check the path or run ds2ta-export")
    with open(path, "rb") as head:
        if head.read(len(ZIP_MAGIC)) == ZIP_MAGIC:
            raise FormatError(
                f"{path} is a PyTorch checkpoint, not a network file; export it first: "
                f"ds2ta-export {path} -o model.net"
            )
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
            return read_open_network(f, path)
    except FormatError:
        raise
    except Exception as exc:  # h5py read errors on damaged files vary
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise FormatError(
            f"{path}: corrupt network file ({reason}); re-export it with ds2ta-export"
        ) from None
