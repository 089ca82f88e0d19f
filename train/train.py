#!/usr/bin/env python
"""Train a DS2TA / Spikformer model: ``python train/train.py --config train/configs/X.yaml``.

Thin wrapper around :func:`lava_ds2ta.training.cli.main` (same as the ``ds2ta-train`` command).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from lava_ds2ta.training.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
