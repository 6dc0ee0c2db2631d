"""``ftvoter sim``: run the lockstep demo against an AXI4-Lite RAM model."""

import time
from pathlib import Path

from ..runs import simulate
from ._common import (
    UsageError,
    add_lockstep_options,
    check_flip,
    check_output,
    lockstep_params,
    path,
    positive,
)

__all__ = ["add_parser", "run"]


def add_parser(commands):
    sim = commands.add_parser(
        "sim", help="run the lockstep demo against an AXI4-Lite RAM model",
        description="Simulate the lockstep demo under Verilator with cocotb, its bus "
                    "answered by cocotbext-axi's AxiLiteRam; write an FST waveform and "
                    "print a summary (cycles, transactions, mismatches).")
    sim.add_argument("--cycles", type=positive, default=None,
                     help="clock cycles to simulate (default: 10000; with --program, until "
                          "the program exits or 50000000)")
    sim.add_argument("--program", metavar="FILE", type=path,
                     help="run this C program (or RV32I ELF) on CPU lanes (--lane picorv32) "
                          "until it exits; see programs/README.md")
    sim.add_argument("--console", metavar="OUT", type=path,
                     help="with --program: write the bytes the program wrote to its console "
                          "(ftv_putc) to OUT ('-': standard output)")
    sim.add_argument("--waves", metavar="FILE", type=path, default="build/demo.fst",
                     help="waveform to write: FST, or VCD if FILE ends in .vcd (default: "
                          "%(default)s); 'none' for none")
    sim.add_argument("--flip", metavar="LANE.SITE[BIT]@CYCLE",
                     help="flip one bit of a lane register at a cycle, e.g. "
                          "'lane1.regfile.r3[7]@500'")
    sim.add_argument("--at", metavar="CYCLE:ACTION:LANE", action="append", default=[],
                     help="at CYCLE, do ACTION to LANE (repeatable; the workload lane, or "
                          "CPU lanes running --program): remove, "
                          "freeze, insert (a live resync from the survivors), reset-insert "
                          "(every lane reset), unplug (its presence input drops: surprise "
                          "removal), plug (present again, then insert), dump (freeze, read "
                          "its flip-flops and RAM out through the management port into "
                          "--dump-dir, insert it again), split (out of the vote, running "
                          "on its own on the split path), merge (back, by a live resync); "
                          "the design is built with live resync")
    sim.add_argument("--timeline", metavar="FILE.png", type=path,
                     help="draw the lanes' states over time, mismatches, "
                          "rollbacks, actions and each resync's phases into FILE.png, the "
                          "same data as JSON in FILE.json (the design is built with live "
                          "resync)")
    sim.add_argument("--dump-dir", metavar="DIR", type=path, default="build/dumps",
                     help="where --at ...:dump:LANE writes dump-<cycle>-lane<L>.json "
                          "({register: value} and the figures) and "
                          "dump-<cycle>-lane<L>-memory.bin (default: %(default)s)")
    add_lockstep_options(sim)
    return sim


def run(args):
    params = lockstep_params(args)
    if args.program is not None or args.lane != "workload" or args.at or args.timeline:
        from ._sim_program import run_program_command
        return run_program_command(args, params)
    if args.console is not None:
        raise UsageError("--console needs --program")
    args.cycles = args.cycles or 10_000
    env = {"FTVOTER_CYCLES": args.cycles}
    if args.flip is not None:
        check_flip(args.flip, params)
        env["FTVOTER_FLIP"] = args.flip
    waves = None if args.waves.lower() == "none" else Path(args.waves).resolve()
    if waves is not None:
        check_output(waves)
    started = time.perf_counter()
    figures = simulate(params, "run_demo", env, waves_file=waves)
    total = time.perf_counter() - started
    kind = {2: "DMR", 3: "TMR"}[args.lanes]
    print(f"ftvoter sim: {kind} lockstep of {args.lanes} '{args.lane}' lanes"
          + (f", offset {args.offset}" if args.offset else "")
          + (", on-chip RAM" if args.ram else ", cocotbext-axi AxiLiteRam on the bus"))
    print(f"  cycles        {figures['cycles']}")
    print(f"  transactions  {figures['writes'] + figures['reads']} "
          f"({figures['writes']} writes, {figures['reads']} reads)")
    print(f"  mismatches    {figures['mismatch_cycles']} cycles"
          + (f", first at cycle {figures['first_mismatch_cycle']}"
             if figures["first_mismatch_cycle"] is not None else ""))
    if args.flip is not None:
        print(f"  flip          {args.flip}: {_flip_outcome(figures, args.cycles)}")
    print(f"  self_error    {figures['self_error']:0{args.lanes}b} (lane {args.lanes - 1}..0)")
    bridge = figures.get("bridge")
    if bridge is not None:
        print(f"  lanes         {' '.join(bridge['lane_states'])}"
              + ("; bridge HALTED (fail-safe)" if bridge["halted"] else ""))
        if bridge["error_cause"]:
            from ftvoter.hdl.registers import CAUSES
            causes = [name for bit, (name, _) in enumerate(CAUSES)
                      if bridge["error_cause"] >> bit & 1]
            print(f"  error cause   {', '.join(causes)}")
    if waves is not None:
        print(f"  waveform      {waves}")
    print(f"  wall time     {total:.1f} s (simulation {figures['wall_seconds']:.2f} s)")
    return 0


def _flip_outcome(figures, cycles):
    """What became of ``--flip``, in words."""
    if figures["flip_cycle"] is None:
        return f"not applied (the run ends before it, at cycle {cycles - 1})"
    latency, parity = figures["detection_latency"], figures["self_error_latency"]
    if parity is not None and (latency is None or parity <= latency):
        lanes = [str(i) for i in range(8) if figures["self_error_lanes"] >> i & 1]
        return (f"caught by lane {', '.join(lanes)}'s own check (self_error) {parity} "
                f"cycles later")
    if latency is not None:
        return f"detected by the comparison (mismatch) {latency} cycles later"
    return "not detected (masked, or not yet propagated)"
