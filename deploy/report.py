"""Operations, sparsity and energy measured from a deployed network.

    python deploy/report.py model.net --data digits [--samples N] [--compare other.net]

Thin wrapper of :mod:`lava_ds2ta.report.cli` (console entry point ``ds2ta-report``).
"""

import sys

from lava_ds2ta.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
