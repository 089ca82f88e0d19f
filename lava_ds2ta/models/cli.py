"""``ds2ta-params``: print trainable parameter counts of presets and variants."""

from __future__ import annotations

import sys

from lava_ds2ta.models import PRESETS
from lava_ds2ta.models import VARIANTS
from lava_ds2ta.models import create_model
from lava_ds2ta.utils.cli import Parser
from lava_ds2ta.utils.cli import add_debug_flag
from lava_ds2ta.utils.cli import run_command

#: Parameter counts reported in the paper (Tables 1 and 2), same for Spikformer and DS2TA.
PAPER_PARAMS = {"vit-4-384": 9.32e6, "vit-2-256": 2.58e6}


def count_trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="ds2ta-params", description=__doc__)
    parser.add_argument("presets", nargs="*", default=list(PRESETS), help="presets to count")
    parser.add_argument("--models", nargs="+", default=list(VARIANTS), help="variants to count")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    return run_command(lambda: table(args.presets, args.models), args.debug)


def table(presets: list[str], models: list[str]) -> None:
    print(f"{'preset':<11} {'model':<11} {'parameters':>11}  {'paper':>7}  {'diff':>7}")
    for preset in presets:
        for name in models:
            n = count_trainable(create_model(name, preset=preset))
            paper = PAPER_PARAMS.get(preset)
            ref = f"{paper / 1e6:6.2f}M  {100 * (n - paper) / paper:+6.2f}%" if paper else ""
            print(f"{preset:<11} {name:<11} {n:>11,d}  {ref}")


if __name__ == "__main__":
    sys.exit(main())
