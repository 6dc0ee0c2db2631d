"""``ftvoter bench-checkpoint``: injections early and late in a long workload."""

from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, UsageError, integer, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    bench = commands.add_parser(
        "bench-checkpoint", help="measure injections/s early and late in a long workload",
        description="Run the same injections of SPEC (the first --injections of its plan: "
                    "sites, bits and models) twice, their starts put into the first 1%% of "
                    "the workload and into the last 1%%, on the same bench with the "
                    "campaign's checkpoints (made once and cached, timed apart), and print "
                    "the injections/s of each (steady state and whole run) and their "
                    "ratios: with checkpoints an injection costs its window, not its start "
                    "cycle. SPEC needs checkpoints (workload.checkpoint, or a CPU workload "
                    "of at least 1,000,000 cycles).")
    bench.add_argument("spec", nargs="?", default="campaigns/picorv32-dmr-ledger.toml",
                       metavar="SPEC", type=path, help="campaign spec (default: %(default)s)")
    bench.add_argument("--injections", type=integer(1, 100_000), default=400, metavar="N",
                       help="injections in each of the two runs (default: %(default)s)")
    bench.add_argument("--workers", type=integer(1, MAX_WORKERS), default=1,
                       help="campaign workers (default: %(default)s)")
    bench.add_argument("--repeat", type=integer(1, 20), default=1, metavar="R",
                       help="runs of each, alternately; the ratios are of the medians "
                            "(default: %(default)s)")
    bench.add_argument("--without", type=integer(0, 100_000), default=0, metavar="N",
                       help="also run the first N late injections without checkpoints "
                            "(each restart from reset: slow; default: %(default)s)")
    bench.add_argument("--json", metavar="FILE", type=path,
                       help="also write the rows and figures to FILE as JSON")
    return bench


def run(args):
    import json
    import sys

    from ..bench_ckpt import checkpoint_throughput, print_checkpoint_throughput
    from ..campaign import CampaignError
    from ..spec import SpecError, load_spec
    try:
        spec = load_spec(args.spec)
        rows, figures = checkpoint_throughput(
            spec, count=args.injections, workers=args.workers, repeat=args.repeat,
            without=args.without,
            say=lambda line: print(line, file=sys.stderr, flush=True))
    except SpecError as error:
        raise UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    print_checkpoint_throughput(spec, rows, figures)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"rows": rows, "figures": figures},
                                                 indent=2))
    return 0
