"""Run an exported network on Lava's CPU backend (``Loihi2SimCfg``).

    python deploy/run_cpu.py model.net --data digits [--samples N] [--tag fixed_pt]

Thin wrapper of :mod:`lava_ds2ta.deploy.cli` (console entry point ``ds2ta-run-cpu``).
"""

import sys

from lava_ds2ta.deploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
