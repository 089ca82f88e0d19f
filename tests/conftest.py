"""Shared pytest setup: quiet lava-dl imports, deterministic seeds, and a check that no Lava run
leaves shared-memory segments behind.

Lava runs name their segments ``lava_ds2ta_<ns>_<pid>_<ticks>_<n>`` (lava_ds2ta.deploy.lifecycle):
the check counts only new segments of this test process or of processes that have ended (test
subprocesses), not those of other Lava users of the machine.
"""

import os
import re
import tempfile
import warnings

import pytest
import torch

from lava_ds2ta.utils.procs import tag_stale

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

SHM = "/dev/shm"
OURS = re.compile(r"lava_ds2ta_(\d+)_(\d+)_(\d+)_\d+")


def _shm() -> set[str]:
    return set(os.listdir(SHM)) if os.path.isdir(SHM) else set()


def _left_by_us(names: set[str]) -> list[str]:
    out = []
    for name in names:
        m = OURS.fullmatch(name)
        if m and (int(m.group(2)) == os.getpid() or tag_stale(*m.groups())):
            out.append(name)
    return sorted(out)


def pytest_sessionstart(session):
    session.config._shm_before = _shm()


def pytest_sessionfinish(session, exitstatus):
    left = _left_by_us(_shm() - getattr(session.config, "_shm_before", set()))
    if left:
        print(
            f"\nerror: {len(left)} /dev/shm segments left behind by Lava runs: {sorted(left)[:5]}"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def _files_under_tmp(tmp_path_factory):
    """Every test writes under pytest's tmp dir: the data cache, Lava's recording folders and
    other temporary files (also in subprocesses, through the environment)."""
    tmp = tmp_path_factory.mktemp("tmp")
    saved = {k: os.environ.get(k) for k in ("LAVA_DS2TA_CACHE", "TMPDIR")}
    os.environ["LAVA_DS2TA_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    yield
    tempfile.tempdir = None
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
