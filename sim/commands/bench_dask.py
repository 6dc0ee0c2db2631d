"""``ftvoter bench-dask``: campaign throughput on a Dask LocalCluster against the local
engine."""

import os
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, UsageError, integer, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    bench = commands.add_parser(
        "bench-dask", help="measure campaign throughput on Dask against the local engine",
        description="Run the campaign of SPEC on the local engine (--workers processes), "
                    "on a Dask LocalCluster of as many workers and on one of a single "
                    "worker, --repeat times each from a fresh start, check that every run "
                    "gives the local engine's results, and print the median injections/s "
                    "of each and the ratios: Dask against local, and Dask's scaling from "
                    "1 worker. Best run on an otherwise idle machine (the load average is "
                    "printed).")
    bench.add_argument("spec", nargs="?", default="campaigns/dmr.toml", metavar="SPEC",
                       type=path, help="campaign spec (default: %(default)s)")
    bench.add_argument("--workers", type=integer(2, MAX_WORKERS), default=2,
                       help="workers of the local engine and of the larger cluster, at "
                            "least 2 (default: %(default)s)")
    bench.add_argument("--repeat", type=integer(1, 100), default=3, metavar="N",
                       help="runs of each way; the median counts (default: %(default)s)")
    bench.add_argument("--batch", metavar="N", type=integer(1, 1_000_000),
                       help="injections per Dask task (default: sized by time)")
    bench.add_argument("--json", metavar="FILE", type=path,
                       help="also write the figures to FILE as JSON")
    return bench


def run(args):
    import json

    from ..campaign import CampaignError
    from ..dask_backend import ClusterError
    from ..dask_bench import dask_throughput, print_dask_throughput
    from ..spec import SpecError, load_spec
    load = os.getloadavg()[0]
    try:
        spec = load_spec(args.spec)
        rows, ratios = dask_throughput(spec, workers=args.workers, repeat=args.repeat,
                                       batch=args.batch)
    except (SpecError, ClusterError) as error:
        raise UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    print_dask_throughput(spec, rows, ratios, args.workers, load=load)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"spec": spec.source, "load": load,
                                                  "rows": rows, "ratios": ratios}, indent=2))
    return 0
