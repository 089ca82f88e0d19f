"""Recorder: writes what it receives each step into a memory-mapped file on the host.

Lava's ``RingBuffer`` sink keeps its data in a Var, and reading a Var back sends it item by item
through the runtime: minutes for the per-layer spikes of a few hundred samples. The Recorder
writes every received vector straight into a ``numpy.memmap`` that the caller reads after the run.
"""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess


class Recorder(AbstractProcess):
    """Records ``a_in`` at Lava step ``k`` into column ``k - 1`` of a ``(n, steps)`` memmap.

    Parameters
    ----------
    shape:
        ``(n,)``.
    steps:
        columns of the file; steps beyond it are not recorded.
    path:
        file to write (created by the caller with ``numpy.lib.format.open_memmap``).
    """

    def __init__(self, *, shape: tuple[int], steps: int, path: str, name: str = "recorder") -> None:
        super().__init__(shape=shape, steps=steps, path=path, name=name)
        self.a_in = InPort(shape=shape)
