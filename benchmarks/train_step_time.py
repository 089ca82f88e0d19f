"""Training step time of ``ds2ta`` and ``ds2ta_nsad`` as ratios to ``spikformer`` of the same size.

The three variants are measured in one run, interleaved round-robin so machine load affects them
alike; each number is the median over steps of forward + backward + AdamW step.

    .venv/bin/python benchmarks/train_step_time.py --preset tiny --batch 32
    .venv/bin/python benchmarks/train_step_time.py --preset vit-4-384 --batch 4 --steps 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lava_ds2ta import create_model

VARIANTS = ("spikformer", "ds2ta_nsad", "ds2ta")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(0)
    models = {name: create_model(name, preset=args.preset) for name in VARIANTS}
    c = models["spikformer"].config
    x = torch.rand(args.batch, c.in_channels, c.img_size, c.img_size)
    y = torch.randint(0, c.num_classes, (args.batch,))
    opts = {n: torch.optim.AdamW(m.parameters(), lr=1e-3) for n, m in models.items()}
    times: dict[str, list[float]] = {n: [] for n in VARIANTS}

    for step in range(args.warmup + args.steps):
        for name, model in models.items():
            t0 = time.perf_counter()
            opts[name].zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opts[name].step()
            if step >= args.warmup:
                times[name].append(time.perf_counter() - t0)

    ref = statistics.median(times["spikformer"])
    print(
        f"preset {args.preset}, batch {args.batch}, T={c.time_steps}, {args.steps} steps, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'model':<11} {'ms/step':>9} {'ratio to spikformer':>20}")
    for name in VARIANTS:
        med = statistics.median(times[name])
        print(f"{name:<11} {1e3 * med:9.1f} {med / ref:20.3f}")


if __name__ == "__main__":
    main()
