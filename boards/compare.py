"""What redundancy costs on a board: simplex, DMR and TMR builds, and component areas."""

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
    return areas


def compare(board, build_dir, *, freq_mhz=None):
    """Build the demo with 1, 2 and 3 lanes and the component areas; return the figures and
    a Markdown table."""
    build_dir = Path(build_dir)
    family = BOARDS[board][1]
    builds = {}
    for lanes in (1, 2, 3):
        try:
            builds[lanes] = build_board(board, lanes, build_dir=build_dir / f"lanes{lanes}",
                                        freq_mhz=freq_mhz)
        except SynthError as error:
            # Most likely the device is too small (TMR on the iCE40UP5K): say so.
            builds[lanes] = {"board": board, "lanes": lanes, "error": str(error)}
    areas = component_areas(family, build_dir / "components")
    cell = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    simplex_fmax = min(builds[1]["fmax_mhz"].values())
    lines = [f"Board {BOARDS[board][2]}: the demo (lanes, RAM, and for 2 and 3 lanes the "
             f"voting bridge and error registers) placed and routed.", "",
             f"| build | {cell} | flip-flops | RAM blocks | Fmax (MHz) | vs simplex |",
             "|---|---|---|---|---|---|"]
    for lanes, label in ((1, "simplex (1 lane)"), (2, "DMR"), (3, "TMR")):
        if "error" in builds[lanes]:
            lines.append(f"| {label} | does not build: {builds[lanes]['error'][:90]} "
                         f"| | | | |")
            continue
        used = builds[lanes]["utilisation"]
        ffs = used.get("ICESTORM_LC", {}).get("used") if family == "ice40" else \
            used.get("TRELLIS_FF", {}).get("used")
        rams = sum(v["used"] for k, v in used.items() if "RAM" in k or k == "DP16KD")
        fmax = min(builds[lanes]["fmax_mhz"].values())
        lines.append(f"| {label} | {used.get(cell, {}).get('used')} | "
                     f"{ffs if family != 'ice40' else '—'} | {rams} | {fmax:.1f} | "
                     f"{100 * fmax / simplex_fmax:.0f}% |")
    lines += ["", "Components synthesised alone (yosys, no placement; cells = max(LUT4, "
              "flip-flops)):", "", "| component | LUT4 | flip-flops | cells |", "|---|---|---|---|"]
    for name, label in (("lane", "one WorkloadLane (4 registers, 4 scratch words)"),
                        ("bridge_dmr", "voting bridge + comparator + registers, 2 lanes"),
                        ("bridge_tmr", "voting bridge + comparator + registers, 3 lanes")):
        a = areas[name]
        lines.append(f"| {label} | {a['luts']} | {a['flip_flops']} | {a['cells']} |")
    lines.append("")
    lines.append(f"The DMR bridge compares {2 * COMPARED_BITS} bits per cycle (two lanes x "
                 f"five 40-bit channel vectors): {areas['bridge_dmr']['cells_per_compared_bit']} "
                 f"cells per compared bit.")
    return {"board": board, "builds": builds, "components": areas}, "\n".join(lines) + "\n"
