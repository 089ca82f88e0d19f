"""Output paths checked before any long work: never an input, never a directory, writable.

Every command calls :func:`check_output` (or :func:`check_output_dir`) for each file it will
write, with the files it reads, before it starts loading data, training or running Lava, so a
bad path costs one line and no work, and no command overwrites its own input.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lava_ds2ta.errors import OutputError


def _existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of ``path`` (or ``path`` itself) that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """``a`` and ``b`` name the same existing file (also through links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _probe_writable(folder: Path, what: str, path: Path) -> None:
    """Create and remove a hidden file in ``folder``; one-line error if that fails."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name[:40]}.", suffix=".probe")
    except OSError as exc:
        raise OutputError(
            f"{what} {path} cannot be written ({exc.strerror or exc} in {folder}); "
            "choose a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output(path: str | Path, what: str, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse (one line, :class:`OutputError`) an output file ``path`` that is one of ``inputs``,
    a directory, under a file, or in a folder that cannot be written. ``what`` names it in the
    message (``"-o"``, ``"--report"``). Creates nothing; returns ``path`` as a ``Path``."""
    path = Path(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise OutputError(
                f"{what} {path} is the input file {source}: writing it would destroy the input; "
                "choose another output path"
            )
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory; give a file path (e.g. inside it)")
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        raise OutputError(
            f"{what} {path} lies under {folder}, which is a file, not a folder; "
            "choose another output path"
        )
    _probe_writable(folder, what, path)
    return path


def check_output_dir(path: str | Path, what: str) -> Path:
    """Refuse (one line) an output folder that is a file, lies under a file or cannot be
    created or written. Creates nothing; returns ``path`` as a ``Path``."""
    path = Path(path)
    folder = _existing_ancestor(path)
    if not folder.is_dir():
        here = folder == Path(os.path.abspath(path))
        place = "is a file" if here else f"lies under the file {folder}"
        raise OutputError(f"{what} {path} {place}, not a folder; choose another output folder")
    _probe_writable(folder, what, path)
    return path
