"""The board demo's management port under Verilator, driven through cocotbext-uart.

What an operator does at the console: read the ID, see both lanes online, inject a fault
(lane 1's parity-failure flag stuck at 1), see lane 1 go BROKEN and the event logged, then clear it:
remove the fault, clear the error causes, insert lane 1 again.

The same once more with the host tool itself: ``ftvoter console`` (pyserial) runs as a
separate process on a pseudo-terminal whose other end the testbench joins to the simulated
UART, as a USB serial adapter joins a host to a board.
"""

import json
import os
import re
import subprocess
import tty

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.uart import UartSink, UartSource

from ftvoter.hdl.registers import ID_VALUE
from ftvoter.sim.mgmt import uart_driver
from ftvoter.sim.toolchain import report, run_testbench

DIVISOR = 16                     # clock cycles per UART bit
PERIOD_NS = 10
BAUD = 1e9 / (DIVISOR * PERIOD_NS)
#: One build for every test: the workload board with live resync (its INSERT a live resync,
#: the quick-dump window for ftvoter console --dump).
BOARD = {"lanes": 2, "uart_divisor": DIVISOR, "live_resync": True}


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.source = UartSource(dut.rx, baud=BAUD, bits=8)
        self.sink = UartSink(dut.tx, baud=BAUD, bits=8)
        self.regs = uart_driver(self.source, self.sink)
        Clock(dut.clk, PERIOD_NS, unit="ns").start()

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.inject.value = 0
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)


@cocotb.test()
async def run_test_console(dut):
    tb = TB(dut)
    regs = tb.regs
    await tb.reset()
    figures = {"id": await regs.read("ID"), "state_before": await regs.lane_states(2)}
    # Inject: lane 1's parity-failure flag stuck at 1 from just after it is armed.
    site = int(os.environ["FTVOTER_PARITY_SITE"])
    await regs.inject(site, 1, 2)                                       # stuck-at-1
    await ClockCycles(dut.clk, 200)
    figures["state_broken"] = await regs.lane_states(2)
    figures["events"] = (await regs.fields("EVENT_STATUS")).COUNT
    figures["event"] = await regs.fields("EVENT")
    figures["cause"] = await regs.causes()
    figures["online_signal"] = int(dut.online.value)
    # Clear: disarm the fault, clear the causes, insert lane 1 again.
    await regs.disarm()
    await regs.clear_errors()
    figures["cause_cleared"] = await regs.causes()
    await regs.lane_command(1, "INSERT")
    await ClockCycles(dut.clk, 100)
    figures["state_after"] = await regs.lane_states(2)
    report(figures)


async def _pump(tb, master):
    """Carry bytes between the pseudo-terminal's master end and the simulated UART."""
    while True:
        try:
            data = os.read(master, 64)
        except BlockingIOError:
            data = b""
        if data:
            await tb.source.write(data)
        if not tb.sink.empty():
            os.write(master, bytes(tb.sink.read_nowait()))
        await ClockCycles(tb.dut.clk, 32)


@cocotb.test()
async def run_test_console_pty(dut):
    tb = TB(dut)
    await tb.reset()
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    cocotb.start_soon(_pump(tb, master))
    site = os.environ.get("FTVOTER_PARITY_SITE")
    plan = (("before", []),
            ("inject", ["--inject", site]),    # flip (the default model)
            ("broken", []),
            ("repair", ["--clear", "--insert", "1"]),
            ("bad_inject", ["--inject", "1:x"]))
    if os.environ.get("FTVOTER_CONSOLE_RUNS"):
        plan = json.loads(os.environ["FTVOTER_CONSOLE_RUNS"])
    runs = {}
    for name, options in plan:
        command = [os.environ["FTVOTER_PYTHON"], "-m", "ftvoter.sim", "console",
                   "--port", os.ttyname(slave), "--lanes", "2", "--once", *options]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        while process.poll() is None:
            await ClockCycles(dut.clk, 256)
        out, err = process.communicate()
        runs[name] = {"returncode": process.returncode, "stdout": out, "stderr": err}
    os.close(slave)
    report(runs)


def _board_site(name):
    from ftvoter.boards.top import DemoCore
    core = DemoCore(2, uart_divisor=DIVISOR)
    return [s.name for s in core.lockstep.injector.sites].index(name)


@pytest.mark.tb
def test_console_tool_over_pty(tmp_path):
    """``ftvoter console`` on a pseudo-terminal: status; a flip of lane 1's parity-failure
    flag (the lane reports itself failed and is isolated); status; repair."""
    import sys
    runs = run_testbench("board", BOARD,
                         "test_board_tb", "run_test_console_pty", tmp_path,
                         {"FTVOTER_PARITY_SITE": _board_site("lane1.ctrl.parity_fail"),
                          "FTVOTER_PYTHON": sys.executable})
    for name in ("before", "inject", "broken", "repair"):
        assert runs[name]["returncode"] == 0, runs[name]["stderr"]
    before, inject = runs["before"]["stdout"], runs["inject"]["stdout"]
    broken, repair = runs["broken"]["stdout"], runs["repair"]["stdout"]
    assert re.search(r"lanes: ONLINE ONLINE$", before, re.M), before
    assert "error causes: none" in before, before
    # The flip happened before the injecting call returned: its status shows the event.
    assert re.search(r"event: cycle \d+ lane 1 BROKEN$", inject, re.M), inject
    assert re.search(r"lanes: ONLINE BROKEN$", broken, re.M), broken
    assert "error causes: SELF_ERROR" in broken and "HALTED" not in broken, broken
    assert re.search(r"lanes: ONLINE ONLINE$", repair, re.M), repair
    assert "error causes: none" in repair, repair
    assert re.search(r"event: cycle \d+ lane 1 FIXED$", repair, re.M), repair
    assert runs["bad_inject"]["returncode"] == 2
    assert runs["bad_inject"]["stderr"].strip().endswith(
        "--inject MASK must be an integer, not 'x'")


@pytest.mark.tb
def test_console_over_uart(tmp_path):
    site = _board_site("lane1.ctrl.parity_fail")
    figures = run_testbench("board", BOARD,
                            "test_board_tb", "run_test_console", tmp_path,
                            {"FTVOTER_PARITY_SITE": site})
    assert figures["id"] == ID_VALUE
    assert figures["state_before"] == ["ONLINE", "ONLINE"]
    assert figures["state_broken"] == ["ONLINE", "BROKEN"]
    assert figures["online_signal"] == 0b01
    assert figures["events"] == 1
    event = figures["event"]
    assert (event["VALID"], event["LANE"], event["KIND"]) == (1, 1, "BROKEN")
    assert "SELF_ERROR" in figures["cause"] and figures["cause_cleared"] == []
    assert figures["state_after"] == ["ONLINE", "ONLINE"]


@pytest.mark.tb
def test_console_dump_over_pty(tmp_path):
    """``ftvoter console --dump`` on a board built with live resync: lane 1 is frozen, read
    out through the UART while lane 0 runs, and inserted again; its registers are the
    board lane's golden model's at the point its LFSR says."""
    import sys

    from ftvoter.boards.dump import lane_layout
    from ftvoter.boards.lanes import board_lane
    from ftvoter.sim.models import WorkloadModel, registers_at
    dump = tmp_path / "dump.json"
    runs = run_testbench("board", BOARD,
                         "test_board_tb", "run_test_console_pty", tmp_path,
                         {"FTVOTER_PYTHON": sys.executable, "FTVOTER_CONSOLE_RUNS": json.dumps(
                             [["dump", ["--dump", str(dump), "--dump-lane", "1"]],
                              ["after", []]])})
    for name in ("dump", "after"):
        assert runs[name]["returncode"] == 0, runs[name]["stderr"]
    assert "dump of lane 1:" in runs["dump"]["stdout"]
    assert re.search(r"lanes: ONLINE ONLINE$", runs["after"]["stdout"], re.M)
    record = json.loads(dump.read_text())
    sites = record["sites"]
    assert record["lane"] == 1 and record["memory_bytes"] == 0    # the lane has no RAM
    assert set(sites) == {name for name, _, _ in lane_layout(board_lane()).names}
    model = WorkloadModel(seed=0x5EED, regs=4, scratch_words=4, io_words=64)
    operations, regs, scratch = registers_at(model, sites)
    assert operations > 100
    assert [sites[f"regfile.r{i}"] for i in range(4)] == regs
    assert [sites[f"scratch.m{i}"] for i in range(4)] == scratch
