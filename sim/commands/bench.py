"""``ftvoter bench``: measure the simulation speed of the lockstep demo."""

import json
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ..runs import simulate
from ..toolchain import ToolchainError
from ._common import UsageError, add_lockstep_options, lockstep_params, path, positive

__all__ = ["add_parser", "run"]


def add_parser(commands):
    bench = commands.add_parser(
        "bench", help="measure simulation speed of the lockstep demo",
        description="Measure the simulation speed (cycles/s) of the lockstep demo under "
                    "Verilator: with a cocotb coroutine awaiting every clock edge, and "
                    "with Python waiting in one long stretch. The bus ends in an on-chip "
                    "RAM, so no bus model runs in Python.")
    bench.add_argument("--cycles", type=positive, default=200_000,
                       help="cycles per measurement (default: %(default)s)")
    bench.add_argument("--json", metavar="FILE", type=path,
                       help="also write the figures to FILE as JSON")
    bench.add_argument("--program", metavar="FILE", type=path,
                       help="instead: the speed of CPU lanes running FILE (a C file or an "
                            "ELF) in lockstep (--lanes), PicoRV32 plain (its own RTL) "
                            "against instrumented, without and with the fault injector")
    add_lockstep_options(bench, ram_default=256)
    return bench


#: The configurations of ``bench --program``: (name, lane kind, faults).
CPU_CONFIGS = (("plain", "picorv32-rtl", None), ("instrumented", "picorv32", None),
               ("injector", "picorv32", ["*"]))


def run_program_bench(args):
    """``bench --program``: cycles/s of PicoRV32 lanes, plain and instrumented."""
    from ..program_run import run_program
    from ..programs import ProgramError
    rows = []
    for name, lane, faults in CPU_CONFIGS:
        try:
            figures = run_program({"lane": lane, "lanes": args.lanes, "faults": faults},
                                  args.program, cycles=args.cycles)
        except ProgramError as error:
            raise UsageError(str(error)) from None
        rows.append({"config": name, "lane": lane, "faults": faults,
                     "cycles": figures["cycles"], "wall_seconds": figures["wall_seconds"],
                     "cycles_per_second": figures["cycles"] / figures["wall_seconds"],
                     "exit_code": figures["exit_code"]})
    kind = {2: "DMR", 3: "TMR"}[args.lanes]
    print(f"ftvoter bench: {kind} lockstep of PicoRV32 lanes running {args.program} "
          f"(cocotb serving the I/O path), Verilator -O2")
    print(f"  {'config':<13} {'cycles':>10} {'seconds':>8} {'cycles/s':>12}  of plain")
    plain = rows[0]["cycles_per_second"]
    for row in rows:
        row["of_plain"] = row["cycles_per_second"] / plain
        print(f"  {row['config']:<13} {row['cycles']:>10,} {row['wall_seconds']:>8.2f} "
              f"{row['cycles_per_second']:>12,.0f}  {row['of_plain']:>7.0%}")
    if args.json:
        write_atomic(Path(args.json), json.dumps({"program": str(args.program),
                                                  "lanes": args.lanes, "rows": rows},
                                                 indent=2))
    return 0


def run(args):
    if args.program is not None:
        return run_program_bench(args)
    params = lockstep_params(args)
    if not params["ram"]:
        raise UsageError("bench needs the on-chip RAM (--ram WORDS, at least 1)")
    env = {"FTVOTER_CYCLES": args.cycles}
    rows = []
    for name, testcase, what in (
            ("every-edge", "run_bench_every_edge",
             "cocotb coroutine awaits every rising edge"),
            ("long-wait", "run_bench_long_wait",
             "Python waits in one Timer; clock in the GPI")):
        figures = simulate(params, testcase, env)
        figures.update(mode=name, description=what)
        if figures["mismatches"]:
            raise ToolchainError(f"bench {name}: {figures['mismatches']} mismatches in a "
                                 f"fault-free run")
        rows.append(figures)
    kind = {2: "DMR", 3: "TMR"}[args.lanes]
    print(f"ftvoter bench: {kind} lockstep of '{args.lane}' lanes + on-chip RAM, "
          f"{args.cycles} cycles per mode, Verilator")
    print(f"  {'mode':<11} {'cycles/s':>12} {'seconds':>9}  {'transactions':>12}  how")
    for row in rows:
        print(f"  {row['mode']:<11} {row['cycles_per_second']:>12,.0f} "
              f"{row['wall_seconds']:>9.2f}  {row['writes'] + row['reads']:>12}  "
              f"{row['description']}")
    ratio = rows[1]["cycles_per_second"] / rows[0]["cycles_per_second"]
    print(f"  long-wait is {ratio:.1f}x every-edge")

    from ..latency import measure_latency
    latency = measure_latency()
    direct = latency["direct"]["mean"]
    print("ftvoter bench: transaction latency on lane 0's bus, same workload, on-chip RAM "
          "(amaranth.sim, 3000 cycles)")
    print(f"  {'set-up':<11} {'transactions':>12} {'mean':>6} {'min':>4} {'max':>4}  "
          f"added by the bridge")
    for name, row in latency.items():
        added = "" if name == "direct" else f"{row['mean'] - direct:+.2f} cycles"
        print(f"  {name:<11} {row['transactions']:>12} {row['mean']:>6.2f} {row['min']:>4} "
              f"{row['max']:>4}  {added}")
    if args.json:
        write_atomic(Path(args.json), json.dumps({"params": params, "modes": rows,
                                                  "latency": latency}, indent=2))
    return 0
