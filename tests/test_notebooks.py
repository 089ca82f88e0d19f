"""Every notebook runs top to bottom on the embedded data (``FULL = False``), in a scratch copy
of the repository layout so that nothing is written into the checkout; a failing cell fails the
test."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_per_topic():
    names = [p.stem for p in NOTEBOOKS]
    assert names == sorted(names) and len(names) >= 5
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        setup = next(c.source for c in book.cells if c.cell_type == "code")
        assert "FULL = False" in setup, f"{path.name}: the first code cell sets FULL = False"
        assert not any(c.get("outputs") for c in book.cells if c.cell_type == "code"), (
            f"{path.name} is committed with outputs: clear them"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "train").symlink_to(ROOT / "train")
    copy = tmp_path / "notebooks" / path.name
    shutil.copy(path, copy)
    book = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(copy.parent)}},
    )
    client.execute()  # raises CellExecutionError naming the cell on the first failure
    assert (tmp_path / "runs" / "notebooks").is_dir()
