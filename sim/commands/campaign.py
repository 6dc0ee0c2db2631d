"""``ftvoter campaign``: run a fault-insertion campaign and print its outcome table."""

import os
import signal
import sys
from pathlib import Path

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
                    "injection to DIR/results.jsonl (with DIR/manifest.json). A progress "
                    "line shows count, rate and ETA on standard error. Exit status: 0 "
                    "done, 1 tool failure, 2 bad spec or arguments, 130 interrupted (the "
                    "completed injections are kept: finish with --resume).")
    campaign.add_argument("spec", metavar="SPEC", type=path, help="campaign spec (TOML)")
    campaign.add_argument("-o", "--output", metavar="DIR", type=path,
                          help="result folder (default: reports/<campaign name>)")
    campaign.add_argument("--workers", type=integer(1, MAX_WORKERS),
                          default=os.cpu_count() or 1,
                          help="parallel simulator processes (default: the number of "
                               "CPUs, %(default)s here)")
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
    from ..results import ResultStore, ResultStoreError
    from ..spec import SpecError, load_spec
    if args.fresh and args.resume:
        raise UsageError("--fresh and --resume exclude each other")
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        raise UsageError(str(error)) from None
    directory = Path(args.output or Path("reports") / spec.name)
    try:
        figures = run_campaign(spec, directory, workers=args.workers, resume=args.resume,
                               fresh=args.fresh, progress=not args.quiet)
    except (ResultStoreError, SpecError) as error:
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
        print(f"ftvoter campaign: {figures['ran']} injections in {figures['seconds']:.1f} s "
              f"({rate:.0f}/s, {figures['workers']} workers); {figures['sim_errors']} "
              f"simulator errors")
    print(format_summary(summary(records), f"{spec.name}: {directory}"))
    return 0
