"""Model registry (timm style): every model name maps to its config factory and model class.

A model family file registers its names (``register_model``); ``create_model(name, preset=...,
**overrides)`` builds any of them (``preset=None``: the family's default), and a checkpoint's
``model_config`` dict (which holds ``name`` and ``preset``) rebuilds the same model with
``create_model(**model_config)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from lava_ds2ta.errors import ConfigError

#: Model name -> (config factory ``f(name, preset, **overrides)``, model class ``cls(config)``).
_MODELS: dict[str, tuple[Callable[..., Any], Callable[[Any], nn.Module]]] = {}


def register_model(name: str, config: Callable[..., Any], model: Callable[[Any], nn.Module]):
    """Register ``name``: ``config(name, preset, **overrides)`` returns a validated config
    object with ``to_dict()`` (``preset`` may be ``None``: the family's default);
    ``model(config)`` builds the module."""
    _MODELS[name] = (config, model)


def _entry(name: str) -> tuple[Callable[..., Any], Callable[[Any], nn.Module]]:
    if not isinstance(name, str) or name not in _MODELS:
        raise ConfigError(f"model.name: unknown model {name!r} (known: {', '.join(_MODELS)})")
    return _MODELS[name]


def model_config(name: str = "ds2ta", preset: str | None = None, **overrides: Any) -> Any:
    """The validated config of model ``name`` at ``preset`` with ``overrides``; a one-line
    :class:`ConfigError` names an unknown name, preset or key, or an invalid value."""
    return _entry(name)[0](name, preset, **overrides)


def create_model(name: str = "ds2ta", preset: str | None = None, **overrides: Any) -> nn.Module:
    """Build a model: ``create_model("ds2ta", preset="vit-4-384", num_classes=100)``,
    ``create_model("ma_snn_3conv", attention="TCSA")``."""
    return _entry(name)[1](model_config(name, preset, **overrides))


def list_models() -> list[str]:
    """Registered model names."""
    return list(_MODELS)
