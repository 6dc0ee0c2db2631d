"""``ftvoter bench-campaign``: campaign throughput against the naive way and C++."""

import os
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, UsageError, integer, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    throughput = commands.add_parser(
        "bench-campaign", help="measure campaign throughput against the naive way and C++",
        description="Run the campaign of SPEC three ways on the same Verilated bench and "
                    "print injections/s and bench cycles/s: the campaign engine (with "
                    "--workers and with one), a plain C++ loop over the same injections "
                    "(no cocotb, no VPI: the physical limit), and the naive way (cocotb "
                    "driving the clock and awaiting every edge) on a sample; the engine "
                    "again on benches of K faulty copies sharing one golden copy "
                    "(--copies); then the ratios, and each one-process engine run as a "
                    "share of the limit: the injections' mean settle time on one faulty "
                    "copy alone at its plain C++ speed.")
    throughput.add_argument("spec", nargs="?", default="campaigns/dmr.toml", metavar="SPEC",
                            type=path, help="campaign spec (default: %(default)s)")
    throughput.add_argument("--workers", type=integer(1, MAX_WORKERS),
                            default=os.cpu_count() or 1,
                            help="campaign workers (default: the number of CPUs, "
                                 "%(default)s here)")
    throughput.add_argument("--naive", type=integer(1, 100_000), default=200, metavar="N",
                            help="injections run the naive way (default: %(default)s)")
    throughput.add_argument("--copies", type=_copies, default=(4,), metavar="K[,K...]",
                            help="faulty copies per bench for the extra engine runs (one "
                                 "worker; default: 4)")
    throughput.add_argument("--json", metavar="FILE", type=path,
                            help="also write the figures to FILE as JSON")
    return throughput


def _copies(text):
    import argparse

    from ftvoter.hdl.encodings import MAX_COPIES
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(1 <= k <= MAX_COPIES for k in values):
        raise argparse.ArgumentTypeError(f"expected numbers from 1 to {MAX_COPIES} "
                                         f"separated by commas, not {text!r}")
    return values


def run(args):
    import json

    from ..campaign import CampaignError
    from ..spec import SpecError, load_spec
    from ..throughput import campaign_throughput, print_throughput
    try:
        spec = load_spec(args.spec)
        rows, ratios = campaign_throughput(spec, workers=args.workers, naive=args.naive,
                                           copies=args.copies)
    except SpecError as error:
        raise UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    print_throughput(spec, rows, ratios, args.workers)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"spec": spec.source, "rows": rows,
                                                  "ratios": ratios}, indent=2))
    return 0
