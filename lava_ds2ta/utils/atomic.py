"""Atomic file writes: write to a temporary file beside the target, fsync, then rename.

The temporary file is ``.<name>.<pid>.tmp``; one left by a killed writer (its PID gone) is removed
by the next write of the same target (:func:`lava_ds2ta.utils.procs.remove_stale_atomic_temps`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lava_ds2ta.utils.procs import remove_stale_atomic_temps


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``.

    Readers see either the old file or the complete new one, never a partial file; on any error
    (also KeyboardInterrupt) the temporary file is removed and ``path`` is left untouched.
    Temporary files of earlier writers of ``path`` that were killed are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_atomic_temps(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
