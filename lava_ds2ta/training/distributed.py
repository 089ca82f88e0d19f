"""Multi-process data-parallel training with PyTorch DDP, started by ``torchrun``.

``torchrun --nproc_per_node=N -m lava_ds2ta.training.cli --config ...`` sets ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init_distributed` then joins the process group (NCCL when
the processes use GPUs, gloo on CPU). Each process uses ``cuda:LOCAL_RANK`` (or the CPU). Without
those variables (or with ``WORLD_SIZE=1``) nothing is initialised and training is the ordinary
single-process run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.utils.device import select_device


def in_process_group() -> bool:
    """True when this process is in a ``torchrun`` process group. The group is never destroyed:
    gloo's destructor (torch 2.3) can wait forever for a worker thread while holding the GIL
    (seen on a 2-core machine, after every rank had passed the final barrier), so nothing could
    even time it out. It goes with the process instead, which the command ends with
    ``os._exit`` once its outputs are written (:mod:`lava_ds2ta.training.cli`)."""
    return dist.is_available() and dist.is_initialized()


@dataclass
class DistContext:
    """Rank and world size of this process (a single process: 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Sum a few numbers over all ranks (float64)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def all_true(self, flag: bool, device: torch.device) -> bool:
        """True when ``flag`` holds on every rank."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return bool(t.item() > 0)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise ConfigError(f"distributed: ${name} must be an integer, got {value!r}") from None


def init_distributed(device_pref: str) -> tuple[DistContext, torch.device]:
    """Join the ``torchrun`` process group if there is one; return the context and this process's
    device. Single-process runs get :func:`select_device` unchanged."""
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistContext(), select_device(device_pref)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if device_pref.startswith("cuda:"):
        raise ConfigError(
            f"device: '{device_pref}' under torchrun: use 'cuda' or 'auto' (process k uses "
            "cuda:LOCAL_RANK) and choose GPUs with CUDA_VISIBLE_DEVICES"
        )
    use_cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
    if use_cuda:
        if torch.cuda.device_count() <= local_rank:
            raise ConfigError(
                f"device: process {local_rank} needs cuda:{local_rank} but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible; lower --nproc_per_node"
            )
        device = select_device(f"cuda:{local_rank}")
        torch.cuda.set_device(device)
    else:
        device = select_device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise ConfigError("distributed: process group does not match $WORLD_SIZE/$RANK")
    return DistContext(rank, world, local_rank), device


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + W, ...`` of a data set: every sample exactly once over all ranks
    (unlike ``DistributedSampler``, no padding, so summed test metrics are exact)."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self):
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (running statistics, flags) to every rank."""
    _broadcast(module.buffers())


def broadcast_state(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (after a data-dependent init)."""
    with torch.no_grad():
        _broadcast(module.parameters())
    broadcast_buffers(module)


def _broadcast(tensors) -> None:
    for buf in tensors:
        if buf.dtype == torch.bool:  # gloo has no bool all-reduce/broadcast
            tmp = buf.to(torch.uint8)
            dist.broadcast(tmp, src=0)
            buf.copy_(tmp.bool())
        else:
            dist.broadcast(buf, src=0)
