"""The UART management port, in amaranth.sim, against the framing written out here."""

import pytest
from amaranth.sim import Simulator

from ftvoter.boards.top import DemoCore
from ftvoter.boards.uart import ManagementPort, UARTRx
from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import ERROR_REGISTERS, ID_VALUE

DIVISOR = 4
ERROR = {r.name: r.offset for r in ERROR_REGISTERS}
FAULT = {r.name: r.offset for r in FAULT_REGISTERS}


def frame(command, offset, data=0):
    body = [0xA5, ord(command), offset, *data.to_bytes(4, "little")]
    return bytes(body + [sum(body) & 0xFF])


def parse(response):
    assert len(response) == 7 and response[0] == 0x5A
    assert sum(response[:6]) & 0xFF == response[6], "bad response checksum"
    return response[1], int.from_bytes(response[2:6], "little")


async def send(ctx, line, data):
    for byte in data:
        bits = [0] + [byte >> i & 1 for i in range(8)] + [1]
        for bit in bits:
            ctx.set(line, bit)
            await ctx.tick().repeat(DIVISOR)


async def receive(ctx, line, count):
    got = []
    for _ in range(count):
        await ctx.tick().until(~line)                       # start bit
        await ctx.tick().repeat(DIVISOR // 2)
        value = 0
        for i in range(8):
            await ctx.tick().repeat(DIVISOR)
            value |= ctx.get(line) << i
        await ctx.tick().repeat(DIVISOR)
        assert ctx.get(line) == 1, "missing stop bit"
        got.append(value)
    return bytes(got)


class TestManagementPort:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Divisor must be an integer of at least 4, "
                                            r"not 2$"):
            ManagementPort(2)
        with pytest.raises(TypeError, match=r"^Divisor must be an integer"):
            UARTRx(4.5)

    def test_session(self):
        # Read the ID, see both lanes online, make lane 1's parity-failure flag stuck (through the
        # fault registers): lane 1 reports itself broken and is taken out, the event is
        # logged; then a checksum error and a bad command are answered as such.
        core = DemoCore(2, uart_divisor=DIVISOR)
        sim = Simulator(core)
        sim.add_clock(1e-6)
        answers = {}

        async def transact(ctx, name, command, offset, data=0, raw=None):
            await send(ctx, core.rx, raw or frame(command, offset, data))
            answers[name] = parse(await receive(ctx, core.tx, 7))

        async def testbench(ctx):
            ctx.set(core.rx, 1)
            await ctx.tick().repeat(5)
            await transact(ctx, "id", "R", ERROR["ID"])
            await transact(ctx, "state", "R", ERROR["LANE_STATE"])
            sites = [s.name for s in core.lockstep.injector.sites]
            await transact(ctx, "site", "w", FAULT["SITE"],
                           sites.index("lane1.ctrl.parity_fail"))
            await transact(ctx, "mask", "w", FAULT["MASK"], 1)
            await transact(ctx, "model", "w", FAULT["CONTROL"],
                           FAULT_REGISTERS.encode("CONTROL", ARM=1, MODEL=2))   # stuck-at-1
            await ctx.tick().repeat(50)
            await transact(ctx, "broken", "R", ERROR["LANE_STATE"])
            await transact(ctx, "events", "R", ERROR["EVENT_STATUS"])
            await transact(ctx, "event", "R", ERROR["EVENT"])
            answers["parity_site"] = sites.index("lane1.ctrl.parity_fail")
            await transact(ctx, "site_back", "r", FAULT["SITE"])
            await transact(ctx, "bad_sum", "R", 0, raw=frame("R", 0)[:-1] + b"\x00")
            await transact(ctx, "bad_command", "X", 0)

        sim.add_testbench(testbench)
        sim.run()
        assert answers["id"] == (0, ID_VALUE)
        assert answers["state"] == (0, ERROR_REGISTERS.encode("LANE_STATE", LANE0="ONLINE",
                                                              LANE1="ONLINE"))
        assert answers["site"][0] == answers["mask"][0] == answers["model"][0] == 0
        assert answers["broken"] == (0, ERROR_REGISTERS.encode("LANE_STATE", LANE0="ONLINE",
                                                               LANE1="BROKEN"))
        assert answers["events"] == (0, 1)                  # one event waiting
        status, event = answers["event"]
        assert status == 0
        event = ERROR_REGISTERS.decode("EVENT", event)
        assert (event["VALID"], event["LANE"], event["KIND"]) == (1, 1, "BROKEN")
        assert answers["site_back"] == (0, answers["parity_site"])
        assert answers["bad_sum"] == (2, 0)
        assert answers["bad_command"] == (3, 0)
