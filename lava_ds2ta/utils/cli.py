"""Console-command plumbing shared by every ``ds2ta-*`` command.

An expected failure (a :class:`~lava_ds2ta.errors.Ds2taError`: a wrong file, value, shape or path)
prints one line, ``error: <problem>; <fix>``, on stderr and exits with 2; ``--debug`` (or the
environment variable ``LAVA_DS2TA_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from lava_ds2ta.errors import Ds2taError

#: Environment variable that turns on tracebacks for every command.
DEBUG_ENV = "LAVA_DS2TA_DEBUG"


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    help_text = f"show the full traceback of an error (or set {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=help_text)


def run_command(body: Callable[[], int | None], debug: bool = False) -> int:
    """Run ``body``; return its exit code (0 for ``None``), or 2 after one ``error:`` line."""
    try:
        return body() or 0
    except Ds2taError as exc:
        if debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
