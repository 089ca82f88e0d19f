#!/usr/bin/env bash
# Set up .venv (see setup.sh) and run the main job on the embedded digits:
#   1. train the tiny DS2TA (lava-dl SLAYER, 8-bit weights) and print its test accuracy,
#   2. export it to netx-style HDF5,
#   3. run it as Lava processes on the CPU backend (fixed_pt) over the whole test split and
#      print Lava's and PyTorch's accuracies, their agreement and per-layer spike counts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
run=runs/ds2ta_digits
.venv/bin/ds2ta-train --config train/configs/ds2ta_digits.yaml --overwrite "$@"
.venv/bin/ds2ta-export "$run/last.pt" -o "$run/model.net"
.venv/bin/ds2ta-run-cpu "$run/model.net" --data digits --checkpoint "$run/last.pt"
