"""Model registry: variants (``spikformer``, ``ds2ta_nsad``, ``ds2ta``) times presets."""

from __future__ import annotations

from typing import Any

from lava_ds2ta.models.config import PRESETS, VARIANTS, ModelConfig, model_config
from lava_ds2ta.models.spikformer import SpikingTransformer


def create_model(name: str = "ds2ta", preset: str = "tiny", **overrides: Any) -> SpikingTransformer:
    """Build a model: ``create_model("ds2ta", preset="vit-4-384", num_classes=100)``.

    Raises :class:`lava_ds2ta.errors.ConfigError` naming the key for an unknown name, preset or
    key, or an invalid value.
    """
    return SpikingTransformer(model_config(name, preset, **overrides))


def model_config_from_dict(d: dict[str, Any]) -> ModelConfig:
    """Inverse of :meth:`ModelConfig.to_dict`."""
    return model_config(**d)


def list_models() -> list[str]:
    """Variant names."""
    return list(VARIANTS)


__all__ = [
    "PRESETS",
    "VARIANTS",
    "ModelConfig",
    "SpikingTransformer",
    "create_model",
    "list_models",
    "model_config",
    "model_config_from_dict",
]
