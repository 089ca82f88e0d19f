"""Forward hooks that live for one forward pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.utils.hooks import RemovableHandle


@contextmanager
def hooked(model: torch.nn.Module, handles: list[RemovableHandle], train: bool) -> Iterator[None]:
    """Put ``model`` in train or eval mode for the block; afterwards remove the hooks in
    ``handles`` and restore the model's mode, also on error."""
    was_training = model.training
    model.train(train)
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
