"""Which process owns a temporary file, so that a later run can prove it stale.

Temporary names carry the writer's PID (atomic writes: ``.<name>.<pid>.tmp``) or its PID
namespace, PID and start time (Lava runs: ``<prefix>_<ns>_<pid>_<ticks>_...``;
:func:`process_tag`). A file is *stale* when that process no longer exists, or when its PID now
belongs to a process started at another time. A PID that is alive (or reused) keeps its files,
and so does a name from another PID namespace (a container sharing ``/dev/shm`` or ``/tmp``):
only provably stale files are removed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field
    22), or ``None`` if there is no such process (or no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


#: Regular expression of :func:`process_tag`: PID namespace, PID, start ticks.
TAG_PATTERN = r"(\d+)_(\d+)_(\d+)"


def pid_namespace() -> int:
    """The inode of this process's PID namespace (0 where ``/proc`` has none)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def process_tag() -> str:
    """``<pid namespace>_<pid>_<start ticks>`` of this process: unique across PID reuse and
    containers; :func:`tag_stale` tells whether its owner is gone."""
    pid = os.getpid()
    return f"{pid_namespace()}_{pid}_{start_ticks(pid) or 0}"


def tag_stale(namespace: str, pid: str, ticks: str) -> bool:
    """True when the process of a :func:`process_tag` (its three parts) provably no longer
    exists: same PID namespace as ours, and no process ``pid`` started at ``ticks``."""
    return int(namespace) == pid_namespace() and owner_gone(int(pid), ticks)


def owner_gone(pid: int, ticks: str | None = None) -> bool:
    """True when process ``pid`` (started at ``ticks``, if given) no longer exists."""
    if pid == os.getpid():
        return False
    now = start_ticks(pid)
    if now is None:
        try:  # no /proc: ask the kernel
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return ticks is not None and now != ticks


def remove_stale_atomic_temps(target: Path) -> list[Path]:
    """Remove ``.<name>.<pid>.tmp`` files beside ``target`` left by killed writers (their PID
    is gone); returns what was removed."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.tmp")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        if m and owner_gone(int(m.group(1))):
            path = target.parent / name
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed
