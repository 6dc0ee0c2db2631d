"""ErrorRegisters in amaranth.sim, read over its mgmt AXI4-Lite port: the event log and the
saturating counters."""

import pytest
from amaranth.sim import Simulator

from ftvoter.boards.driver import AccessError, RegisterDriver
from ftvoter.hdl.registers import ERROR_REGISTERS, EVENT_KINDS, ErrorRegisters

OFFSET = {r.name: r.offset for r in ERROR_REGISTERS}


async def read(ctx, bus, offset):
    """One AXI4-Lite read, written from the protocol: AR until its handshake, then R."""
    ctx.set(bus.araddr, offset)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    while True:
        _, _, arready, rvalid, rdata = await ctx.tick().sample(bus.arready, bus.rvalid,
                                                               bus.rdata)
        if arready:
            ctx.set(bus.arvalid, 0)
        if rvalid:
            ctx.set(bus.rready, 0)
            return rdata


async def pulse(ctx, dut, lane, kind):
    ctx.set(dut.event_valid, 1)
    ctx.set(dut.event_lane, lane)
    ctx.set(dut.event_kind, EVENT_KINDS[kind])
    await ctx.tick()
    ctx.set(dut.event_valid, 0)


class Mgmt:
    """The register driver's transport in amaranth.sim: this file's AXI4-Lite ``read`` and
    ``write`` on ``bus``."""

    def __init__(self, ctx, bus):
        self.ctx, self.bus = ctx, bus

    async def read(self, offset):
        return await read(self.ctx, self.bus, offset)

    async def write(self, offset, value):
        resp = await write(self.ctx, self.bus, offset, value)
        if resp:
            raise AccessError(f"write of register {offset:#04x}: bresp {resp}")


def test_events_logged_with_their_cycles():
    # Two events 7 cycles apart, bracketed by reads of CYCLE: both are logged in order,
    # stamped 7 cycles apart, within the bracket; reading EVENT pops them. (The layout of
    # EVENT itself is checked in test_driver.py.)
    dut = ErrorRegisters(lanes=3)
    seen = {}

    async def testbench(ctx):
        regs = RegisterDriver(Mgmt(ctx, dut.mgmt))
        await ctx.tick().repeat(10)
        seen["count_before"] = (await regs.fields("EVENT_STATUS")).COUNT
        seen["cycle_before"] = await regs.read("CYCLE")
        await pulse(ctx, dut, 2, "BROKEN")
        await ctx.tick().repeat(6)
        await pulse(ctx, dut, 1, "REMOVED")
        seen["cycle_after"] = await regs.read("CYCLE")
        seen["count_after"] = (await regs.fields("EVENT_STATUS")).COUNT
        seen["events"] = await regs.events()
        seen["empty"] = await regs.fields("EVENT")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert (seen["count_before"], seen["count_after"]) == (0, 2)
    first, second = seen["events"]
    assert first.VALID == second.VALID == 1 and seen["empty"].VALID == 0
    assert [(e.LANE, e.KIND) for e in (first, second)] == [(2, "BROKEN"), (1, "REMOVED")]
    assert second.CYCLE - first.CYCLE == 7
    assert seen["cycle_before"] < first.CYCLE and second.CYCLE < seen["cycle_after"]


MAX = 2**32 - 1


async def write(ctx, bus, offset, data):
    """One AXI4-Lite write: AW and W together until their handshake, then B."""
    ctx.set(bus.awaddr, offset)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    while True:
        _, _, awready, bvalid, bresp = await ctx.tick().sample(bus.awready, bus.bvalid,
                                                               bus.bresp)
        if awready:
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
        if bvalid:
            ctx.set(bus.bready, 0)
            return bresp


def with_counters(monkeypatch, **kwargs):
    """An ErrorRegisters and its six 32-bit counter registers, by register name.

    The counters are as wide as their registers (32 bits), so no test can count to the
    top: the test sets a counter near it directly in the simulator (``ctx.set``), then
    drives real events through the inputs. The counters are local to ``elaborate``; this
    records them as they are made (``Simulator`` elaborates at once).
    """
    from ftvoter.hdl import registers
    made = {}
    real = registers.Signal

    def recording(*args, **kw):
        signal = real(*args, src_loc_at=1, **kw)
        if kw.get("name", "").startswith("count_"):
            made[kw["name"][len("count_"):].upper()] = signal
        return signal

    dut = ErrorRegisters(**kwargs)
    monkeypatch.setattr(registers, "Signal", recording)
    sim = Simulator(dut)
    monkeypatch.setattr(registers, "Signal", real)
    assert set(made) == {"CORRECTED", "RETRIES", "REJECTED", "ERRORS0", "ERRORS1",
                         "ERRORS2", "ROLLBACKS"}
    return dut, sim, made


async def _event(ctx, dut, name, value):
    """Drive (``value`` 1) or stop (0) the events that one counter counts, for a cycle."""
    if name == "CORRECTED":
        ctx.set(dut.corrected, value)
    elif name.startswith("ERRORS"):
        ctx.set(dut.lane_errors, value << int(name[-1]))
    elif name == "RETRIES":
        ctx.set(dut.retry, value)       # 0b01, 0b10: one retry; 0b11: one on each path


@pytest.mark.parametrize("name", ["CORRECTED", "ERRORS0", "ERRORS1", "ERRORS2", "RETRIES"])
def test_counter_saturates(monkeypatch, name):
    # Two below the top, then one event per cycle for five cycles: the counter reaches
    # the top after two and stays there (it does not wrap to 0); software reads it.
    dut, sim, counters = with_counters(monkeypatch, lanes=3)
    counter = counters[name]
    seen = {}

    async def testbench(ctx):
        await ctx.tick().repeat(3)
        # Below the top, events count one by one from 0.
        await _event(ctx, dut, name, 1)
        await ctx.tick().repeat(3)
        await _event(ctx, dut, name, 0)
        seen["small"] = await read(ctx, dut.mgmt, OFFSET[name])
        ctx.set(counter, MAX - 2)
        await _event(ctx, dut, name, 1)
        values = []
        for _ in range(5):
            await ctx.tick()
            values.append(ctx.get(counter))
        await _event(ctx, dut, name, 0)
        seen["values"] = values
        seen["read"] = await read(ctx, dut.mgmt, OFFSET[name])

    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == {"small": 3, "values": [MAX - 1, MAX, MAX, MAX, MAX], "read": MAX}


@pytest.mark.parametrize("start, expected", [
    (MAX - 5, [MAX - 3, MAX - 1, MAX, MAX]),    # two per cycle: the last step is one
    (MAX - 4, [MAX - 2, MAX, MAX, MAX]),        # two per cycle, exactly to the top
])
def test_retries_saturate_two_at_a_time(monkeypatch, start, expected):
    # Both paths retried in the same cycle count two; near the top, RETRIES stops at
    # the top rather than wrapping past it.
    dut, sim, counters = with_counters(monkeypatch, lanes=2, paths=2)
    seen = {}

    async def testbench(ctx):
        await ctx.tick()
        ctx.set(dut.retry, 0b11)
        await ctx.tick().repeat(2)
        ctx.set(dut.retry, 0)
        seen["small"] = await read(ctx, dut.mgmt, OFFSET["RETRIES"])
        ctx.set(counters["RETRIES"], start)
        ctx.set(dut.retry, 0b11)
        values = []
        for _ in range(len(expected)):
            await ctx.tick()
            values.append(ctx.get(counters["RETRIES"]))
        ctx.set(dut.retry, 0)
        seen["values"] = values
        seen["read"] = await read(ctx, dut.mgmt, OFFSET["RETRIES"])

    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == {"small": 4, "values": expected, "read": MAX}


def test_rejected_saturates(monkeypatch):
    # REJECTED counts writes that were ignored: a CONTROL write over mgmt without the
    # unlock key. At the top, one more rejected write leaves it at the top.
    from ftvoter.hdl.signatures import AXI4_RESP_SLVERR
    dut, sim, counters = with_counters(monkeypatch, lanes=2)
    seen = {}

    async def testbench(ctx):
        await ctx.tick()
        seen["responses"] = [await write(ctx, dut.mgmt, OFFSET["CONTROL"], 0)
                             for _ in range(2)]
        seen["small"] = await read(ctx, dut.mgmt, OFFSET["REJECTED"])
        ctx.set(counters["REJECTED"], MAX - 1)
        values = []
        for _ in range(3):
            await write(ctx, dut.mgmt, OFFSET["CONTROL"], 0)
            values.append(ctx.get(counters["REJECTED"]))
        seen["values"] = values
        seen["read"] = await read(ctx, dut.mgmt, OFFSET["REJECTED"])

    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == {"responses": [AXI4_RESP_SLVERR] * 2, "small": 2,
                    "values": [MAX, MAX, MAX], "read": MAX}


def test_lanes_before_mgmt():
    # The lanes' port and mgmt write SCRATCH in the same cycle: the lanes' write is done in
    # that cycle, mgmt's is held off (no awready) and done in the next, so it is the one
    # that stays. A mgmt read waits likewise while the lanes keep the port.
    dut = ErrorRegisters(lanes=2)
    bus, lanes = dut.mgmt, dut.lanes
    seen = {}

    async def testbench(ctx):
        ctx.set(bus.awaddr, OFFSET["SCRATCH"])
        ctx.set(bus.wdata, 2)
        ctx.set(bus.wstrb, 0xF)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        ctx.set(bus.bready, 1)
        for name, value in (("en", 1), ("write", 1), ("addr", OFFSET["SCRATCH"]),
                            ("wdata", 1), ("wstrb", 0xF)):
            ctx.set(getattr(lanes, name), value)
        seen["held"] = ctx.get(bus.awready)
        await ctx.tick()
        ctx.set(lanes.write, 0)                     # the lanes now read SCRATCH
        seen["lanes_wrote"] = ctx.get(lanes.rdata)
        seen["still_held"] = ctx.get(bus.awready)
        ctx.set(lanes.en, 0)
        seen["taken"] = ctx.get(bus.awready)
        await ctx.tick()
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        seen["bvalid"] = ctx.get(bus.bvalid)
        ctx.set(lanes.en, 1)
        seen["final"] = ctx.get(lanes.rdata)
        ctx.set(lanes.en, 0)
        seen["read"] = await read(ctx, bus, OFFSET["SCRATCH"])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == {"held": 0, "lanes_wrote": 1, "still_held": 0, "taken": 1, "bvalid": 1,
                    "final": 2, "read": 2}
