"""Device selection that keeps float32 arithmetic exact enough for the fixed-point contract."""

from __future__ import annotations

import torch
from lava.lib.dl.slayer import jitconfig

from lava_ds2ta.errors import ConfigError


def _configure_cuda(device: torch.device) -> None:
    """Disable TF32 and point lava-dl's JIT at this GPU's own architecture.

    TF32 rounds matmul/conv inputs to 10-bit mantissas, which breaks the exact float32 sums the
    fixed-point export relies on (docs/fixed-point.md). lava-dl's ``jitconfig`` forces
    ``TORCH_CUDA_ARCH_LIST='8.0'`` on any GPU of compute capability >= 8, which fails on Hopper
    (9.0); it must be set to the device's own "major.minor" before the first CUDA forward.
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    major, minor = torch.cuda.get_device_capability(device)
    jitconfig.TORCH_CUDA_ARCH_LIST = f"{major}.{minor}"


def select_device(pref: str = "auto") -> torch.device:
    """Return the torch device for ``pref`` ("auto", "cpu", "cuda" or "cuda:N").

    "auto" picks CUDA when available, else CPU. On CUDA the TF32 and Hopper JIT fixes are
    applied; on CPU nothing global is changed (``torch.set_num_threads`` is left alone).
    """
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "cuda" or pref.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device: '{pref}' requested but CUDA is not available; use device 'cpu' or 'auto'"
            )
        device = torch.device(pref)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device: '{pref}' does not exist ({torch.cuda.device_count()} CUDA device(s))"
            )
        _configure_cuda(device)
        return device
    raise ConfigError(f"device: unknown value {pref!r} (known: auto, cpu, cuda, cuda:N)")
