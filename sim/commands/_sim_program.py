"""``ftvoter sim --program``: a C program on CPU lanes in lockstep (part of ``sim``)."""

import sys
import time
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ._common import UsageError, check_flip, check_output

__all__ = ["run_program_command"]


def run_program_command(args, params):
    from ..program_run import CPU_LANES, run_program
    from ..programs import ProgramError
    if args.lane not in CPU_LANES:
        raise UsageError(f"--program needs a CPU lane (--lane {' or '.join(CPU_LANES)}), "
                         f"not {args.lane!r}")
    if args.program is None:
        raise UsageError(f"--lane {args.lane} needs --program FILE (a C file or an ELF)")
    if args.offset:
        raise UsageError("--program runs plain lockstep only (no --offset)")
    cycles = args.cycles or 50_000_000
    flip = check_flip(args.flip, params) if args.flip is not None else None
    console = None if args.console in (None, "-") else Path(args.console)
    waves = None if args.waves.lower() == "none" else Path(args.waves).resolve()
    for file in (console, waves):
        if file is not None:
            check_output(file)
    started = time.perf_counter()
    try:
        figures = run_program(params, args.program, cycles=cycles, flip=flip,
                              waves_file=waves)
    except ProgramError as error:
        raise UsageError(str(error)) from None
    total = time.perf_counter() - started
    if args.console == "-":
        sys.stdout.buffer.write(figures["console"])
        sys.stdout.flush()
    elif console is not None:
        write_atomic(console, figures["console"])
    _print_summary(args, figures, flip, total, waves, cycles)
    return 0


def _print_summary(args, figures, flip, total, waves, cycles):
    out = sys.stderr if args.console == "-" else sys.stdout
    kind = {2: "DMR", 3: "TMR"}[args.lanes]

    def say(text):
        print(text, file=out)
    say(f"ftvoter sim: {kind} lockstep of {args.lanes} '{args.lane}' lanes running "
        f"{args.program}")
    code = figures["exit_code"]
    say("  exit          " + (f"exit {code}" if code is not None else
                              f"none (stopped after {cycles} cycles)"))
    say(f"  cycles        {figures['cycles']}")
    retired = figures["retired"]
    say("  retired       " + (f"{retired} instructions" if retired is not None
                              else "(the core does not tell)"))
    writes, reads = len(figures["io_writes"]), len(figures["io_reads"])
    say(f"  I/O           {writes + reads} transactions ({writes} writes, {reads} reads); "
        f"console {len(figures['console'])} bytes")
    say(f"  mismatches    {figures['mismatch_events']}"
        + (f", first at cycle {figures['first_mismatch_cycle']}"
           if figures["first_mismatch_cycle"] is not None else ""))
    if flip is not None:
        say(f"  flip          {args.flip}: " + ("applied" if figures["flip_cycle"] is not None
                                                else "not applied (the run ended before)"))
    say(f"  self_error    {figures['self_error']:0{args.lanes}b} (lane {args.lanes - 1}..0)")
    bridge = figures.get("bridge")
    if bridge is not None:
        say(f"  lanes         {' '.join(bridge['lane_states'])}"
            + ("; bridge HALTED (fail-safe)" if bridge["halted"] else ""))
    if waves is not None:
        say(f"  waveform      {waves}")
    say(f"  wall time     {total:.1f} s (simulation {figures['wall_seconds']:.2f} s)")
