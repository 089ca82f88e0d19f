"""``ds2ta-params``: print trainable parameter counts of presets and variants."""

from __future__ import annotations

import argparse
import sys

from lava_ds2ta.errors import Ds2taError
from lava_ds2ta.models import PRESETS, VARIANTS, create_model

#: Parameter counts reported in the paper (Tables 1 and 2), same for Spikformer and DS2TA.
PAPER_PARAMS = {"vit-4-384": 9.32e6, "vit-2-256": 2.58e6}


def count_trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ds2ta-params", description=__doc__)
    parser.add_argument("presets", nargs="*", default=list(PRESETS), help="presets to count")
    parser.add_argument("--models", nargs="+", default=list(VARIANTS), help="variants to count")
    args = parser.parse_args(argv)
    print(f"{'preset':<11} {'model':<11} {'parameters':>11}  {'paper':>7}  {'diff':>7}")
    try:
        for preset in args.presets:
            for name in args.models:
                n = count_trainable(create_model(name, preset=preset))
                paper = PAPER_PARAMS.get(preset)
                ref = f"{paper / 1e6:6.2f}M  {100 * (n - paper) / paper:+6.2f}%" if paper else ""
                print(f"{preset:<11} {name:<11} {n:>11,d}  {ref}")
    except Ds2taError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
