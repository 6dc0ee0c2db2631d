"""FaultRegisters: the injector programmed over AXI4-Lite, as a board would."""

import pytest
from amaranth.hdl import Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator
from test_lockstep import mgmt_write

from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.fault_regs import FAULT_REGISTERS, FaultRegisters
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.workload import WorkloadLane

OFFSET = {register.name: register.offset for register in FAULT_REGISTERS}


async def read(ctx, bus, offset):
    ctx.set(bus.araddr, offset)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    while not ctx.get(bus.arready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.arvalid, 0)
    while not ctx.get(bus.rvalid):
        await ctx.tick()
    data = ctx.get(bus.rdata)
    await ctx.tick()
    ctx.set(bus.rready, 0)
    return data


class TestFaultRegisters:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Injector must be a FaultInjector, not 1$"):
            FaultRegisters(1)

    def test_map(self):
        assert [r.name for r in FAULT_REGISTERS] == ["CONTROL", "SITE", "MASK", "START",
                                                    "DURATION", "STATUS", "CYCLE"]
        assert "#define FAULT_START" in FAULT_REGISTERS.as_c_header()

    def test_flip_through_registers(self):
        # Program a flip of lane 0's awvalid at the end of cycle 200 over the bus: the
        # lanes' outputs differ in cycle 201 and the bridge's mismatch rises in cycle 202,
        # as with the injector's ports.
        lockstep = Lockstep(lambda: WorkloadLane(seed=0x5EED), faults=["*"])
        demo = LockstepDemo(lockstep, ram_words=256)
        regs = FaultRegisters(lockstep.injector)
        m = Module()
        m.submodules.demo = demo
        m.submodules.regs = regs
        connect(m, regs.fault, lockstep.fault)
        site = [s.name for s in lockstep.injector.sites].index("lane0.bus.awvalid")
        seen = {}
        sim = Simulator(m)
        sim.add_clock(1e-6)

        async def testbench(ctx):
            bus = regs.bus
            for name, value in (("SITE", site), ("MASK", 1), ("START", 200),
                                ("CONTROL", 0b0001)):
                await mgmt_write(ctx, bus, OFFSET[name], value)
            seen["mask"] = await read(ctx, bus, OFFSET["MASK"])
            seen["site"] = await read(ctx, bus, OFFSET["SITE"])
            seen["cycle"] = await read(ctx, bus, OFFSET["CYCLE"])
            while ctx.get(demo.cycles) < 220:
                await ctx.tick()
            seen["first_mismatch"] = ctx.get(demo.first_mismatch)

        sim.add_testbench(testbench)
        sim.run()
        assert seen["mask"] == 1 and seen["site"] == site
        assert 0 < seen["cycle"] < 200
        assert seen["first_mismatch"] == 202
