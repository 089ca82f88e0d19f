#!/usr/bin/env bash
# Set up .venv (see setup.sh) and run the main job: train the tiny DS2TA on the
# embedded scikit-learn digits and print its test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ds2ta-train --config train/configs/ds2ta_digits.yaml --overwrite "$@"
