"""cocotb code that runs inside the simulator for ``ftvoter sim`` and ``ftvoter bench``.

Parameters come in environment variables (set by :mod:`ftvoter.sim.runs`); figures go
out as JSON to ``$FTVOTER_SUMMARY``.
"""

import json
import os
import re
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer

PERIOD_NS = 10


def _env_int(name, default=None):
    value = os.environ.get(name)
    return default if value is None else int(value)


def _write(figures):
    path = os.environ["FTVOTER_SUMMARY"]
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(figures, handle, indent=2)
    os.replace(tmp, path)


async def _start(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.irq.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0


def _resolve_site(dut, site):
    """``lane1.regfile.r3[7]`` -> (handle of lane1.regfile.r3, 7)."""
    match = re.fullmatch(r"((?:\w+\.)*\w+)\[(\d+)\]", site)
    if match is None:
        raise ValueError(f"Fault site must look like lane1.regfile.r3[7], not {site!r}")
    handle = dut
    for part in match.group(1).split("."):
        handle = getattr(handle, part)
    return handle, int(match.group(2))


@cocotb.test()
async def run_demo(dut):
    """Run the lockstep demo, with AxiLiteRam on the bus when the bus is exported."""
    cycles = _env_int("FTVOTER_CYCLES")
    flip = os.environ.get("FTVOTER_FLIP")
    exported = hasattr(dut, "path0_bus__awaddr")
    if exported:
        from cocotbext.axi import AxiLiteBus, AxiLiteRam
        AxiLiteRam(AxiLiteBus.from_prefix(dut, "path0_bus_"), dut.clk, dut.rst,
                   size=1 << 16)
        if hasattr(dut, "path1_bus__awaddr"):
            AxiLiteRam(AxiLiteBus.from_prefix(dut, "path1_bus_"), dut.clk, dut.rst,
                       size=1 << 16)
    mgmt = None
    if hasattr(dut, "mgmt__awvalid"):
        from .mgmt import mgmt_driver
        mgmt = mgmt_driver(dut)
    await _start(dut)

    counts = {"writes": 0, "reads": 0, "mismatch_cycles": 0}
    first_mismatch = None
    first_self_error = None     # after the flip: which lanes, and when
    flip_cycle = None
    if flip:
        site, _, at = flip.rpartition("@")
        target, bit = _resolve_site(dut, site)
        flip_at = int(at)
    started = time.perf_counter()
    for cycle in range(cycles):
        await FallingEdge(dut.clk)
        if flip and cycle == flip_at:
            target.value = int(target.value) ^ (1 << bit)
            flip_cycle = cycle
        if exported:
            if dut.path0_bus__bvalid.value and dut.path0_bus__bready.value:
                counts["writes"] += 1
            if dut.path0_bus__rvalid.value and dut.path0_bus__rready.value:
                counts["reads"] += 1
        if dut.mismatch.value:
            counts["mismatch_cycles"] += 1
            if first_mismatch is None:
                first_mismatch = cycle
        if flip_cycle is not None and first_self_error is None and \
                int(dut.self_error.value):
            first_self_error = (cycle, int(dut.self_error.value))
    elapsed = time.perf_counter() - started
    if not exported:
        counts["writes"] = int(dut.writes.value)
        counts["reads"] = int(dut.reads.value)
    bridge = None
    if mgmt is not None:
        states = await mgmt.lane_states(len(dut.self_error))
        bridge = {"halted": bool((await mgmt.fields("STATUS")).HALTED),
                  "lane_states": states,
                  "error_cause": await mgmt.read("ERROR_CAUSE")}
    _write({
        "cycles": cycles,
        **counts,
        "first_mismatch_cycle": first_mismatch,
        "flip_cycle": flip_cycle,
        "detection_latency": (first_mismatch - flip_cycle
                              if first_mismatch is not None and flip_cycle is not None
                              and first_mismatch >= flip_cycle else None),
        "self_error_latency": (None if first_self_error is None else
                               first_self_error[0] - flip_cycle),
        "self_error_lanes": None if first_self_error is None else first_self_error[1],
        "self_error": int(dut.self_error.value),
        "online": int(dut.online.value),
        "bridge": bridge,
        "wall_seconds": elapsed,
    })


@cocotb.test()
async def run_bench_every_edge(dut):
    """A coroutine awaits every rising edge (and reads one signal each cycle)."""
    cycles = _env_int("FTVOTER_CYCLES")
    await _start(dut)
    edge = RisingEdge(dut.clk)
    mismatches = 0
    started = time.perf_counter()
    for _ in range(cycles):
        await edge
        mismatches += int(dut.mismatch.value)
    elapsed = time.perf_counter() - started
    _write(_bench_figures(dut, cycles, elapsed, mismatches))


@cocotb.test()
async def run_bench_long_wait(dut):
    """Python sleeps through the whole run in one Timer; the clock runs in the GPI."""
    cycles = _env_int("FTVOTER_CYCLES")
    await _start(dut)
    await FallingEdge(dut.clk)
    started = time.perf_counter()
    await Timer(cycles * PERIOD_NS, unit="ns")
    elapsed = time.perf_counter() - started
    _write(_bench_figures(dut, cycles, elapsed, int(dut.mismatches.value)))


def _bench_figures(dut, cycles, elapsed, mismatches):
    figures = {"cycles": cycles, "wall_seconds": elapsed, "cycles_per_second": cycles / elapsed,
               "mismatches": mismatches}
    if hasattr(dut, "writes"):
        figures.update(writes=int(dut.writes.value), reads=int(dut.reads.value),
                       hw_cycles=int(dut.cycles.value))
    return figures
