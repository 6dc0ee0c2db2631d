"""``ftvoter sim`` and ``ftvoter bench``: run the lockstep demo under Verilator."""

import json
import re
import tempfile
import time
from pathlib import Path

from .toolchain import ToolchainError, build_simulator, run_cocotb, write_atomic

__all__ = ["cmd_sim", "cmd_bench", "simulate"]

_MODULE = "ftvoter.sim.cocotb_demo"


def simulate(params, testcase, env, *, waves_file=None, quiet=True):
    """Build the lockstep design, run one test of the demo module, return its figures."""
    waves = None
    if waves_file is not None:
        waves = "vcd" if Path(waves_file).suffix == ".vcd" else "fst"
    simulation = build_simulator("lockstep", params, waves=waves or False)
    with tempfile.TemporaryDirectory(prefix="ftvoter-") as tmp:
        summary = Path(tmp) / "summary.json"
        tests, failed = run_cocotb(simulation, _MODULE, testcase=testcase,
                                   env={**env, "FTVOTER_SUMMARY": summary},
                                   waves_file=waves_file, test_dir=Path(tmp) / "run",
                                   quiet=quiet)
        if failed or not summary.exists():
            log = Path(tmp) / "run" / "sim.log"
            tail = log.read_text().strip().splitlines()[-15:] if log.exists() else []
            raise ToolchainError(f"{testcase} failed in simulation:\n" + "\n".join(tail))
        return json.loads(summary.read_text())


def _lockstep_params(args):
    from .cli import _lockstep_params
    return _lockstep_params(args)


def cmd_sim(args):
    params = _lockstep_params(args)
    env = {"FTVOTER_CYCLES": args.cycles}
    if args.flip is not None:
        env["FTVOTER_FLIP"] = _check_flip(args.flip, params)
    waves = None if args.waves.lower() == "none" else Path(args.waves).resolve()
    if waves is not None:
        _check_output(waves)
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


def _check_flip(flip, params):
    """Check ``--flip SITE[BIT]@CYCLE`` against the design's sites; return it."""
    from .cli import _UsageError
    from .designs import build
    match = re.fullmatch(r"((?:\w+\.)*\w+)\[(\d+)\]@(\d+)", flip)
    if match is None:
        raise _UsageError(f"--flip must look like lane1.regfile.r3[7]@500, not {flip!r}")
    name, bit = match[1], int(match[2])
    try:
        lockstep = build("lockstep", {**params, "faults": ["*"], "ram": 0})
    except (TypeError, ValueError) as error:
        raise _UsageError(str(error)) from None
    sites = {site.name: site for site in lockstep.injector.sites}
    if name not in sites:
        raise _UsageError(f"--flip: no site {name!r} in this design (ftvoter sites lists "
                          f"them)")
    if bit >= sites[name].width:
        raise _UsageError(f"--flip: {name} has bits 0 to {sites[name].width - 1}, not {bit}")
    return flip


def _check_output(path):
    """Make sure ``path`` can be written before a long run (one clear line if not)."""
    from ftvoter.analysis.files import OutputError
    if path.is_dir():
        raise OutputError(path, OSError(21, "it is a folder"))
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as error:
        raise OutputError(path, error) from None


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


def cmd_bench(args):
    params = _lockstep_params(args)
    if not params["ram"]:
        from .cli import _UsageError
        raise _UsageError("bench needs the on-chip RAM (--ram WORDS, at least 1)")
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

    from .latency import measure_latency
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
