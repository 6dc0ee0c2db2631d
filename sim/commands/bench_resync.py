"""``ftvoter bench-resync``: the resync stop against the lane RAM size."""

import json
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ._common import path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    bench = commands.add_parser(
        "bench-resync", help="measure the resync stop against the lane RAM size",
        description="Run PicoRV32 in DMR on programs/churn.c (it writes memory all along) "
                    "with 1, 4 and 16 KiB lane RAMs, with and without pre-copy: a split "
                    "and merge (full copy) and a remove and insert (rapid resync) each; "
                    "print the survivors' stop, the words copied and the pre-copy rounds, "
                    "and the goal (a stop of at most 64 cycles with pre-copy). Six "
                    "Verilator builds on a cold cache.")
    bench.add_argument("--json", metavar="FILE", type=path,
                       help="also write the rows to FILE as JSON")
    return bench


def run(args):
    from ..resync_bench import print_resync_bench, resync_bench
    rows = resync_bench(progress=print)
    print_resync_bench(rows)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"rows": rows}, indent=2))
    return 0
