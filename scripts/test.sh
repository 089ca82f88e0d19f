#!/usr/bin/env bash
# Set up .venv (see setup.sh) and run the linter and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check lava_ds2ta train deploy tests benchmarks
.venv/bin/python -m pytest "$@"
