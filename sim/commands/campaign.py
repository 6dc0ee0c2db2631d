"""``ftvoter campaign``: run a fault-insertion campaign and print its outcome table."""

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path

from ftvoter.hdl.encodings import MAX_COPIES

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, UsageError, integer, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    campaign = commands.add_parser(
        "campaign", help="run a fault-insertion campaign and print its outcome table",
        description="Run the fault-insertion campaign described by SPEC (TOML; see the "
                    "README): build the campaign bench once, check the golden run, run "
                    "every injection in parallel shards under Verilator, classify each "
                    "into masked, latent, corrected, isolated, wrong_lane, recovered, "
                    "halted, late, false_alarm, sdc, hang or sim_error, and append one JSON "
                    "line per "
                    "injection to DIR/results.jsonl (with DIR/manifest.json; its 'stop' "
                    "says which rule ended the campaign: with faults.stop = \"interval\" "
                    "the campaign samples in rounds and stops once its intervals are "
                    "within faults.margin). The shards run as local processes, or as "
                    "tasks on a Dask cluster (--scheduler, --cluster). A progress "
                    "line shows count, rate and ETA on standard error. Exit status: 0 "
                    "done, 1 tool failure, 2 bad spec or arguments, 130 interrupted (the "
                    "completed injections are kept: finish with --resume).")
    campaign.add_argument("spec", metavar="SPEC", type=path, help="campaign spec (TOML)")
    campaign.add_argument("-o", "--output", metavar="DIR", type=path,
                          help="result folder (default: reports/<campaign name>)")
    campaign.add_argument("--workers", type=integer(1, MAX_WORKERS),
                          help=f"parallel simulator processes on this machine (default: "
                               f"the number of CPUs, {os.cpu_count() or 1} here)")
    dask = campaign.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", metavar="ADDRESS", type=_address,
                      help="run the shards as tasks on the dask.distributed scheduler at "
                           "ADDRESS (tcp://host:8786; its workers need ftvoter installed, "
                           "see the README) instead of local processes; same results")
    dask.add_argument("--cluster", metavar="local:N", type=_local,
                      help="run the shards on a Dask LocalCluster of N worker processes "
                           "started for this campaign; same results")
    campaign.add_argument("--batch", metavar="N", type=integer(1, 1_000_000),
                          help="with --scheduler or --cluster: injections per Dask task "
                               "(default: sized to about 0.3 s of simulation each)")
    campaign.add_argument("--copies", metavar="K", type=integer(1, MAX_COPIES),
                          help="faulty copies of the system in each simulator, sharing one "
                               "golden copy (default: the spec's bench.copies, else 1); the "
                               "same results, faster for K of 2 to 8 (see the README)")
    campaign.add_argument("--resume", action="store_true",
                          help="finish the campaign already in DIR: run only the "
                               "injections it does not hold (a finished one is only "
                               "summarised again)")
    campaign.add_argument("--fresh", action="store_true",
                          help="discard the campaign already in DIR (its own files only, "
                               "once the spec and plan are checked) and start again")
    campaign.add_argument("--quiet", action="store_true",
                          help="no progress line")
    return campaign


def _address(text):
    from ..dask_backend import check_address
    try:
        return check_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _local(text):
    from ..dask_backend import local_workers
    try:
        workers = local_workers(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if workers > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected local:1 to local:{MAX_WORKERS}, not "
                                         f"{text!r}")
    return workers


def run(args):
    def stop(signum, frame):
        raise KeyboardInterrupt
    # SIGTERM stops a campaign as Ctrl-C does: shards stopped, completed injections kept.
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return _campaign(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _campaign(args):
    from ..campaign import CampaignError, format_summary, run_campaign, summary
    from ..dask_backend import ClusterError
    from ..results import ResultStore, ResultStoreError
    from ..spec import SpecError, load_spec
    if args.fresh and args.resume:
        raise UsageError("--fresh and --resume exclude each other")
    dask = args.scheduler is not None or args.cluster is not None
    if dask and args.workers is not None:
        raise UsageError("--workers is the local engine's; with --scheduler or --cluster "
                         "the cluster's workers run the shards")
    if args.batch is not None and not dask:
        raise UsageError("--batch is the injections per Dask task: give it with "
                         "--scheduler or --cluster")
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        raise UsageError(str(error)) from None
    if args.copies is not None:
        spec = dataclasses.replace(spec, bench={**spec.bench, "copies": args.copies})
    directory = Path(args.output or Path("reports") / spec.name)
    try:
        figures = run_campaign(spec, directory, workers=args.workers or os.cpu_count() or 1,
                               resume=args.resume, fresh=args.fresh, progress=not args.quiet,
                               scheduler=args.scheduler, cluster=args.cluster,
                               batch=args.batch)
    except (ResultStoreError, SpecError, ClusterError) as error:
        raise UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    except KeyboardInterrupt:
        store = ResultStore(directory)
        if not store.manifest.exists():
            print("\nftvoter campaign: interrupted before any injection ran; nothing was "
                  "written", file=sys.stderr)
            return 130
        done = len(store.records())
        print(f"\nftvoter campaign: interrupted with {done} injections recorded in "
              f"{directory}; finish with: ftvoter campaign {args.spec} -o {directory} "
              f"--resume", file=sys.stderr)
        return 130
    records = ResultStore(directory).records()
    if figures.get("ran"):
        rate = figures["ran"] / figures["seconds"]
        where = "" if not dask else (f" on the Dask scheduler {args.scheduler}"
                                     if args.scheduler else " on a local Dask cluster")
        print(f"ftvoter campaign: {figures['ran']} injections in {figures['seconds']:.1f} s "
              f"({rate:.0f}/s, {figures['workers']} workers{where}); "
              f"{figures['sim_errors']} simulator errors")
    print(format_summary({**summary(records), "stop": figures.get("stop")},
                         f"{spec.name}: {directory}"))
    return 0
