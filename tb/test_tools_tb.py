"""End-to-end checks of the Verilator path: lint of every export, make sim, make bench."""

import json
import re
import subprocess
import sys

import pytest

from ftvoter.sim.models import Read, WorkloadModel, Write
from ftvoter.sim.toolchain import LINT_WAIVERS, export_verilog, lint_verilog

EXPORTS = [
    ("comparator", {"width": 32, "lanes": 2}),
    ("comparator", {"width": 32, "lanes": 3}),
    ("comparator", {"width": 5, "lanes": 2, "offset": 3, "comb": True}),
    ("voter", {"width": 8}),
    ("lockstep", {"lanes": 2}),
    ("lockstep", {"lanes": 3}),
    ("lockstep", {"lanes": 2, "offset": 2, "ram": 64}),
    ("bridge", {"lanes": 2, "paths": 1}),
    ("bridge", {"lanes": 3, "paths": 2, "policy": "diagnose"}),
    ("lockstep", {"lanes": 3, "paths": 2, "ram": 64}),
    ("lockstep", {"lanes": 2, "faults": ["*"]}),
]
WAIVED = set(re.findall(r"^lint_off -rule (\w+)$", LINT_WAIVERS.read_text(), re.M))
BY_MESSAGE = set(re.findall(r'^lint_off -rule (\w+) -file "\*" -match', LINT_WAIVERS.read_text(),
                            re.M))


@pytest.mark.tb
@pytest.mark.parametrize("design, params", EXPORTS)
def test_lint_clean(design, params):
    path = export_verilog(design, params)
    ok, output = lint_verilog(path)
    assert ok, output


@pytest.mark.tb
def test_lint_waivers_are_only_the_documented_ones(tmp_path):
    # Without the waiver file, only the four documented generated-code rules fire.
    from ftvoter.sim.toolchain import setup_environment
    setup_environment()
    assert WAIVED == {"DECLFILENAME", "PROCASSINIT", "CASEINCOMPLETE", "UNUSEDSIGNAL"}
    for design, params in EXPORTS:
        path = export_verilog(design, params)
        result = subprocess.run(["verilator", "--lint-only", "-Wall", str(path)],
                                capture_output=True, text=True)
        rules = set(re.findall(r"^%Warning-(\w+):", result.stderr, re.M))
        assert rules <= WAIVED | BY_MESSAGE, (design, params, rules - WAIVED - BY_MESSAGE)
    assert BY_MESSAGE == {"ALWNEVER", "WIDTHTRUNC", "WIDTHEXPAND"}


def ftvoter(*args):
    return subprocess.run([sys.executable, "-m", "ftvoter.sim", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.tb
# The waveform builds (a trace build is twice as long) in make test-long.
@pytest.mark.parametrize("suffix", ["none", pytest.param("fst", marks=pytest.mark.long),
                                    pytest.param("vcd", marks=pytest.mark.long)])
def test_sim(tmp_path, suffix):
    waves = tmp_path / f"demo.{suffix}"
    result = ftvoter("sim", "--cycles", "3000",
                     "--waves", "none" if suffix == "none" else str(waves),
                     "--flip", "lane1.scratch.m3[4]@200")
    assert result.returncode == 0, result.stderr
    lines = dict(re.findall(r"^  (\w+)\s+(.*)$", result.stdout, re.M))
    assert lines["cycles"] == "3000"
    transactions = int(lines["transactions"].split()[0])
    assert transactions > 50
    assert int(lines["mismatches"].split()[0]) > 0
    assert "detected" in lines["flip"]
    assert lines["lanes"] == "ONLINE ONLINE; bridge HALTED (fail-safe)"
    if suffix == "none":
        assert not waves.exists() and "waveform" not in lines
        return
    header = waves.read_bytes()[:16]
    if suffix == "vcd":
        assert header.startswith(b"$") and b"$enddefinitions" in waves.read_bytes()
    else:
        assert header[0] == 0 and waves.stat().st_size > 10_000   # FST header block


@pytest.mark.tb
@pytest.mark.long     # a TMR model of its own; tb/test_lockstep_tb.py runs TMR fault-free
def test_sim_fault_free_no_mismatch():
    result = ftvoter("sim", "--cycles", "2000", "--waves", "none", "--lanes", "3")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  mismatches\s+0 cycles$", result.stdout, re.M)


@pytest.mark.tb
@pytest.mark.long     # a model of its own (the demo with its RAM): make test-long
def test_bench(tmp_path):
    figures = tmp_path / "bench.json"
    result = ftvoter("bench", "--cycles", "5000", "--json", str(figures))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  every-edge\s+[\d,]+\s", result.stdout, re.M)
    assert re.search(r"^  long-wait\s+[\d,]+\s", result.stdout, re.M)
    data = json.loads(figures.read_text())
    modes = {row["mode"]: row for row in data["modes"]}
    assert set(modes) == {"every-edge", "long-wait"}
    for row in modes.values():
        # The rate is the cycles asked for over the time they took.
        assert row["cycles"] == 5000 and row["mismatches"] == 0
        assert row["wall_seconds"] > 0
        assert row["cycles_per_second"] == pytest.approx(row["cycles"] / row["wall_seconds"],
                                                         rel=1e-9)
    # The hardware's own cycle counter ran the cycles asked for: every-edge reads it at
    # the last rising edge, before that edge's update; long-wait at the falling edge after.
    assert modes["every-edge"]["hw_cycles"] == 4999
    assert modes["long-wait"]["hw_cycles"] == 5000
    # The transactions are those of the workload: the completed ones (one at a time, in
    # order) are the first writes + reads of the golden model's trace, ...
    for row in modes.values():
        trace = WorkloadModel(seed=data["params"]["seed"]).trace(row["writes"] + row["reads"])
        assert sum(isinstance(event, Write) for event in trace) == row["writes"] > 100
        assert sum(isinstance(event, Read) for event in trace) == row["reads"] > 100
    # ... and as many as the same design completes in amaranth.sim in as many cycles.
    expected = _amaranth_counts(data["params"], {row["hw_cycles"] for row in modes.values()})
    for row in modes.values():
        assert (row["writes"], row["reads"]) == expected[row["hw_cycles"]]


def _amaranth_counts(params, cycles):
    """``{c: (writes, reads)}``: the demo's counters when its cycle counter reads ``c``,
    simulated from reset in amaranth.sim (no Verilator, no cocotb)."""
    from amaranth.sim import Simulator

    from ftvoter.sim.designs import build
    demo = build("lockstep", params)
    counts = {}

    async def testbench(ctx):
        while len(counts) < len(cycles):
            now = ctx.get(demo.cycles)
            if now in cycles:
                counts[now] = (ctx.get(demo.writes), ctx.get(demo.reads))
            await ctx.tick()

    sim = Simulator(demo)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return counts

