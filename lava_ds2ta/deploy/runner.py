"""Run an exported network on Lava's CPU backend and collect logits and spikes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import numpy as np
from lava.magma.core.run_configs import Loihi2SimCfg
from tqdm import tqdm

from lava_ds2ta.deploy.builder import LavaNetwork
from lava_ds2ta.deploy.builder import NetworkBuilder
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.proc.conv.models import FAST_MODELS

#: The run is split into about this many ``run()`` calls after the first step, whole samples
#: each, so that the progress bar over samples moves.
PROGRESS_UPDATES = 20


@dataclass
class LavaResult:
    """What a Lava run produced. Spikes use SLAYER's layout ``N, C, H, W, T``."""

    logits: np.ndarray  # (N, classes) in integer units: logit_scale(tokens, T) * model logits
    spikes: dict[int, np.ndarray] = field(default_factory=dict)
    num_steps: int = 0
    seconds: float = 0.0  # wall time of every step but the first
    num_processes: int = 0
    startup_seconds: float = 0.0  # compiling the graph, starting the workers, the first step
    memory: dict[int, int] = field(default_factory=dict)  # synapse bytes per layer index

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def steps_per_second(self) -> float:
        """Steps per second after the first (which compiles the graph and starts Lava)."""
        return (self.num_steps - 1) / self.seconds if self.seconds else float("nan")


def to_frames(x_levels: np.ndarray) -> np.ndarray:
    """``(N, C, H, W, T)`` input levels -> ``(W*H*C, N*T)``: every frame flat in Lava's
    ``W, H, C`` order, samples back to back."""
    n, c, h, w, t = x_levels.shape
    return np.ascontiguousarray(x_levels.transpose(3, 2, 1, 0, 4).reshape(w * h * c, n * t))


def from_lava(data: np.ndarray, shape: tuple[int, ...], n: int, t: int) -> np.ndarray:
    """Recorded ``(neurons, N*T)`` columns of a layer of ``shape`` (``C, H, W`` or ``(n,)``;
    Lava's flat ``W, H, C`` order) -> SLAYER ``(N, *shape, T)``."""
    s = data.reshape(data.shape[0], n, t)
    if len(shape) == 3:
        c, h, w = shape
        return s.reshape(w, h, c, n, t).transpose(3, 2, 1, 0, 4)
    return s.transpose(1, 0, 2).reshape((n, *shape, t))


def run_network(
    spec,
    x_levels: np.ndarray,
    tag: str = "fixed_pt",
    record: bool = False,
    progress: bool = False,
    synapses: str = "conv",
    max_memory: int | None = None,
    on_build: Callable[[LavaNetwork], None] | None = None,
) -> LavaResult:
    """Stream ``x_levels`` (``N, C, H, W, T`` integer input levels) through Lava.

    The network is compiled once; samples follow each other every T steps. Convolutions are
    Lava's ``Conv`` processes run by our exact BLAS models (:data:`FAST_MODELS`); ``synapses``
    and ``max_memory`` go to :class:`NetworkBuilder`; ``on_build`` sees the built network before
    Lava starts. The first step (compiling the graph, starting the workers) is timed apart. The
    run is always stopped, also on error or interrupt (SIGINT/SIGTERM), and leaves no worker
    process, ``/dev/shm`` segment or temporary file behind (:class:`LavaSession`).
    """
    n, _, _, _, t = x_levels.shape
    with LavaSession(samples=n, period=t) as session:
        frames = to_frames(x_levels.astype(np.int64))
        net = NetworkBuilder(
            spec, frames, session.workdir, tag, record, synapses, max_memory
        ).build()
        if on_build is not None:
            on_build(net)
        return run_built(net, n, t, tag, progress, session)


def run_built(net: LavaNetwork, n: int, t: int, tag: str, progress: bool, session: LavaSession,
              period: int | None = None) -> LavaResult:  # fmt: skip
    """Run a built network for ``net.num_steps`` steps on ``Loihi2SimCfg`` (``tag``) inside
    ``session`` and read its results: ``n`` samples of ``t`` steps whose first steps are
    ``period`` (default ``t``: streamed back to back) apart. The session is always stopped."""
    period = period or t
    cfg = Loihi2SimCfg(select_tag=tag, exception_proc_model_map=FAST_MODELS[tag])
    chunk = period * max(1, -(-n // PROGRESS_UPDATES))
    ran = False
    try:
        started = time.perf_counter()
        session.run(net.source, 1, cfg)
        start, done = time.perf_counter(), 1
        with tqdm(total=n, unit="sample", disable=not progress, desc=f"lava {tag}") as bar:
            while done < net.num_steps:
                steps = min(chunk, net.num_steps - done)
                session.run(net.source, steps, cfg)
                done += steps
                bar.n = min(n, max(0, (done - net.output_latency) // period))
                bar.refresh()
        ran = True
        seconds = time.perf_counter() - start
        logits, spikes = read_results(net, n, t, period, integer=tag == "fixed_pt")
    finally:
        session.stop(failed=not ran)
    return LavaResult(logits, spikes, net.num_steps, seconds, len(net.processes),
                      startup_seconds=start - started, memory=net.memory)  # fmt: skip


def read_results(net: LavaNetwork, n: int, t: int, period: int | None = None,
                 integer: bool = True) -> tuple[np.ndarray, dict[int, np.ndarray]]:  # fmt: skip
    """The recorded logits ``(N, classes)`` (the output summed over each sample's ``t`` steps,
    plus ``t`` times the step bias) and every recorded layer's spikes in SLAYER layout
    ``(N, *shape, t)``, for ``n`` samples whose first steps are ``period`` (default ``t``) apart;
    ``integer``: rounded to int64 (fixed point)."""
    out = _window(net.output, net.output_latency, n, t, period or t)
    logits = from_lava(out, net.output_shape, n, t).reshape(n, -1, t).sum(axis=-1)
    logits = logits + t * net.step_bias[None, :]
    spikes = {index: from_lava(_window(path, latency, n, t, period or t), shape, n, t)
              for index, (path, latency, shape) in net.spikes.items()}  # fmt: skip
    if integer:
        logits = np.rint(logits).astype(np.int64)
        spikes = {k: np.rint(v).astype(np.int64) for k, v in spikes.items()}
    return logits, spikes


def _window(path: Path, latency: int, n: int, t: int, period: int) -> np.ndarray:
    """The ``n * t`` recorded columns of ``n`` samples of ``t`` steps, sample ``i`` starting at
    column ``latency + i period``."""
    data = np.load(path)
    if period == t:  # back to back: one slice
        return data[:, latency : latency + n * t]
    columns = latency + (period * np.arange(n)[:, None] + np.arange(t)).ravel()
    return data[:, columns]
