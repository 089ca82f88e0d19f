#!/usr/bin/env python
"""Attention ablation of an MA-SNN config: ``python train/ablation.py --config X.yaml``.

Thin wrapper around :func:`lava_ds2ta.training.ablation.main` (same as ``ds2ta-ablation``).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from lava_ds2ta.training.ablation import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
