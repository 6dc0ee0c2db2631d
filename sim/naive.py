"""The naive way to run campaign injections, for the throughput benchmark
(:mod:`ftvoter.sim.throughput`): a plain cocotb testbench.

cocotb drives the clock, awaits every clock edge and samples the outputs in every cycle;
not knowing when an outcome is settled, it runs each injection to the end of its window.
Same bench, plan file and record format as :mod:`ftvoter.sim.shard`, built with the clock
as an input instead of generated inside the model.
"""

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from .shard import pack, unpack


@cocotb.test()
async def run_naive(dut):
    plan = json.loads(Path(os.environ["FTVOTER_SHARD_PLAN"]).read_text())
    Clock(dut.clk, 10, unit="ns").start()
    clock, record = dut.clk, dut.record
    seq, cycles, records = 0, 0, []
    began = time.perf_counter()
    for injection in plan["injections"]:
        dut.injection.value = pack(plan["injection_fields"], {
            **injection, "window": plan["window"], "restart": 1})
        seq = (seq + 1) & 0xff
        dut.seq.value = seq
        run = 2 + injection["start"] + plan["window"]   # two cycles start a run
        for _ in range(run):
            await RisingEdge(clock)
            sample = record.value                       # what a monitor would look at
        records.append(unpack(plan["record_fields"], sample.to_unsigned()))
        cycles += run
    seconds = time.perf_counter() - began
    Path(os.environ["FTVOTER_SHARD_OUT"]).write_text(json.dumps(
        {"injections": len(plan["injections"]), "cycles": cycles, "seconds": seconds}))
