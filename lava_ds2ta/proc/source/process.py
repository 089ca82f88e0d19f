"""FrameSource: streams pre-encoded integer input frames into a Lava network."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class FrameSource(AbstractProcess):
    """Sends ``frames[:, k]`` as graded spikes at Lava time step ``k + 1``, zeros afterwards.

    Parameters
    ----------
    frames:
        integer input levels of shape ``(neurons, steps)``: samples laid back to back, T steps
        each, every frame flattened in ``C, H, W`` order.
    """

    def __init__(self, *, frames: np.ndarray, name: str = "input") -> None:
        super().__init__(frames=frames, name=name)
        n, steps = frames.shape
        self.s_out = OutPort(shape=(n,))
        self.frames = Var(shape=(n, steps), init=frames)
