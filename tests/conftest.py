"""Shared pytest setup: quiet lava-dl imports, deterministic seeds, and a check that no Lava run
leaves shared-memory segments behind."""

import os
import tempfile
import warnings

import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

SHM = "/dev/shm"


def _shm() -> set[str]:
    return set(os.listdir(SHM)) if os.path.isdir(SHM) else set()


def pytest_sessionstart(session):
    session.config._shm_before = _shm()


def pytest_sessionfinish(session, exitstatus):
    left = _shm() - getattr(session.config, "_shm_before", set())
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
