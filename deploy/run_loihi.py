"""Loihi 2: check, run (``--sim``: hardware form on the CPU), bundle and submit.

    python deploy/run_loihi.py check model.net --data digits
    python deploy/run_loihi.py run model.net --data digits --samples 4 --sim

Thin wrapper of :mod:`lava_ds2ta.loihi.cli` (console entry point ``ds2ta-loihi``).
"""

import sys

from lava_ds2ta.loihi.cli import main

if __name__ == "__main__":
    sys.exit(main())
