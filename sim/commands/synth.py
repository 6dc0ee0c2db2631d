"""``ftvoter synth``: synthesise the lockstep demo for a dev board (YoWASP tools)."""

from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..toolchain import ToolchainError
from ._common import MAX_WORKERS, UsageError, decimal, integer, mhz, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    synth = commands.add_parser(
        "synth", help="synthesise the lockstep demo for a dev board (YoWASP tools)",
        description="Build the lockstep demo (lanes, voting bridge, error registers, "
                    "on-chip RAM; LEDs show each lane's state, the first button injects a "
                    "fault) for a board with yosys, nextpnr and the packer from the YoWASP "
                    "wheels, write the bitstream and a JSON summary (utilisation, Fmax per "
                    "clock, pass/fail against the requested clock). --lane picorv32 puts "
                    "PicoRV32 CPUs in lockstep instead of the synthetic workload lane, each "
                    "with its own RAM holding --program and restarted after each run; the "
                    "button flips bit 0 of lane 1's a0. With --compare: build 1, 2 and 3 "
                    "lanes, DMR with PicoRV32 lanes plain and instrumented, synthesise the "
                    "bridge and one lane alone, and write the comparison as JSON and a "
                    "Markdown table.")
    synth.add_argument("--board", choices=("icebreaker", "ulx3s"), default="icebreaker",
                       help="the board (default: %(default)s)")
    synth.add_argument("--lanes", type=decimal, choices=(1, 2, 3), default=2,
                       help="1 (simplex, nothing checked), 2 (DMR) or 3 (TMR) "
                            "(default: %(default)s)")
    synth.add_argument("--lane", choices=("workload", "picorv32", "picorv32-rtl"),
                       default="workload",
                       help="what runs in lockstep: 'workload' the synthetic LFSR-driven "
                            "lane, 'picorv32' PicoRV32 instrumented (fault sites on every "
                            "lane's a0 and PC), 'picorv32-rtl' PicoRV32 from its own RTL (no "
                            "fault sites: the button does nothing) (default: %(default)s)")
    synth.add_argument("--program", metavar="FILE", type=path,
                       help="CPU lanes (required): the C file or RV32 ELF each lane runs, "
                            "e.g. programs/crc32.c")
    synth.add_argument("--ram-bytes", type=integer(1024, 2**28), metavar="BYTES",
                       help="CPU lanes: each lane's RAM, a power of two; the program and a "
                            "1 KiB stack must fit (crc32 needs 8192; the iCE40UP5K holds two "
                            "lanes of 4096) (default: 8192)")
    synth.add_argument("--parity", action="store_true",
                       help="--lane picorv32: a parity bit per register of the register "
                            "file, so DMR isolates lane 1 after the button's flip instead of "
                            "halting")
    synth.add_argument("--live-resync", action="store_true",
                       help="INSERT is a live resync, and the quick-dump window reads a "
                            "frozen lane (ftvoter console --dump)")
    synth.add_argument("--self-check", action="store_true",
                       help="a self-checking bridge: two copies compared at every output "
                            "(design.self_check of a campaign)")
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
    lane = _board_lane(args)
    name = f"lanes{args.lanes}" if not lane.cpu else f"{lane.kind}-lanes{args.lanes}"
    name += "-live" if args.live_resync else ""
    name += "-checked" if args.self_check else ""
    try:
        if args.compare:
            from ftvoter.boards.compare import compare
            figures, table = compare(args.board, folder, freq_mhz=args.freq,
                                     seeds=args.seeds, workers=args.workers)
            write_atomic(folder / "compare.json", json.dumps(figures, indent=2))
            write_atomic(folder / "compare.md", table)
            print(table)
            return 0
        summary = synth.build_board(args.board, args.lanes, build_dir=folder / name,
                                    freq_mhz=args.freq, lane=lane,
                                    live_resync=args.live_resync,
                                    self_check=args.self_check)
    except synth.SynthError as error:
        raise ToolchainError(str(error)) from None
    write_atomic(folder / name / "summary.json", json.dumps(summary, indent=2))
    what = f" of {lane.kind} running {lane.program}" if lane.cpu else ""
    print(f"ftvoter synth: {summary['device']}, {args.lanes} lane(s){what}: "
          f"Fmax {summary['fmax_mhz']} MHz, requested {summary['requested_mhz']} MHz: "
          f"{'met' if summary['meets'] else 'NOT met'} ({summary['build_seconds']:.0f} s)")
    for cell, used in summary["utilisation"].items():
        print(f"  {cell:<16} {used['used']:>6} / {used['available']}")
    print(f"  bitstream        {summary['bitstream']}")
    return 0 if summary["meets"] else 1


def _board_lane(args):
    """The lanes of the options, checked (program built) before any synthesis."""
    from ftvoter.boards.lanes import BoardLane

    from ..programs import ProgramError
    cpu = args.lane != "workload"
    if args.compare and (cpu or args.program is not None):
        raise UsageError("--compare builds its own lanes (workload, and PicoRV32 on the "
                         "example program); drop --lane and --program")
    if cpu and args.program is None:
        raise UsageError(f"--lane {args.lane} needs --program (a C file or an RV32 ELF, "
                         f"e.g. programs/crc32.c)")
    if not cpu and args.program is not None:
        raise UsageError("--program is for CPU lanes: add --lane picorv32 or picorv32-rtl")
    if not cpu and args.ram_bytes is not None:
        raise UsageError("--ram-bytes is for CPU lanes: add --lane picorv32 or picorv32-rtl")
    if args.parity and args.lane != "picorv32":
        raise UsageError(f"--parity is for --lane picorv32 (its instrumented register "
                         f"file), not {args.lane}")
    try:
        return BoardLane(args.lane, program=args.program, ram_bytes=args.ram_bytes or 8192,
                         parity=args.parity)
    except (TypeError, ValueError, ProgramError) as error:
        raise UsageError(str(error)) from None
