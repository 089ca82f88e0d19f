#!/usr/bin/env bash
# Create .venv with Python 3.10 and install lava_ds2ta with pinned versions.
# Lava (lava-nc 0.10.0, lava-dl 0.6.0) supports only Python 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
    local cand
    for cand in "${PYTHON:-}" python3.10 \
        "$(command -v pyenv >/dev/null 2>&1 && pyenv root 2>/dev/null)/versions/"3.10*/bin/python3.10 \
        /usr/bin/python3.10 /usr/local/bin/python3.10; do
        [ -n "$cand" ] || continue
        if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
            echo "$cand"; return 0
        fi
    done
    return 1
}

stamp_of() { cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1; }

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    PY=$(find_python310) || {
        echo "error: no Python 3.10 found (lava-nc 0.10 needs 3.10): install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10" >&2
        exit 1
    }
    rm -rf .venv
    "$PY" -m venv .venv
fi

if [ "$(cat .venv/.lava_ds2ta_stamp 2>/dev/null)" != "$(stamp_of)" ]; then
    echo "setup: installing pinned dependencies into .venv (first run downloads ~3 GB for torch)" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        -c requirements/constraints.txt -e ".[dev]"
    stamp_of > .venv/.lava_ds2ta_stamp
fi
