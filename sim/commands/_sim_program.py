"""``ftvoter sim --program``: a C program on CPU lanes in lockstep (part of ``sim``); also
the workload lane when management actions are played on it (``--at``, ``--timeline``)."""

import sys
import time
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ._common import UsageError, check_flip, check_output

__all__ = ["run_program_command"]


def run_program_command(args, params):
    from ..program_run import CPU_LANES, run_program
    from ..programs import ProgramError
    workload = args.lane == "workload" and args.program is None
    if args.lane not in CPU_LANES and not workload:
        raise UsageError(f"--program needs a CPU lane (--lane {' or '.join(CPU_LANES)}), "
                         f"not {args.lane!r}")
    if args.program is None and not workload:
        raise UsageError(f"--lane {args.lane} needs --program FILE (a C file or an ELF)")
    if args.offset:
        raise UsageError(f"{'--at and --timeline run' if workload else '--program runs'} "
                         f"plain lockstep only (no --offset)")
    if workload and args.console is not None:
        raise UsageError("--console needs --program")
    cycles = args.cycles or (10_000 if workload else 50_000_000)
    at = parse_at(args.at, args.lanes)
    flip = check_flip(args.flip, params) if args.flip is not None else None
    console = None if args.console in (None, "-") else Path(args.console)
    waves = None if args.waves.lower() == "none" else Path(args.waves).resolve()
    timeline_file = Path(args.timeline) if args.timeline else None
    for file in (console, waves, timeline_file,
                 timeline_file.with_suffix(".json") if timeline_file else None):
        if file is not None:
            check_output(file)
    started = time.perf_counter()
    try:
        figures = run_program(params, args.program, cycles=cycles, flip=flip,
                              waves_file=waves, at=at, timeline=timeline_file is not None)
    except ProgramError as error:
        raise UsageError(str(error)) from None
    total = time.perf_counter() - started
    if args.console == "-":
        sys.stdout.buffer.write(figures["console"])
        sys.stdout.flush()
    elif console is not None:
        write_atomic(console, figures["console"])
    _write_dumps(Path(args.dump_dir), figures)
    if timeline_file is not None:
        _write_timeline(timeline_file, figures, args)
    _print_summary(args, figures, flip, total, waves, cycles)
    return 0


def _write_timeline(file, figures, args):
    """The timeline as JSON (FILE.json) and PNG (FILE)."""
    import json

    from ftvoter.analysis.timeline import timeline, timeline_plot
    # Actions may go on after the program's exit (a dump's reads, the resync after it).
    last = max((cycle for cycle, _ in figures["timeline"]), default=0) + 1
    data = timeline(figures["timeline"], lanes=args.lanes, end=max(figures["cycles"], last),
                    actions=[{k: a[k] for k in ("cycle", "action", "lane")}
                             for a in figures.get("actions", [])],
                    resyncs=figures.get("resyncs", []))
    write_atomic(file.with_suffix(".json"), json.dumps(data, indent=1).encode())
    timeline_plot(data, file, title=f"{args.program or 'workload'} on {args.lanes} "
                                    f"'{args.lane}' lanes")
    figures["timeline_file"] = str(file)


def _write_dumps(folder, figures):
    """Write each dump's registers (JSON) and RAM image (little-endian words)."""
    from ftvoter.boards.dump import dump_record, memory_image
    for action in figures.get("actions", []):
        if action["action"] != "dump":
            continue
        stem = folder / f"dump-{action['cycle']}-lane{action['lane']}"
        image = memory_image(action.pop("memory"))
        check_output(stem.with_suffix(".json"))
        write_atomic(stem.with_name(stem.name + "-memory.bin"), image)
        record = dump_record(action["lane"], action["sites"], stem.name + "-memory.bin",
                             len(image), cycle=action["cycle"])
        write_atomic(stem.with_suffix(".json"), record.encode())
        action["file"] = str(stem.with_suffix(".json"))
        del action["sites"]


def parse_at(values, lanes):
    """Check ``--at CYCLE:ACTION:LANE`` values; return ``[(cycle, action, lane)]``."""
    from ..program_run import AT_ACTIONS, AT_LATER
    actions = []
    for value in values:
        parts = value.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
            raise UsageError(f"--at must be CYCLE:ACTION:LANE (e.g. 5000:remove:1), not "
                             f"{value!r}")
        cycle, action, lane = int(parts[0]), parts[1], int(parts[2])
        if action in AT_LATER:
            raise UsageError(f"--at {value}: action {action} is not available yet (of "
                             f"{', '.join(AT_ACTIONS + AT_LATER)}, these are built: "
                             f"{', '.join(AT_ACTIONS)})")
        if action not in AT_ACTIONS:
            raise UsageError(f"--at {value}: action must be one of "
                             f"{', '.join(AT_ACTIONS)}, not {action!r}")
        if lane >= lanes:
            raise UsageError(f"--at {value}: lane must be 0 to {lanes - 1}, not {lane}")
        actions.append((cycle, action, lane))
    return actions


def _print_summary(args, figures, flip, total, waves, cycles):
    out = sys.stderr if args.console == "-" else sys.stdout
    kind = {2: "DMR", 3: "TMR"}[args.lanes]

    def say(text):
        print(text, file=out)
    say(f"ftvoter sim: {kind} lockstep of {args.lanes} '{args.lane}' lanes"
        + (f" running {args.program}" if args.program is not None else ""))
    program = args.program is not None
    code = figures["exit_code"]
    if program:
        say("  exit          " + (f"exit {code}" if code is not None else
                                  f"none (stopped after {cycles} cycles)"))
    say(f"  cycles        {figures['cycles']}")
    retired = figures["retired"]
    if program:
        say("  retired       " + (f"{retired} instructions" if retired is not None
                                  else "(the core does not tell)"))
    writes, reads = len(figures["io_writes"]), len(figures["io_reads"])
    say(f"  I/O           {writes + reads} transactions ({writes} writes, {reads} reads)"
        + (f"; console {len(figures['console'])} bytes" if program else ""))
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
    for action in figures.get("actions", []):
        say(f"  at {action['cycle']:<10} {action['action']} lane {action['lane']}"
            + (f": {action['file']}" if "file" in action else ""))
    for resync in figures.get("resyncs", []):
        say(f"  resync        cycles {resync['start_cycle']}-{resync['end_cycle']}: stop "
            f"{resync['stop_cycles']} cycles, {resync['words']} RAM words and "
            f"{resync['flops']} flip-flop bits copied, {resync['rounds']} pre-copy rounds")
    if figures.get("split_writes") or figures.get("split_reads"):
        say(f"  split path    {len(figures['split_writes']) + len(figures['split_reads'])} "
            f"transactions; console {len(figures['split_console'])} bytes")
    if "timeline_file" in figures:
        say(f"  timeline      {figures['timeline_file']} (and .json)")
    if waves is not None:
        say(f"  waveform      {waves}")
    say(f"  wall time     {total:.1f} s (simulation {figures['wall_seconds']:.2f} s)")
