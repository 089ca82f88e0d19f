"""Training config schema (dataclasses), YAML loading, ``--set`` overrides and validation.

Layout of a config file::

    model:  {name: ds2ta, preset: tiny, <any model override, validated by create_model>}
    data:   {name: digits, batch_size: 32, eval_batch_size: 256, num_workers: 0, subset: null,
             root: null, download: false, options: {<data set options, e.g. nda: true>}}
    optim:  {lr: 1.0e-3, weight_decay: 0.01, epochs: 40, warmup_epochs: 2, min_lr: 0.0,
             label_smoothing: 0.1, mixup_alpha: 0.0, cutmix_alpha: 0.0, mix_prob: 1.0,
             grad_clip: 1.0, amp: false, loss: ce}

``data.batch_size`` is the global batch: under ``torchrun`` each of the W processes loads
``batch_size / W`` samples per step. ``optim.amp`` turns on CUDA mixed precision (float16
autocast and a gradient scaler) for training steps; evaluation always runs in float32.
    seed: 0
    output_dir: runs/ds2ta_digits
    device: auto          # auto | cpu | cuda | cuda:N

Every problem raises a one-line :class:`ConfigError` naming the key, e.g.
``config: unknown key 'optim.lrr' (did you mean 'lr'? known: ...)``.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.training.loss import LOSSES
from lava_ds2ta.training.model_factory import resolve_model_config


@dataclass
class ModelSection:
    """Model name, preset (``None``: the family's default) and free overrides forwarded to
    ``create_model``."""

    name: str = "ds2ta"
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        preset = {} if self.preset is None else {"preset": self.preset}
        return {"name": self.name, **preset, **self.overrides}


@dataclass
class DataSection:
    """Dataset name and loader settings; ``subset`` keeps the first k samples of each split.

    ``root``: folder holding the real data sets (null: ``./data``); ``download``: let
    torchvision/tonic download missing files; ``options``: builder-specific keyword arguments
    (checked against the builder's signature)."""

    name: str = "digits"
    batch_size: int = 32
    eval_batch_size: int = 256
    num_workers: int = 0
    subset: int | None = None
    root: str | None = None
    download: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimSection:
    """AdamW + per-step cosine schedule with linear warmup, label smoothing, mixup/cutmix."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    epochs: int = 40
    warmup_epochs: float = 2.0
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_prob: float = 1.0
    grad_clip: float = 0.0  # max global grad norm; 0 disables clipping
    amp: bool = False  # CUDA mixed precision for training steps (ignored with a warning on CPU)
    loss: str = "ce"  # ce (cross-entropy) | mse (on one-hot targets, MA-SNN's)


@dataclass
class TrainConfig:
    """The whole training recipe; ``to_dict()`` round-trips through :func:`config_from_dict`."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    seed: int = 0
    output_dir: str = "runs/train"
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "data": asdict(self.data),
            "optim": asdict(self.optim),
            "seed": self.seed,
            "output_dir": self.output_dir,
            "device": self.device,
        }


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``2e-3`` / ``1E5`` as floats (YAML 1.2; PyYAML needs a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 style floats (``2e-3`` is a float, not a string)."""
    return yaml.load(text, Loader=_Loader)  # safe: _Loader derives from SafeLoader


_SECTIONS = {"data": DataSection, "optim": OptimSection}
_SCALARS = ("seed", "output_dir", "device")
TOP_LEVEL_KEYS = ("model", "data", "optim", *_SCALARS)


def _unknown(key: str, known: list[str], prefix: str = "") -> ConfigError:
    name = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
    return ConfigError(f"config: unknown key '{key}' ({hint}known: {', '.join(known)})")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _need(ok: bool, key: str, want: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config: '{key}' must be {want}, got {value!r}")


def _validate_data(d: DataSection) -> None:
    _need(isinstance(d.name, str) and d.name != "", "data.name", "a dataset name", d.name)
    for key in ("batch_size", "eval_batch_size"):
        v = getattr(d, key)
        _need(_is_int(v) and v >= 1, f"data.{key}", "an integer >= 1", v)
    _need(
        _is_int(d.num_workers) and d.num_workers >= 0,
        "data.num_workers",
        "an integer >= 0",
        d.num_workers,
    )
    _need(
        d.subset is None or (_is_int(d.subset) and d.subset >= 1),
        "data.subset",
        "null or an integer >= 1",
        d.subset,
    )
    _need(
        d.root is None or (isinstance(d.root, str) and d.root.strip() != ""),
        "data.root",
        "null or a folder path",
        d.root,
    )
    _need(isinstance(d.download, bool), "data.download", "true or false", d.download)
    _need(
        isinstance(d.options, dict) and all(isinstance(k, str) for k in d.options),
        "data.options",
        "a mapping of option names to values",
        d.options,
    )
    for key in ("subset", "root", "download"):
        if isinstance(d.options, dict) and key in d.options:
            raise ConfigError(f"config: set 'data.{key}' directly, not in 'data.options'")


def _validate_optim(o: OptimSection) -> None:
    _need(_is_num(o.lr) and o.lr > 0, "optim.lr", "a number > 0", o.lr)
    _need(_is_int(o.epochs) and o.epochs >= 1, "optim.epochs", "an integer >= 1", o.epochs)
    for key in ("weight_decay", "min_lr", "mixup_alpha", "cutmix_alpha", "grad_clip"):
        v = getattr(o, key)
        _need(_is_num(v) and v >= 0, f"optim.{key}", "a number >= 0", v)
    _need(
        _is_num(o.warmup_epochs) and 0 <= o.warmup_epochs <= o.epochs,
        "optim.warmup_epochs",
        f"a number in [0, optim.epochs={o.epochs}]",
        o.warmup_epochs,
    )
    _need(isinstance(o.amp, bool), "optim.amp", "true or false", o.amp)
    _need(o.loss in LOSSES, "optim.loss", f"one of {', '.join(LOSSES)}", o.loss)
    _need(o.min_lr <= o.lr, "optim.min_lr", f"<= optim.lr ({o.lr})", o.min_lr)
    _need(
        _is_num(o.label_smoothing) and 0 <= o.label_smoothing < 1,
        "optim.label_smoothing",
        "a number in [0, 1)",
        o.label_smoothing,
    )
    _need(
        _is_num(o.mix_prob) and 0 <= o.mix_prob <= 1,
        "optim.mix_prob",
        "a number in [0, 1]",
        o.mix_prob,
    )


def validate_model_section(m: ModelSection) -> None:
    """Check the model section with the model package's own validation (``model.<key>`` errors)."""
    _need(isinstance(m.name, str) and m.name != "", "model.name", "a model name", m.name)
    _need(
        m.preset is None or (isinstance(m.preset, str) and m.preset != ""),
        "model.preset",
        "a preset name",
        m.preset,
    )
    resolve_model_config(m)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Validate every value, the model section with the model's own validation."""
    _validate_data(cfg.data)
    _validate_optim(cfg.optim)
    _need(_is_int(cfg.seed) and cfg.seed >= 0, "seed", "an integer >= 0", cfg.seed)
    _need(
        isinstance(cfg.output_dir, str) and cfg.output_dir.strip() != "",
        "output_dir",
        "a non-empty path",
        cfg.output_dir,
    )
    _need(
        isinstance(cfg.device, str)
        and (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")),
        "device",
        "one of auto, cpu, cuda, cuda:N",
        cfg.device,
    )
    validate_model_section(cfg.model)
    return cfg


def _check_finite(value: Any, key: str = "") -> None:
    """No NaN or infinity anywhere in the config (also in free-form ``data.options``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{key}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config: '{key}' is {value}; NaN and infinite values are not allowed")


def config_from_dict(raw: Any) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a plain (YAML-parsed) mapping; ``{}``
    gives the defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: the top level must be a mapping, got {type(raw).__name__}")
    _check_finite(raw)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown(str(key), list(TOP_LEVEL_KEYS))
    cfg = TrainConfig()
    for key in _SCALARS:
        if key in raw:
            setattr(cfg, key, raw[key])
    model_raw = raw.get("model") or {}
    if not isinstance(model_raw, dict):
        raise ConfigError(f"config: 'model' must be a mapping, got {model_raw!r}")
    model_raw = dict(model_raw)
    cfg.model = ModelSection(
        name=model_raw.pop("name", ModelSection.name),
        preset=model_raw.pop("preset", ModelSection.preset),
        overrides={str(k): v for k, v in model_raw.items()},
    )
    for section, cls in _SECTIONS.items():
        sub = raw.get(section) or {}
        if not isinstance(sub, dict):
            raise ConfigError(f"config: '{section}' must be a mapping, got {sub!r}")
        known = [f.name for f in fields(cls)]
        for key in sub:
            if key not in known:
                raise _unknown(f"{section}.{key}", known, f"{section}.")
        setattr(cfg, section, cls(**sub))
    return validate(cfg)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a raw config mapping."""
    raw = dict(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set: expected KEY=VALUE (e.g. optim.epochs=3), got {item!r}")
        try:
            value = parse_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"--set {key}: cannot parse value {text!r}: {str(exc).splitlines()[0]}"
            ) from None
        parts = key.split(".")
        if len(parts) == 1:
            raw[key] = value
        elif len(parts) == 2 or (len(parts) == 3 and parts[:2] == ["data", "options"]):
            raw = _set_nested(raw, parts, value, key)
        else:
            raise ConfigError(
                f"--set: key {key!r} must be 'key', 'section.key' or 'data.options.key'"
            )
    return raw


def _set_nested(raw: dict[str, Any], parts: list[str], value: Any, key: str) -> dict[str, Any]:
    """Copy of ``raw`` with ``raw[parts[0]][parts[1]]... = value`` (mappings copied, not shared)."""
    head, rest = parts[0], parts[1:]
    if not rest:
        return {**raw, head: value}
    sub = raw.get(head) or {}
    if not isinstance(sub, dict):
        raise ConfigError(f"--set {key}: '{head}' is not a section")
    return {**raw, head: _set_nested(sub, rest, value, key)}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a non-empty mapping (one-line errors for missing, broken,
    non-UTF-8 or empty files: an empty file would silently train on the defaults)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {p}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config: {p} is not UTF-8 text (byte {exc.start}); save the YAML file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {p}: {exc.strerror}") from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {p}: YAML error{where}: {problem}") from None
    if not isinstance(raw, dict) and raw is not None:
        raise ConfigError(f"config: {p}: the top level must be a mapping")
    if not raw:
        raise ConfigError(
            f"config: {p} is empty; a run needs at least a model and a data set "
            "(start from train/configs/ds2ta_digits.yaml)"
        )
    return raw


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML config, apply ``--set`` overrides and validate it."""
    raw = apply_overrides(read_yaml(path), overrides or [])
    return config_from_dict(raw)
