"""Run an exported network on Lava's CPU backend and collect logits and spikes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field

import numpy as np
from lava.magma.core.run_configs import Loihi2SimCfg
from tqdm import tqdm

from lava_ds2ta.deploy.builder import NetworkBuilder
from lava_ds2ta.deploy.lifecycle import LavaSession


@dataclass
class LavaResult:
    """What a Lava run produced. Spikes use SLAYER's layout ``N, C, H, W, T``."""

    logits: np.ndarray  # (N, classes) in integer units: logit_scale(tokens, T) * model logits
    spikes: dict[int, np.ndarray] = field(default_factory=dict)
    num_steps: int = 0
    seconds: float = 0.0
    num_processes: int = 0

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def steps_per_second(self) -> float:
        return self.num_steps / self.seconds if self.seconds else float("nan")


def to_frames(x_levels: np.ndarray) -> np.ndarray:
    """``(N, C, H, W, T)`` input levels -> ``(C*H*W, N*T)``, samples back to back."""
    n, c, h, w, t = x_levels.shape
    return np.ascontiguousarray(x_levels.transpose(1, 2, 3, 0, 4).reshape(c * h * w, n * t))


def _per_sample(data: np.ndarray, latency: int, n: int, t: int) -> np.ndarray:
    """Ring-buffer columns of ``n`` samples of ``t`` steps starting at ``latency``."""
    return data[:, latency : latency + n * t].reshape(data.shape[0], n, t)


def run_network(
    spec,
    x_levels: np.ndarray,
    tag: str = "fixed_pt",
    record: bool = False,
    progress: bool = False,
    chunk_samples: int = 20,
) -> LavaResult:
    """Stream ``x_levels`` (``N, C, H, W, T`` integer input levels) through Lava.

    The network is compiled once; samples follow each other every T steps. The run is always
    stopped, also on error or interrupt (SIGINT/SIGTERM), and leaves no worker process,
    ``/dev/shm`` segment or temporary file behind (:class:`LavaSession`).
    """
    n, _, _, _, t = x_levels.shape
    with LavaSession(samples=n, period=t) as session:
        frames = to_frames(x_levels.astype(np.int64))
        net = NetworkBuilder(spec, frames, session.workdir, tag, record).build()
        return _run(net, n, t, tag, progress, chunk_samples, session)


def _run(
    net, n: int, t: int, tag: str, progress: bool, chunk_samples: int, session: LavaSession
) -> LavaResult:
    cfg = Loihi2SimCfg(select_tag=tag)
    chunk = max(1, chunk_samples) * t
    start = time.perf_counter()
    ran = False
    try:
        done = 0
        with tqdm(total=n, unit="sample", disable=not progress, desc=f"lava {tag}") as bar:
            while done < net.num_steps:
                steps = min(chunk, net.num_steps - done)
                session.run(net.source, steps, cfg)
                done += steps
                bar.n = min(n, max(0, (done - net.output_latency) // t))
                bar.refresh()
        ran = True
        seconds = time.perf_counter() - start
        rec = _per_sample(np.load(net.output), net.output_latency, n, t).sum(axis=2)
        logits = rec.T + t * net.step_bias[None, :]
        spikes = {}
        for index, (path, latency, shape) in net.spikes.items():
            s = _per_sample(np.load(path), latency, n, t)  # (C*H*W, N, T)
            spikes[index] = s.transpose(1, 0, 2).reshape((n, *shape, t))
    finally:
        session.stop(failed=not ran)
    if tag == "fixed_pt":
        logits = np.rint(logits).astype(np.int64)
        spikes = {k: np.rint(v).astype(np.int64) for k, v in spikes.items()}
    return LavaResult(logits, spikes, net.num_steps, seconds, len(net.processes))
