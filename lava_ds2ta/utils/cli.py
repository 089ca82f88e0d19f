"""Console-command plumbing shared by every ``ds2ta-*`` command.

Every expected failure ends a command with exactly one line on stderr and no traceback:

- a :class:`~lava_ds2ta.errors.Ds2taError` (a wrong file, value, shape or path):
  ``error: <problem>; <fix>``, exit 2;
- a bad command-line argument (:class:`Parser`): ``error: <prog>: <problem>; see <prog> --help``,
  exit 2;
- an ``OSError`` (a path that cannot be read or written, a full disk) or a ``MemoryError``:
  ``error: <path>: <reason>; ...``, exit 2;
- SIGINT (Ctrl-C) or SIGTERM: ``interrupted by SIGINT <what was done>; <what was kept>``, exit
  130 or 143 (128 + the signal number).

``--debug`` (or the environment variable ``LAVA_DS2TA_DEBUG=1``) shows the full traceback
instead. While a command runs, SIGTERM is handled like SIGINT: both raise
:class:`~lava_ds2ta.errors.Interrupted` (a ``KeyboardInterrupt``) in the main thread, so clean-up
code (atomic writes, the Lava run's :mod:`~lava_ds2ta.deploy.lifecycle`) runs for both. A signal
that was ignored when the command started (a background job of a non-interactive shell) stays
ignored.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.errors import Interrupted

#: Environment variable that turns on tracebacks for every command.
DEBUG_ENV = "LAVA_DS2TA_DEBUG"
#: Signals that stop a command cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds after which a stop signal that arrived at an unsafe moment is sent again.
RESEND_S = 0.05

#: While ``depth > 0`` (inside the at-fork hooks of a Lava run, :mod:`lava_ds2ta.deploy.lifecycle`)
#: a stop signal is sent again shortly instead of raised: Python drops (and prints) an exception
#: raised inside an at-fork hook, and the run would go on as if nothing had happened.
_unsafe = {"depth": 0}


def unsafe_moment(delta: int) -> None:
    """Enter (``+1``) or leave (``-1``) a moment where raising ``Interrupted`` would be lost."""
    _unsafe["depth"] += delta


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line usage errors: ``error: <prog>: <problem>; see <prog> --help``."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= minimum`` (``--samples``, ``--verify``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number ``> 0`` (``--max-memory``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    help_text = f"show the full traceback of an error (or set {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=help_text)


def debug_requested(debug: bool = False) -> bool:
    """``--debug`` given, or ``LAVA_DS2TA_DEBUG`` set to something other than ``0``."""
    return debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _raise_interrupted(signum: int, _frame) -> None:
    if _unsafe["depth"] > 0:
        resend = threading.Timer(RESEND_S, os.kill, (os.getpid(), signum))
        resend.daemon = True
        resend.start()
        return
    raise Interrupted(signum)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (signals
    ignored on entry stay ignored); the previous handlers are restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {}
    for sig in STOP_SIGNALS:
        old = signal.getsignal(sig)
        if old not in (signal.SIG_IGN, None):
            saved[sig] = old
            signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def interrupt_line(exc: KeyboardInterrupt, kept: str = "") -> str:
    """``interrupted by SIGINT <what was done>; <what was kept>``."""
    signum = getattr(exc, "signum", signal.SIGINT)
    done = getattr(exc, "done", "")
    line = f"interrupted by {signal.Signals(signum).name}" + (f" {done}" if done else "")
    return f"{line}; {kept}" if kept else line


def os_error_line(exc: OSError) -> str:
    """One line for an ``OSError``: the path, the reason and what to check."""
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    where = f"{exc.filename}: " if exc.filename else ""
    return (
        f"{where}{reason}; check the path, its permissions and the free disk space "
        "(--debug shows the traceback)"
    )


@functools.cache
def _register_quick_exit() -> None:
    """At interpreter exit, skip the final garbage collection of torch's and Lava's module
    objects (``gc.freeze``): it takes seconds on a loaded machine and frees nothing that matters
    to a process that is ending. Registered once."""
    atexit.register(gc.freeze)


def run_command(
    body: Callable[[], int | None],
    debug: bool = False,
    prefix: str = "",
    kept: Callable[[], str] | None = None,
) -> int:
    """Run ``body`` and return its exit code (0 for ``None``); see the module docstring.

    ``prefix`` starts every line (``"[rank 1] "`` under ``torchrun``); ``kept()`` says, after an
    interruption, what the command leaves behind (e.g. the last checkpoint and how to resume).
    """
    debug = debug_requested(debug)
    _register_quick_exit()

    def report(line: str) -> None:
        if sys.stderr.isatty():  # leave a progress bar's line
            print(file=sys.stderr)
        print(f"{prefix}{line}", file=sys.stderr)

    try:
        with stop_signals_raise():
            return body() or 0
    except KeyboardInterrupt as exc:
        if debug:
            raise
        report(interrupt_line(exc, kept() if kept is not None else ""))
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    except Ds2taError as exc:
        if debug:
            raise
        report(f"error: {exc}")
    except OSError as exc:
        if debug:
            raise
        report(f"error: {os_error_line(exc)}")
    except MemoryError:
        if debug:
            raise
        report("error: out of memory; use fewer samples or a smaller model (--debug for details)")
    return 2
