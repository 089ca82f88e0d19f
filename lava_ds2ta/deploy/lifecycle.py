"""Lava CPU runs that stop cleanly and leave nothing behind (lava-nc 0.10.0, Linux).

A ``Loihi2SimCfg`` run forks one worker process per ProcessModel and per runtime service, and a
shared-memory manager server; their channels are ``/dev/shm`` segments, and our recorders write
into a temporary folder. Lava itself installs no signal handling: on Ctrl-C every worker prints a
``KeyboardInterrupt`` traceback, ``Runtime.stop()`` then waits forever for the dead runtime
service, and a ``kill`` of the parent alone leaves the workers running, holding their segments.
:class:`LavaSession` wraps one run (``runner.run_network``) and adds:

1. **Workers that ignore stop signals and die with their parent.** An at-fork hook, active only
   inside a session, sets SIGINT and SIGTERM to ``SIG_IGN`` in every forked child and arms
   ``PR_SET_PDEATHSIG = SIGKILL`` (the kernel kills the child when its parent dies, also by
   SIGKILL). The death signal fires when the *forking thread* exits, so it is armed only for
   forks from the main thread; a child whose parent died before the hook ran exits at once.
   Lava's resource tracker is started with ``fork_exec`` (no hook): it outlives a killed parent
   and unlinks the segments the dead workers held.
2. **Segment names that carry their owner.** Lava's ``SharedMemoryManager.create_shared_memory``
   is replaced (a small monkeypatch that calls the standard library as Lava does) by one that
   names segments ``lava_ds2ta_<ns>_<pid>_<ticks>_<n>`` (:func:`lava_ds2ta.utils.procs.process_tag`)
   instead of random ``psm_*`` names, still tracked by the manager server, so shutdown unlinks
   them and a later run can prove them stale.
3. **A stop that cannot hang.** On success Lava's own ``stop()`` ends the run; on any exception
   or interrupt (also one during that stop) :func:`hard_stop` kills the workers, joins them and
   shuts the manager server down (which unlinks every segment), in about 0.1 s. SIGINT and
   SIGTERM arriving during the clean-up are held back until it is done (a second Ctrl-C cannot
   leave half a clean-up). The processes are then detached from the runtime, so Lava's
   ``__del__`` hooks do nothing later.
4. **A private temporary folder** ``lava_ds2ta_run_<ns>_<pid>_<ticks>_*`` for recordings and
   for the manager server's socket (multiprocessing's temporary folder points there during the
   session, instead of a ``pymp-*`` folder that a killed run would leave; only where the path is
   short enough for a Unix socket, :data:`SOCKET_DIR_MAX`), removed when the session ends.
5. **Stale-file removal.** Each session first removes segments and temporary folders of earlier
   runs whose process provably no longer exists (:func:`remove_stale`): what a SIGKILL left.

An interrupt leaves the session as :class:`~lava_ds2ta.errors.Interrupted` (a
``KeyboardInterrupt``) whose ``done`` says how far the run got and what was removed.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import managers
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

from lava.magma.core.run_conditions import RunSteps
from lava.magma.runtime.message_infrastructure import shared_memory_manager as lava_smm

from lava_ds2ta.errors import Interrupted
from lava_ds2ta.utils.cli import STOP_SIGNALS
from lava_ds2ta.utils.cli import stop_signals_raise
from lava_ds2ta.utils.cli import unsafe_moment
from lava_ds2ta.utils.procs import TAG_PATTERN
from lava_ds2ta.utils.procs import process_tag
from lava_ds2ta.utils.procs import tag_stale

#: Prefix of our ``/dev/shm`` segment names and of the run folders in the temporary directory.
SEGMENT_PREFIX = "lava_ds2ta"
RUN_DIR_PREFIX = "lava_ds2ta_run"
SHM_DIR = Path("/dev/shm")
#: Longest folder path that can hold multiprocessing's ``listener-XXXXXXXX`` Unix socket (108
#: bytes with the final NUL on Linux); a longer run folder leaves the socket to a ``pymp-*`` one.
SOCKET_DIR_MAX = 107 - len("/listener-12345678") - 1
_PR_SET_PDEATHSIG = 1

#: Fork-hook state: ``active`` sessions, the forking process and whether its main thread forks.
_fork: dict[str, Any] = {"active": 0, "pid": 0, "main": False, "installed": False}
_segment_numbers = itertools.count()
#: multiprocessing's per-process settings; ``tempdir`` is where it puts its sockets.
_MP_CONFIG = multiprocessing.process.current_process()._config
_libc = ctypes.CDLL(None, use_errno=True)


def _before_fork() -> None:
    """Runs in the parent before every ``os.fork()`` (first of all before-fork hooks): stop
    signals are blocked until the child has ignored them and the parent is out of the hooks."""
    if not _fork["active"]:
        return
    _fork["pid"] = os.getpid()
    _fork["main"] = threading.current_thread() is threading.main_thread()
    unsafe_moment(+1)
    _fork["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _after_fork_in_parent() -> None:
    """Unblock: a signal that came during the fork is handled here, deferred (re-sent shortly,
    :func:`lava_ds2ta.utils.cli.unsafe_moment`) because an exception in a hook would be lost."""
    if "mask" in _fork:
        signal.pthread_sigmask(signal.SIG_SETMASK, _fork.pop("mask"))
        unsafe_moment(-1)


def _after_fork_in_child() -> None:
    """Runs in every ``os.fork()`` child (Lava's workers) before any of its own code."""
    if "mask" not in _fork:
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, _fork.pop("mask"))
    _fork["active"] = 0  # the worker's own forks, if any, are not ours to guard
    unsafe_moment(-1)
    prctl = getattr(_libc, "prctl", None)
    if _fork["main"] and prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != _fork["pid"]:  # the parent died before the death signal was armed
            os._exit(1)


def _create_named_segment(self: lava_smm.SharedMemoryManager, size: int) -> SharedMemory:
    """Lava's ``create_shared_memory`` with an owner-tagged name (see the module docstring)."""
    name = f"{SEGMENT_PREFIX}_{process_tag()}_{next(_segment_numbers)}"
    handle = SharedMemory(name=name, create=True, size=size)
    self._shared_memory_handles.append(handle)
    manager = self._manager
    with manager._Client(manager._address, authkey=manager._authkey) as conn:
        managers.dispatch(conn, None, "track_segment", (handle.name,))  # unlinked on shutdown
    return handle


def install() -> None:
    """Register the fork hooks and the segment naming, once per Python process."""
    if not _fork["installed"]:
        _fork["installed"] = True
        os.register_at_fork(
            before=_before_fork, after_in_parent=_after_fork_in_parent,
            after_in_child=_after_fork_in_child,
        )
        lava_smm.SharedMemoryManager.create_shared_memory = _create_named_segment


def hard_stop(runtime: Any) -> None:
    """Kill and join the workers of a Lava ``Runtime`` and shut its shared-memory manager down
    (unlinking every segment). Safe at any stage of a run and idempotent."""
    infra = getattr(runtime, "_messaging_infrastructure", None)
    if infra is not None:
        mine = [a for a in infra.actors if a._parent_pid == os.getpid() and a._popen is not None]
        for actor in mine:
            if not actor._is_done and actor._popen.poll() is None:
                actor.kill()  # SIGKILL: the workers ignore SIGTERM
        for actor in mine:
            actor.join()
        _shutdown_manager(infra.smm)
    watchdog = getattr(runtime, "_watchdog_manager", None)
    if watchdog is not None:
        watchdog.stop()
    runtime._is_running = runtime._is_started = False


def _shutdown_manager(smm: lava_smm.SharedMemoryManager | None) -> None:
    """Shut the manager server down; kill it if it does not exit (it ignores SIGTERM)."""
    manager = getattr(smm, "_manager", None)
    if manager is None:
        return
    server = getattr(manager, "_process", None)
    try:
        smm.shutdown()
    except Exception:  # a server interrupted while it started: no shutdown hook yet
        smm._manager = None
    if server is not None and server.is_alive():
        server.kill()
        server.join()


def detach(runtime: Any) -> None:
    """Make every process of ``runtime`` forget it: Lava's ``Process.__del__`` then does not
    call ``stop()`` on a runtime that is already gone."""
    executable = getattr(runtime, "_executable", None)
    for process in getattr(executable, "process_list", None) or []:
        process.runtime = None


def remove_stale(tmpdir: str | Path | None = None) -> list[str]:
    """Remove our ``/dev/shm`` segments and run folders (in ``tmpdir``, default the temporary
    directory) whose process provably no longer exists; returns the removed names."""
    removed = []
    segment = re.compile(rf"{SEGMENT_PREFIX}_{TAG_PATTERN}_\d+")
    if SHM_DIR.is_dir():
        for entry in os.scandir(SHM_DIR):
            m = segment.fullmatch(entry.name)
            if m and _owned(entry) and tag_stale(*m.groups()):
                _quietly(os.unlink, entry.path)
                removed.append(entry.name)
    folder = re.compile(rf"{RUN_DIR_PREFIX}_{TAG_PATTERN}_.+")
    base = Path(tmpdir) if tmpdir is not None else Path(tempfile.gettempdir())
    if base.is_dir():
        for entry in os.scandir(base):
            m = folder.fullmatch(entry.name)
            stale = m and entry.is_dir(follow_symlinks=False) and _owned(entry)
            if stale and tag_stale(*m.groups()):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
    return removed


def _owned(entry: os.DirEntry) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except OSError:
        pass


@contextmanager
def _signals_held() -> Iterator[list[int]]:
    """SIGINT and SIGTERM are recorded (not raised) while inside; yields the list of them."""
    held: list[int] = []
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            old = signal.getsignal(sig)
            if old not in (signal.SIG_IGN, None):
                saved[sig] = old
                signal.signal(sig, lambda signum, _frame: held.append(signum))
    try:
        yield held
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


class LavaSession:
    """One Lava run: its temporary folder, its workers and its clean stop.

        with LavaSession(samples=n, period=t) as session:
            net = NetworkBuilder(spec, frames, session.workdir, tag, record).build()
            session.run(net.source, steps, run_cfg)     # as often as needed
            ...                                         # read the recordings
            session.stop(failed=False)                  # optional: the exit stops it too
        # workers ended, segments unlinked, workdir removed (also on errors and interrupts)
    """

    def __init__(self, samples: int, period: int) -> None:
        self.samples, self.period = samples, max(1, period)
        self.steps_done = 0
        self.workdir = Path()
        self._process: Any = None
        self._held: list[int] = []
        self._signals = stop_signals_raise()
        self._mp_tempdir: str | None = None

    def __enter__(self) -> LavaSession:
        install()
        remove_stale()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}_{process_tag()}_"))
        self._signals.__enter__()  # SIGTERM stops a run cleanly also outside the commands
        self._mp_tempdir = _MP_CONFIG.get("tempdir")
        if len(str(self.workdir)) <= SOCKET_DIR_MAX:  # the manager server's socket goes here
            _MP_CONFIG["tempdir"] = str(self.workdir)
        _fork["active"] += 1
        return self

    def run(self, process: Any, steps: int, run_cfg: Any) -> None:
        """``process.run`` for ``steps`` steps (compiling on the first call)."""
        self._process = process
        process.run(condition=RunSteps(num_steps=steps), run_cfg=run_cfg)
        self.steps_done += steps

    def stop(self, failed: bool) -> None:
        """End the run: Lava's own ``stop()`` after a successful run, then (always, and at once
        when ``failed`` or when that stop is interrupted) :func:`hard_stop`. Idempotent."""
        runtime = getattr(self._process, "runtime", None)
        if runtime is None:
            return
        try:
            if not failed:
                self._process.stop()
        finally:
            with _signals_held() as held:
                hard_stop(runtime)
                detach(runtime)
            self._held += held

    def done(self) -> str:
        """How far the run got and what was cleaned up, for the interrupt line."""
        if self._process is None:
            where = "while building the Lava network"
        else:
            streamed = min(self.samples, self.steps_done // self.period)
            where = f"during the Lava run ({streamed} of {self.samples} samples streamed)"
        return f"{where}; Lava workers stopped, shared memory and temporary files removed"

    def __exit__(self, exc_type, exc: BaseException | None, tb) -> bool:
        error = exc
        try:
            self.stop(failed=exc is not None)
        except BaseException as err:  # an interrupt or a Lava error while stopping
            error = exc if exc is not None else err
        with _signals_held() as held:
            shutil.rmtree(self.workdir, ignore_errors=True)
            _fork["active"] -= 1
            if self._mp_tempdir is None:
                _MP_CONFIG.pop("tempdir", None)
            else:
                _MP_CONFIG["tempdir"] = self._mp_tempdir
        self._held += held
        self._signals.__exit__(None, None, None)
        if isinstance(error, KeyboardInterrupt):
            raise Interrupted(getattr(error, "signum", signal.SIGINT), self.done()) from None
        if error is not None and error is not exc:
            raise error
        if error is None and self._held:  # a signal arrived while cleaning up
            raise Interrupted(self._held[0], self.done())
        return False
