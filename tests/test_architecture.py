"""The shape of the code: imports without cycles, dependencies that point one way, one home per
constant, and an export format that stays value for value what earlier versions wrote."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import h5py
import numpy as np
import pytest

import lava_ds2ta
from lava_ds2ta.export import export_checkpoint

PACKAGE = Path(lava_ds2ta.__file__).parent
ROOT = PACKAGE.parent
FIXTURES = Path(__file__).parent / "fixtures"


def _modules() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


# The child imports one module of ours into an interpreter that has only third-party packages
# loaded (forked from a parent that imported them once): a cycle or a missing import inside the
# package fails exactly as in a fresh interpreter, without paying torch's import time per module.
_IMPORT_EACH = r"""
import os, sys, importlib
import numpy, torch, h5py, lava.magma.runtime.message_infrastructure.multiprocessing
import lava.lib.dl.slayer, lava.lib.dl.netx, lava.proc.dense.process
torch.set_num_threads(1)
assert not any(m.startswith("lava_ds2ta") for m in sys.modules)
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            print(f"{name}: {type(exc).__name__}: {exc}", flush=True)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name)
print("FAILED", " ".join(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = _modules()
    assert len(modules) > 40
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, *modules],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("FAILED"), out.stdout[-3000:]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(module imported, line, at module level)`` for every import of ours in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    type_checking = {
        id(sub)
        for n in tree.body
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
        for sub in ast.walk(n)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            out.append((name, node.lineno, id(node) in top or id(node) in type_checking))
    return out


#: Package -> packages of ours it must never import (models <- training, export <- deploy).
FORBIDDEN = {
    "lava_ds2ta.proc": ("models", "training", "export", "deploy", "layers", "block", "data"),
    "lava_ds2ta.layers": ("models", "training", "export", "deploy", "block", "data"),
    "lava_ds2ta.models": ("training", "export", "deploy", "data"),
    "lava_ds2ta.block": ("training", "export", "deploy", "models", "data"),
    "lava_ds2ta.gate": ("models", "training", "export", "deploy", "layers", "block", "neuron",
                        "data"),  # fmt: skip
    "lava_ds2ta.export": ("training", "deploy"),
    "lava_ds2ta.training": ("export", "deploy"),
    "lava_ds2ta.data": ("models", "training", "export", "deploy", "layers"),
}


def test_dependencies_point_one_way_and_imports_sit_at_the_top():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        lines = path.read_text().splitlines()
        for name, line, top in _imports(path):
            for pkg, banned in FORBIDDEN.items():
                if module.startswith(pkg) and any(
                    name.startswith(f"lava_ds2ta.{b}") for b in banned
                ):
                    problems.append(f"{module}:{line} imports {name}")
            # An import inside a function is allowed for optional heavy dependencies only, and
            # says why in a comment on its line.
            if not top and "#" not in lines[line - 1]:
                problems.append(f"{module}:{line} imports {name} inside a function")
    assert not problems, "\n".join(problems)


def test_constants_have_one_home():
    """The contract's numbers are named in lava_ds2ta/fixed_point.py and nowhere else."""
    pattern = re.compile(
        r"^\s*(W_SCALE|TAU_MAX|STATE_LIMIT|DECAY_SCALE|VTH_MAX|BIAS_MAX|FORMAT_VERSION|FORMAT)\s*="
    )
    homes: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text().splitlines():
            m = pattern.match(line)
            if m:
                homes.setdefault(m.group(1), []).append(str(path.relative_to(PACKAGE)))
    assert all(len(v) == 1 for v in homes.values()), homes
    # Where 64 and 4096 can only mean the weight scale and the decay scale, code names them.
    offenders = []
    for pkg in ("layers", "proc", "export", "deploy", "block", "neuron", "synapse"):
        for path in (PACKAGE / pkg).rglob("*.py"):
            with open(path, "rb") as f:
                for tok in tokenize.tokenize(f.readline):
                    if tok.type == tokenize.NUMBER and tok.string in ("64", "4096", "1 << 23"):
                        offenders.append(f"{path.relative_to(PACKAGE)}:{tok.start[0]}")
    assert not offenders, offenders


#: The design notes that live beside the repository, not in it (spelt in two parts so that a
#: search of the repository for the name finds nothing, this test included).
DESIGN_NOTES = "DESIGN" + ".md"


def test_nothing_cites_files_outside_the_repository():
    hits = []
    for path in [*ROOT.rglob("*.py"), *ROOT.rglob("*.md"), *ROOT.rglob("*.ipynb")]:
        if ".venv" in path.parts:
            continue
        if DESIGN_NOTES in path.read_text(errors="replace"):
            hits.append(str(path.relative_to(ROOT)))
    assert hits == []


def _datasets(path: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:
        for key, value in f.attrs.items():
            out[f"@{key}"] = (np.asarray(value).dtype.kind, np.asarray(value).tolist())

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                v = obj[()]
                out[name] = (obj.dtype.str, obj.shape, np.asarray(v).tolist())

        f.visititems(visit)
    return out


@pytest.mark.parametrize("name", ["ds2ta", "spikformer"])
def test_export_is_value_for_value_the_committed_fixture(name, tmp_path):
    """``tests/fixtures/<name>_small.net`` was written by the first exporter from the committed
    checkpoint; exporting that checkpoint today gives the same datasets, dtypes and attributes."""
    got = _datasets(export_checkpoint(FIXTURES / f"{name}_small.pt", tmp_path / "m.net"))
    want = _datasets(FIXTURES / f"{name}_small.net")
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


def test_tests_write_only_under_tmp_path():
    """conftest points the data cache and temporary files of every test at pytest's tmp dir."""
    import tempfile

    base = Path(tempfile.gettempdir())
    assert "pytest" in str(base)
    assert "pytest" in os.environ["LAVA_DS2TA_CACHE"]
