"""Shared pytest setup: quiet lava-dl imports, deterministic seeds, and a check that no Lava run
leaves shared-memory segments behind."""

import os
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


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
