"""Training step time of our variants and of spikingjelly's Spikformer, as ratios, in one run.

For every preset and batch size the models are measured in one process, interleaved round-robin
so machine load affects them alike; each number is the median over steps of forward + backward
+ AdamW step. Ratios are to our ``spikformer`` and, when spikingjelly (0.0.0.0.14, not a project
dependency) is importable, to spikingjelly's Spikformer at the same dimensions:

    .venv/bin/python benchmarks/train_step_time.py --preset tiny --batch 32
    PYTHONPATH=/path/to/sj_site .venv/bin/python benchmarks/train_step_time.py \\
        --preset tiny vit-4-384 --batch 8 32 --steps 5

The reference is Spikformer's CIFAR model (Zhou et al., ``cifar10/model.py``) with the dims of
our preset: SPS stages of Conv3x3 + BatchNorm2d + LIF (max-pool after the stages marked in
``sps_pool``) and the RPE conv; encoder blocks of SSA (``(q k^T * 0.125) v``, attention LIF at
threshold 0.5, output projection) and the MLP; token and time mean, linear head. Token
projections are 1x1 Conv1d + BatchNorm1d on ``(T*B, C, N)``, the layout of Spikformer's DVS
model (its CIFAR model's Linear + transposed BatchNorm1d is slower on CPU). Its neurons are
spikingjelly's ``MultiStepLIFNode(tau=2, detach_reset=True, backend='torch')``, reset after
every step as in Spikformer's training loop.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn

from lava_ds2ta import create_model
from lava_ds2ta.models.config import ModelConfig

VARIANTS = ("spikformer", "ds2ta_nsad", "ds2ta")
SJ = "spikingjelly"


def _lif(threshold: float = 1.0) -> nn.Module:
    from spikingjelly.clock_driven.neuron import MultiStepLIFNode

    return MultiStepLIFNode(tau=2.0, v_threshold=threshold, detach_reset=True, backend="torch")


class _ConvBNLIF(nn.Module):
    """SPS stage: ``(T, B, C, H, W)`` -> LIF(BN(Conv3x3(x))) on the flattened ``T*B`` batch."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn, self.lif = nn.BatchNorm2d(cout), _lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        return self.lif(y.reshape(t, b, *y.shape[1:]).contiguous())


class _TokenBNLIF(nn.Module):
    """Token projection: ``(T, B, C, N)`` -> LIF(BN1d(Conv1d 1x1(x))) on the ``T*B`` batch."""

    def __init__(self, cin: int, cout: int, bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 1, bias=bias)
        self.bn, self.lif = nn.BatchNorm1d(cout), _lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        return self.lif(y.reshape(t, b, *y.shape[1:]).contiguous())


class _SSA(nn.Module):
    """Spikformer's spiking self-attention, ``(T, B, C, N)``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = (_TokenBNLIF(dim, dim, bias=False) for _ in range(3))
        self.attn_lif = _lif(0.5)
        self.proj = _TokenBNLIF(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, c, n = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            y = y.transpose(-1, -2).reshape(t, b, n, self.heads, c // self.heads)
            return y.permute(0, 1, 3, 2, 4).contiguous()

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        y = ((q @ k.transpose(-2, -1)) * 0.125) @ v
        return self.proj(self.attn_lif(y.transpose(3, 4).reshape(t, b, c, n).contiguous()))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.attn = _SSA(dim, heads)
        self.mlp = nn.Sequential(_TokenBNLIF(dim, hidden), _TokenBNLIF(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class SpikingJellySpikformer(nn.Module):
    """Spikformer (CIFAR) on spikingjelly neurons with the dims of a :class:`ModelConfig`.

    Input ``B, C, H, W`` images, repeated over ``T``; output ``B, classes`` logits. The
    original's LayerNorms, defined but unused in its forward pass, are left out.
    """

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.time_steps = c.time_steps
        n = len(c.sps_pool)
        chans = [c.in_channels] + [c.embed_dim // 2 ** (n - 1 - i) for i in range(n)]
        self.stages = nn.ModuleList(_ConvBNLIF(chans[i], chans[i + 1]) for i in range(n))
        self.pool = [p == "1" for p in c.sps_pool]
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        d = c.embed_dim
        self.rpe = _ConvBNLIF(d, d)
        hidden = d * c.mlp_ratio
        self.blocks = nn.ModuleList(_Block(d, c.num_heads, hidden) for _ in range(c.depth))
        self.head = nn.Linear(d, c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        for stage, pool in zip(self.stages, self.pool, strict=True):
            x = stage(x)
            if pool:
                t, b = x.shape[:2]
                x = self.maxpool(x.flatten(0, 1))
                x = x.reshape(t, b, *x.shape[1:])
        x = (x + self.rpe(x)).flatten(-2)  # T, B, D, N
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(3).mean(0))


def _spikingjelly_available() -> bool:
    try:
        import spikingjelly.clock_driven.neuron  # noqa: F401
    except ImportError:
        return False
    return True


def _step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One training step (forward, backward, AdamW), resetting spikingjelly's neuron states."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    reset = None
    if isinstance(model, SpikingJellySpikformer):
        from spikingjelly.clock_driven.functional import reset_net

        reset = reset_net

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if reset is not None:
            reset(model)

    return step


def measure(preset: str, batch: int, steps: int, warmup: int) -> dict[str, float]:
    """Median seconds per training step of every model, measured interleaved."""
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {name: create_model(name, preset=preset) for name in VARIANTS}
    c = models["spikformer"].config
    if _spikingjelly_available():
        models[SJ] = SpikingJellySpikformer(c)
    x = torch.rand(batch, c.in_channels, c.img_size, c.img_size)
    y = torch.randint(0, c.num_classes, (batch,))
    steps_fn = {name: _step_fn(m.train(), x, y) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + steps):
        for name, step in steps_fn.items():
            t0 = time.perf_counter()
            step()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def report(preset: str, batch: int, steps: int, med: dict[str, float]) -> None:
    """Print ms/step and the ratios to our spikformer and to spikingjelly's Spikformer."""
    t = create_model("spikformer", preset=preset).config.time_steps
    print(
        f"preset {preset}, batch {batch}, T={t}, {steps} steps, {torch.get_num_threads()} threads"
    )
    sj = med.get(SJ)
    print(f"{'model':<13} {'ms/step':>9} {'/ spikformer':>13} {'/ spikingjelly':>15}")
    for name, sec in med.items():
        to_sj = f"{sec / sj:15.3f}" if sj else f"{'-':>15}"
        print(f"{name:<13} {1e3 * sec:9.1f} {sec / med['spikformer']:13.3f} {to_sj}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["tiny"])
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if not _spikingjelly_available():
        print("spikingjelly not importable: measuring our variants only")
    for preset in args.preset:
        for batch in args.batch:
            report(preset, batch, args.steps, measure(preset, batch, args.steps, args.warmup))


if __name__ == "__main__":
    main()
