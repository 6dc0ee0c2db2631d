"""``ftvoter synth``: synthesise the lockstep demo for a dev board (YoWASP tools)."""

from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, decimal, integer, mhz, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    synth = commands.add_parser(
        "synth", help="synthesise the lockstep demo for a dev board (YoWASP tools)",
        description="Build the lockstep demo (lanes, voting bridge, error registers, "
                    "on-chip RAM; LEDs show each lane's state, the first button injects a "
                    "fault) for a board with yosys, nextpnr and the packer from the YoWASP "
                    "wheels, write the bitstream and a JSON summary (utilisation, Fmax per "
                    "clock, pass/fail against the requested clock). With --compare: build "
                    "1, 2 and 3 lanes and synthesise the bridge and one lane alone, and "
                    "write the comparison as JSON and a Markdown table.")
    synth.add_argument("--board", choices=("icebreaker", "ulx3s"), default="icebreaker",
                       help="the board (default: %(default)s)")
    synth.add_argument("--lanes", type=decimal, choices=(1, 2, 3), default=2,
                       help="1 (simplex, nothing checked), 2 (DMR) or 3 (TMR) "
                            "(default: %(default)s)")
    synth.add_argument("--freq", type=mhz, metavar="MHZ",
                       help="clock to meet, MHz (default: the board's oscillator)")
    synth.add_argument("--compare", action="store_true",
                       help="build simplex, DMR and TMR and the component areas")
    synth.add_argument("--seeds", type=integer(1, 100), default=5,
                       help="with --compare: nextpnr placement seeds per build; the median "
                            "Fmax is compared (default: %(default)s)")
    synth.add_argument("--workers", type=integer(1, MAX_WORKERS),
                       help="with --compare: builds at once (default: one per CPU)")
    synth.add_argument("-o", "--output", metavar="DIR", type=path,
                       help="build folder (default: build/synth/<board>)")
    return synth


def run(args):
    import json
    try:
        from ftvoter.boards import synth
    except ImportError as error:
        raise ToolchainError(f"synthesis needs the 'synth' extra ({error.name} is missing): "
                             f"pip install -e '.[synth]'") from None
    folder = Path(args.output or Path("build") / "synth" / args.board)
    try:
        if args.compare:
            from ftvoter.boards.compare import compare
            figures, table = compare(args.board, folder, freq_mhz=args.freq,
                                     seeds=args.seeds, workers=args.workers)
            write_atomic(folder / "compare.json", json.dumps(figures, indent=2))
            write_atomic(folder / "compare.md", table)
            print(table)
            return 0
        summary = synth.build_board(args.board, args.lanes,
                                    build_dir=folder / f"lanes{args.lanes}", freq_mhz=args.freq)
    except synth.SynthError as error:
        raise ToolchainError(str(error)) from None
    write_atomic(folder / f"lanes{args.lanes}" / "summary.json", json.dumps(summary, indent=2))
    print(f"ftvoter synth: {summary['device']}, {args.lanes} lane(s): "
          f"Fmax {summary['fmax_mhz']} MHz, requested {summary['requested_mhz']} MHz: "
          f"{'met' if summary['meets'] else 'NOT met'}")
    for cell, used in summary["utilisation"].items():
        print(f"  {cell:<16} {used['used']:>6} / {used['available']}")
    print(f"  bitstream        {summary['bitstream']}")
    return 0 if summary["meets"] else 1
