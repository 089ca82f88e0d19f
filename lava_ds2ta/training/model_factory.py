"""Build or check models from a config's model section; errors name ``model.<key>``."""

from __future__ import annotations

from typing import Any

from torch import nn

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.models import create_model
from lava_ds2ta.models import model_config

#: Model config keys that must agree with the data set's ``info`` dict (when it has them).
DATA_KEYS = ("num_classes", "in_channels", "img_size", "time_steps", "input_levels")


def _section_dict(section: Any) -> dict[str, Any]:
    return section.to_dict() if hasattr(section, "to_dict") else dict(section)


def _reraise(exc: ConfigError) -> ConfigError:
    msg = str(exc)
    return ConfigError(msg if msg.startswith("config") else f"config: {msg}")


def resolve_model_config(section: Any) -> dict[str, Any]:
    """Validate the section without building the model; return the full model config dict."""
    try:
        return model_config(**_section_dict(section)).to_dict()
    except ConfigError as exc:
        raise _reraise(exc) from None


def check_data_compat(model_cfg: dict[str, Any], info: dict[str, Any], data_name: str) -> None:
    """Model's num_classes / in_channels / img_size (and time_steps / input_levels where the data
    set fixes them) must match the data set."""
    for key in DATA_KEYS:
        if key in model_cfg and key in info and model_cfg[key] != info[key]:
            raise ConfigError(
                f"config: model.{key} is {model_cfg[key]!r} but data set {data_name!r} has "
                f"{info[key]!r}; set model.{key}: {info[key]!r} or pick another preset"
            )


def build_model(section: Any) -> nn.Module:
    """Build the model for a :class:`~lava_ds2ta.training.config.ModelSection` or plain dict."""
    try:
        return create_model(**_section_dict(section))
    except ConfigError as exc:
        raise _reraise(exc) from None
