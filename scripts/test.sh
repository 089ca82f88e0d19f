#!/usr/bin/env bash
# Set up .venv (see setup.sh), the tools of the ssh submission test, and run the linter and the
# test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_test_tools.sh
.venv/bin/ruff check lava_ds2ta train deploy tests benchmarks
.venv/bin/python -m pytest "$@"
