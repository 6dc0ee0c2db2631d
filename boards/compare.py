"""What redundancy costs on a board: simplex, DMR and TMR builds, and component areas; and
what instrumenting a CPU costs: DMR builds of PicoRV32 lanes, plain and instrumented.

nextpnr's result depends on its placement seed: on the iCE40UP5K the same design's Fmax
varies by about 5% from seed to seed, as much as the difference being measured. So each
build is placed and routed with several seeds and the median Fmax is compared; the
per-seed figures are kept, and the bitstream is seed 1's.
"""

import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from amaranth.back import verilog

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.bridge_check import SelfCheckingBridge

from .lanes import BoardLane, board_lane
from .synth import BOARDS, SynthError, build_board, module_area

__all__ = ["CPU_PROGRAMS", "compare", "component_areas", "picorv32_areas"]

#: Bits the voting bridge compares per lane and cycle: AW (addr 32, valid, prot 3, pad 4),
#: W (data 32, valid, strobes 4, pad 3), AR (as AW), B and R ready (with padding): the
#: 40-bit vectors of its five channels.
COMPARED_BITS = 5 * 40

#: The CPU builds' program and lane RAM per FPGA family: crc32 needs 8 KiB; the
#: iCE40UP5K's 30 RAM blocks hold 15 KiB, so there the lanes get 4 KiB and the transaction
#: workload.
CPU_PROGRAMS = {"ecp5": ("crc32.c", 8192), "ice40": ("transactions.c", 4096)}
#: The CPU builds (DMR): PicoRV32 from its own RTL, and instrumented with the board's
#: fault sites and fault registers.
_CPU_KINDS = ("picorv32-rtl", "picorv32")


def component_areas(family, build_dir):
    """Area of the voter's own logic (bridge with comparator and registers, two and three
    lanes; plain and self-checking) and of one WorkloadLane, synthesised alone."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    areas = {}
    for name, component in (("bridge_dmr", VotingBridge(lanes=2)),
                            ("bridge_tmr", VotingBridge(lanes=3)),
                            ("bridge_dmr_checked", SelfCheckingBridge(lanes=2)),
                            ("bridge_tmr_checked", SelfCheckingBridge(lanes=3)),
                            ("lane", board_lane())):
        path = build_dir / f"{name}.v"
        path.write_text(verilog.convert(component, name=name, emit_src=False))
        areas[name] = module_area(path, name, family, build_dir=build_dir)
    areas["bridge_dmr"]["cells_per_compared_bit"] = round(
        areas["bridge_dmr"]["cells"] / (2 * COMPARED_BITS), 2)
    areas.update(picorv32_areas(family, build_dir))
    return areas


def picorv32_areas(family, build_dir):
    """Area of PicoRV32 (``picorv32_axi``, ftvoter's parameters) from its own RTL, and of
    its instrumented netlist (a saboteur and the state port on every flip-flop, the
    register file as flip-flops), its fault and state inputs free: what the
    instrumentation costs when it is synthesised (a board campaign)."""
    from ftvoter.hdl.units.picorv32 import PICORV32_PARAMETERS, PicoRV32Core, picorv32_source
    netlist = PicoRV32Core().netlist
    declarations = "".join(
        f"  {'input' if direction == 'i' else 'output'} wire "
        f"{f'[{width - 1}:0] ' if width > 1 else ''}{port};\n"
        for port, (direction, width) in netlist.ports.items())
    parameters = ", ".join(f".{name}({value})" for name, value in PICORV32_PARAMETERS.items())
    connections = ", ".join(f".{port}({port})" for port in netlist.ports)
    wrapper = (f"module picorv32_plain({', '.join(netlist.ports)});\n{declarations}"
               f"  picorv32_axi #({parameters}) core ({connections});\nendmodule\n")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    plain = build_dir / "picorv32_plain.v"
    plain.write_text(picorv32_source().read_text() + "\n" + wrapper)
    instrumented = build_dir / f"{netlist.name}.v"
    instrumented.write_text(netlist.verilog)
    return {"picorv32": module_area(plain, "picorv32_plain", family, build_dir=build_dir),
            "picorv32_instrumented": module_area(instrumented, netlist.name, family,
                                                 build_dir=build_dir)}


def _build(board, lanes, seed, build_dir, freq_mhz, lane=None):
    prefix = f"{lane.kind}-" if lane is not None and lane.cpu else ""
    folder = build_dir / (f"{prefix}lanes{lanes}" if seed == 1
                          else f"{prefix}lanes{lanes}-seed{seed}")
    try:
        return build_board(board, lanes, build_dir=folder, freq_mhz=freq_mhz, seed=seed,
                           lane=lane)
    except SynthError as error:
        # Most likely the device is too small (TMR on the iCE40UP5K): say so.
        return {"board": board, "lanes": lanes, "error": str(error)}


def _summarise(runs):
    """One build's figures over its seeds: seed 1's summary, the median Fmax per clock and
    ``fmax_by_seed``; or the first failed seed's error."""
    if any("error" in run for run in runs):
        return next(run for run in runs if "error" in run)
    build = dict(runs[0])
    build["fmax_by_seed"] = {clock: [run["fmax_mhz"][clock] for run in runs]
                             for clock in runs[0]["fmax_mhz"]}
    build["fmax_mhz"] = {clock: round(statistics.median(values), 2)
                         for clock, values in build["fmax_by_seed"].items()}
    return build


def _row(label, build, family, reference):
    """A table row: cells, flip-flops, RAM blocks, median Fmax [range], against
    ``reference`` (an Fmax, or None)."""
    if "error" in build:
        return f"| {label} | does not build: {build['error']} | | | | |"
    cell = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    used = build["utilisation"]
    ffs = used.get("TRELLIS_FF", {}).get("used") if family != "ice40" else "—"
    # Block RAMs only: the ECP5's LUT RAM (TRELLIS_RAMW, a register file or a small FIFO
    # in the logic slices) is in the build's utilisation.
    rams = sum(used.get(k, {}).get("used", 0) for k in ("ICESTORM_RAM", "DP16KD"))
    fmax = min(build["fmax_mhz"].values())
    clocks = build["fmax_by_seed"].values()
    by_seed = [min(values) for values in zip(*clocks, strict=True)]
    versus = f"{100 * fmax / reference:.1f}%" if reference else "—"
    return (f"| {label} | {used.get(cell, {}).get('used')} | {ffs} | {rams} | {fmax:.1f} "
            f"[{min(by_seed):.1f}, {max(by_seed):.1f}] | {versus} |")


def _fmax(build):
    return None if "error" in build else min(build["fmax_mhz"].values())


def compare(board, build_dir, *, freq_mhz=None, seeds=5, workers=None, cpu=True):
    """Build the demo with 1, 2 and 3 lanes and, with ``cpu``, DMR with PicoRV32 lanes
    plain (``picorv32-rtl``) and instrumented (``picorv32``, the board's fault sites) on
    :data:`CPU_PROGRAMS`, each with placement seeds 1 to ``seeds`` on ``workers``
    processes, and the component areas; return the figures and a Markdown table.

    A build's ``fmax_mhz`` is the median over the seeds, ``fmax_by_seed`` lists them; the
    rest of its summary (utilisation, bitstream, build time) is seed 1's; a build that
    fails (the device is too small) is its error. The figures are ``builds`` (by lane
    count), ``cpu_builds`` (by lane kind) and ``components``.
    """
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise TypeError(f"Seeds must be a positive integer, not {seeds!r}")
    build_dir = Path(build_dir)
    family = BOARDS[board][1]
    from ftvoter.sim.programs import PROGRAMS_DIR
    program, ram_bytes = CPU_PROGRAMS[family]
    # Built here, so a program that cannot be built fails before any synthesis.
    cpu_lanes = {kind: BoardLane(kind, program=PROGRAMS_DIR / program, ram_bytes=ram_bytes)
                 for kind in (_CPU_KINDS if cpu else ())}
    kinds = {(None, 1): None, (None, 2): None, (None, 3): None,
             **{(kind, 2): lane for kind, lane in cpu_lanes.items()}}
    results = {}
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        # Seed 1 of every build first; more seeds only for the builds that fit.
        for first in (True, False):
            jobs = {(key, seed): pool.submit(_build, board, key[1], seed, build_dir,
                                             freq_mhz, lane)
                    for key, lane in kinds.items()
                    for seed in ((1,) if first else range(2, seeds + 1))
                    if first or "error" not in results[key, 1]}
            results.update({job: future.result() for job, future in jobs.items()})
    summaries = {key: _summarise([results[key, seed] for seed in range(1, seeds + 1)
                                  if (key, seed) in results]) for key in kinds}
    builds = {lanes: summaries[None, lanes] for lanes in (1, 2, 3)}
    cpu_builds = {kind: summaries[kind, 2] for kind in cpu_lanes}
    areas = component_areas(family, build_dir / "components")
    cell = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    header = [f"| build | {cell} | flip-flops | RAM blocks | Fmax (MHz) | vs {{}} |",
              "|---|---|---|---|---|---|"]
    lines = [f"Board {BOARDS[board][2]}: the demo (lanes, RAM, and for 2 and 3 lanes the "
             f"voting bridge and error registers) placed and routed; Fmax is the median "
             f"over nextpnr seeds 1 to {seeds} (range in brackets).", "",
             header[0].format("simplex"), header[1]]
    for lanes, label in ((1, "simplex (1 lane)"), (2, "DMR"), (3, "TMR")):
        lines.append(_row(label, builds[lanes], family, _fmax(builds[1])))
    if cpu_builds:
        lines += ["", f"CPU lanes: DMR of PicoRV32 lanes running programs/{program} from "
                      f"{ram_bytes // 1024} KiB lane RAMs, restarted after each run, with the "
                      f"bridge, error registers and management port; plain from its own "
                      f"RTL, instrumented as for the campaigns with saboteurs on every "
                      f"lane's a0 and PC, the fault injector and registers (every other "
                      f"saboteur and the state port tied off).", "",
                  header[0].format("plain"), header[1]]
        plain = _fmax(cpu_builds["picorv32-rtl"])
        for kind, label in (("picorv32-rtl", "DMR PicoRV32, plain"),
                            ("picorv32", "DMR PicoRV32, instrumented")):
            lines.append(_row(label, cpu_builds[kind], family, plain))
        times = [f"{kind} {build['build_seconds']:.0f} s" for kind, build in
                 cpu_builds.items() if "build_seconds" in build]
        if times:
            lines += ["", f"Build time of seed 1 (yosys, nextpnr, packer): {', '.join(times)}."]
    lines += ["", "Components synthesised alone (yosys, no placement; cells = max(LUT4, "
              "flip-flops)):", "", "| component | LUT4 | flip-flops | RAM blocks | cells |",
              "|---|---|---|---|---|"]
    for name, label in (("lane", "one WorkloadLane (4 registers, 4 scratch words)"),
                        ("bridge_dmr", "voting bridge + comparator + registers, 2 lanes"),
                        ("bridge_tmr", "voting bridge + comparator + registers, 3 lanes"),
                        ("bridge_dmr_checked", "self-checking bridge (two copies), 2 lanes"),
                        ("bridge_tmr_checked", "self-checking bridge (two copies), 3 lanes"),
                        ("picorv32", "PicoRV32 (picorv32_axi), its own RTL"),
                        ("picorv32_instrumented", "PicoRV32 instrumented (saboteurs, "
                                                  "state port)")):
        if name not in areas:
            continue
        a = areas[name]
        lines.append(f"| {label} | {a['luts']} | {a['flip_flops']} | {a['rams']} | "
                     f"{a['cells']} |")
    lines.append("")
    lines.append(f"The DMR bridge compares {2 * COMPARED_BITS} bits per cycle (two lanes x "
                 f"five 40-bit channel vectors): {areas['bridge_dmr']['cells_per_compared_bit']} "
                 f"cells per compared bit.")
    return ({"board": board, "seeds": seeds, "builds": builds, "cpu_builds": cpu_builds,
             "components": areas}, "\n".join(lines) + "\n")
