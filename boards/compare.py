"""What redundancy costs on a board: simplex, DMR and TMR builds, and component areas.

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

from .synth import BOARDS, SynthError, build_board, module_area
from .top import board_lane

__all__ = ["compare", "component_areas"]

#: Bits the voting bridge compares per lane and cycle: AW (addr 32, valid, prot 3, pad 4),
#: W (data 32, valid, strobes 4, pad 3), AR (as AW), B and R ready (with padding): the
#: 40-bit vectors of its five channels.
COMPARED_BITS = 5 * 40


def component_areas(family, build_dir):
    """Area of the voter's own logic (bridge with comparator and registers, two and three
    lanes) and of one WorkloadLane, synthesised alone."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    areas = {}
    for name, component in (("bridge_dmr", VotingBridge(lanes=2)),
                            ("bridge_tmr", VotingBridge(lanes=3)),
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


def _build(board, lanes, seed, build_dir, freq_mhz):
    folder = build_dir / (f"lanes{lanes}" if seed == 1 else f"lanes{lanes}-seed{seed}")
    try:
        return build_board(board, lanes, build_dir=folder, freq_mhz=freq_mhz, seed=seed)
    except SynthError as error:
        # Most likely the device is too small (TMR on the iCE40UP5K): say so.
        return {"board": board, "lanes": lanes, "error": str(error)}


def compare(board, build_dir, *, freq_mhz=None, seeds=5, workers=None):
    """Build the demo with 1, 2 and 3 lanes (each with placement seeds 1 to ``seeds``, on
    ``workers`` processes) and the component areas; return the figures and a Markdown
    table. A build's ``fmax_mhz`` is the median over the seeds, ``fmax_by_seed`` lists
    them; the rest of its summary (utilisation, bitstream) is seed 1's."""
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise TypeError(f"Seeds must be a positive integer, not {seeds!r}")
    build_dir = Path(build_dir)
    family = BOARDS[board][1]
    results = {}
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        # Seed 1 of every build first; more seeds only for the builds that fit.
        for first in (True, False):
            jobs = {(lanes, seed): pool.submit(_build, board, lanes, seed, build_dir, freq_mhz)
                    for lanes in (1, 2, 3)
                    for seed in ((1,) if first else range(2, seeds + 1))
                    if first or "error" not in results[lanes, 1]}
            results.update({job: future.result() for job, future in jobs.items()})
    builds = {}
    for lanes in (1, 2, 3):
        runs = [results[lanes, seed] for seed in range(1, seeds + 1)
                if (lanes, seed) in results]
        if any("error" in run for run in runs):
            builds[lanes] = next(run for run in runs if "error" in run)
            continue
        builds[lanes] = dict(runs[0])
        builds[lanes]["fmax_by_seed"] = {clock: [run["fmax_mhz"][clock] for run in runs]
                                         for clock in runs[0]["fmax_mhz"]}
        builds[lanes]["fmax_mhz"] = {clock: round(statistics.median(values), 2) for
                                     clock, values in builds[lanes]["fmax_by_seed"].items()}
    areas = component_areas(family, build_dir / "components")
    cell = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    simplex_fmax = min(builds[1]["fmax_mhz"].values())
    lines = [f"Board {BOARDS[board][2]}: the demo (lanes, RAM, and for 2 and 3 lanes the "
             f"voting bridge and error registers) placed and routed; Fmax is the median "
             f"over nextpnr seeds 1 to {seeds} (range in brackets).", "",
             f"| build | {cell} | flip-flops | RAM blocks | Fmax (MHz) | vs simplex |",
             "|---|---|---|---|---|---|"]
    for lanes, label in ((1, "simplex (1 lane)"), (2, "DMR"), (3, "TMR")):
        if "error" in builds[lanes]:
            lines.append(f"| {label} | does not build: {builds[lanes]['error']} "
                         f"| | | | |")
            continue
        used = builds[lanes]["utilisation"]
        ffs = used.get("ICESTORM_LC", {}).get("used") if family == "ice40" else \
            used.get("TRELLIS_FF", {}).get("used")
        rams = sum(v["used"] for k, v in used.items() if "RAM" in k or k == "DP16KD")
        fmax = min(builds[lanes]["fmax_mhz"].values())
        clocks = builds[lanes]["fmax_by_seed"].values()
        by_seed = [min(values) for values in zip(*clocks, strict=True)]
        lines.append(f"| {label} | {used.get(cell, {}).get('used')} | "
                     f"{ffs if family != 'ice40' else '—'} | {rams} | {fmax:.1f} "
                     f"[{min(by_seed):.1f}, {max(by_seed):.1f}] | "
                     f"{100 * fmax / simplex_fmax:.1f}% |")
    lines += ["", "Components synthesised alone (yosys, no placement; cells = max(LUT4, "
              "flip-flops)):", "", "| component | LUT4 | flip-flops | RAM blocks | cells |",
              "|---|---|---|---|---|"]
    for name, label in (("lane", "one WorkloadLane (4 registers, 4 scratch words)"),
                        ("bridge_dmr", "voting bridge + comparator + registers, 2 lanes"),
                        ("bridge_tmr", "voting bridge + comparator + registers, 3 lanes"),
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
    return ({"board": board, "seeds": seeds, "builds": builds, "components": areas},
            "\n".join(lines) + "\n")
