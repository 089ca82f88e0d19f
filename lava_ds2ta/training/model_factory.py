"""Build models from a config's model section, with errors that name the ``model`` section."""

from __future__ import annotations

from typing import Any

from torch import nn

from lava_ds2ta.errors import ConfigError


def create(**kwargs: Any) -> nn.Module:
    """Call :func:`lava_ds2ta.models.create_model` (imported lazily; tests may patch this)."""
    from lava_ds2ta.models import create_model

    return create_model(**kwargs)


def build_model(section: Any) -> nn.Module:
    """Build the model for a :class:`~lava_ds2ta.training.config.ModelSection` or plain dict.

    A ``ConfigError`` from ``create_model`` is re-raised prefixed with ``config: model:`` so the
    user sees which section of the training config is wrong.
    """
    kwargs = section.to_dict() if hasattr(section, "to_dict") else dict(section)
    try:
        return create(**kwargs)
    except ConfigError as exc:
        msg = str(exc)
        if not msg.startswith("config"):
            msg = f"config: model: {msg}"
        raise ConfigError(msg) from None
