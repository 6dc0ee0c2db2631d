"""The board demo's management port under Verilator, driven through cocotbext-uart.

What an operator does at the console: read the ID, see both lanes online, inject a fault
(lane 1's parity-failure flag stuck at 1), see lane 1 go BROKEN and the event logged, then clear it:
remove the fault, clear the error causes, insert lane 1 again.
"""

import os

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.uart import UartSink, UartSource

from ftvoter.boards.console import ERROR, FAULT, parse_response, request
from ftvoter.hdl.registers import EVENT_KINDS, ID_VALUE, LANE_OPS, LANE_STATES, UNLOCK_KEY
from ftvoter.sim.toolchain import report, run_testbench

DIVISOR = 16                     # clock cycles per UART bit
PERIOD_NS = 10
BAUD = 1e9 / (DIVISOR * PERIOD_NS)
ONLINE, BROKEN = LANE_STATES["ONLINE"], LANE_STATES["BROKEN"]


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.source = UartSource(dut.rx, baud=BAUD, bits=8)
        self.sink = UartSink(dut.tx, baud=BAUD, bits=8)
        Clock(dut.clk, PERIOD_NS, unit="ns").start()

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.inject.value = 0
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def access(self, target, write, offset, data=0):
        await self.source.write(request(target, write, offset, data))
        answer = b""
        while len(answer) < 7:
            answer += bytes(await self.sink.read(1))
        status, value = parse_response(answer)
        assert status == 0, f"status {status} for {target} {offset:#x}"
        return value

    async def read(self, offset):
        return await self.access("error", False, offset)

    async def write(self, offset, value):
        await self.access("error", True, offset, value)


@cocotb.test()
async def run_test_console(dut):
    tb = TB(dut)
    await tb.reset()
    figures = {"id": await tb.read(ERROR["ID"]),
               "state_before": await tb.read(ERROR["LANE_STATE"])}
    # Inject: lane 1's parity-failure flag stuck at 1 from a few cycles on.
    site = int(os.environ["FTVOTER_PARITY_SITE"])
    await tb.access("fault", True, FAULT["SITE"], site)
    await tb.access("fault", True, FAULT["MASK"], 1)
    now = await tb.access("fault", False, FAULT["CYCLE"])
    await tb.access("fault", True, FAULT["START"], now + 100)
    await tb.access("fault", True, FAULT["CONTROL"], 1 | 2 << 1)        # arm, stuck-at-1
    await ClockCycles(dut.clk, 200)
    figures["state_broken"] = await tb.read(ERROR["LANE_STATE"])
    figures["events"] = await tb.read(ERROR["EVENT_STATUS"]) & 0x1F
    figures["event"] = await tb.read(ERROR["EVENT"])
    figures["cause"] = await tb.read(ERROR["ERROR_CAUSE"])
    figures["online_signal"] = int(dut.online.value)
    # Clear: disarm the fault, clear the causes, insert lane 1 again.
    await tb.access("fault", True, FAULT["CONTROL"], 0)
    await tb.write(ERROR["ERROR_CAUSE"], 0xFFFFFFFF)
    figures["cause_cleared"] = await tb.read(ERROR["ERROR_CAUSE"])
    await tb.write(ERROR["UNLOCK"], UNLOCK_KEY)
    await tb.write(ERROR["LANE_CMD"], 1 | LANE_OPS["INSERT"] << 4)
    await ClockCycles(dut.clk, 100)
    figures["state_after"] = await tb.read(ERROR["LANE_STATE"])
    report(figures)


@pytest.mark.tb
def test_console_over_uart(tmp_path):
    from ftvoter.boards.top import DemoCore
    core = DemoCore(2, uart_divisor=DIVISOR)
    site = [s.name for s in core.lockstep.injector.sites].index("lane1.ctrl.parity_fail")
    figures = run_testbench("board", {"lanes": 2, "uart_divisor": DIVISOR},
                            "test_board_tb", "run_test_console", tmp_path,
                            {"FTVOTER_PARITY_SITE": site})
    assert figures["id"] == ID_VALUE
    assert figures["state_before"] == ONLINE | ONLINE << 2
    assert figures["state_broken"] == ONLINE | BROKEN << 2
    assert figures["online_signal"] == 0b01
    assert figures["events"] == 1
    event = figures["event"]
    assert event >> 31 == 1 and event >> 26 & 3 == 1
    assert event >> 28 & 3 == EVENT_KINDS["BROKEN"]
    assert figures["cause"] != 0 and figures["cause_cleared"] == 0
    assert figures["state_after"] == ONLINE | ONLINE << 2
