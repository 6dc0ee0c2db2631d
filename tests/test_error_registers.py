"""ErrorRegisters' event log in amaranth.sim, read over its mgmt AXI4-Lite port."""

from amaranth.sim import Simulator

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


def test_events_logged_with_their_cycles():
    # Two events 7 cycles apart, bracketed by reads of CYCLE: both are logged in order,
    # stamped 7 cycles apart, within the bracket; reading EVENT pops them.
    dut = ErrorRegisters(lanes=3)
    bus = dut.mgmt
    seen = {}

    async def testbench(ctx):
        await ctx.tick().repeat(10)
        seen["count_before"] = await read(ctx, bus, OFFSET["EVENT_STATUS"]) & 0x1F
        seen["cycle_before"] = await read(ctx, bus, OFFSET["CYCLE"])
        await pulse(ctx, dut, 2, "BROKEN")
        await ctx.tick().repeat(6)
        await pulse(ctx, dut, 1, "REMOVED")
        seen["cycle_after"] = await read(ctx, bus, OFFSET["CYCLE"])
        seen["count_after"] = await read(ctx, bus, OFFSET["EVENT_STATUS"]) & 0x1F
        seen["events"] = [await read(ctx, bus, OFFSET["EVENT"]) for _ in range(3)]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert (seen["count_before"], seen["count_after"]) == (0, 2)
    first, second, empty = seen["events"]
    assert first >> 31 == second >> 31 == 1 and empty >> 31 == 0
    fields = [(e & 0x3FFFFFF, e >> 26 & 3, e >> 28 & 3) for e in (first, second)]
    assert [f[1:] for f in fields] == [(2, EVENT_KINDS["BROKEN"]), (1, EVENT_KINDS["REMOVED"])]
    assert fields[1][0] - fields[0][0] == 7
    assert seen["cycle_before"] < fields[0][0] and fields[1][0] < seen["cycle_after"]
