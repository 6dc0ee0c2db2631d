import pytest
from amaranth.sim import Simulator

from ftvoter.boards.driver import AccessError, RegisterDriver
from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel

from axi_sim import monitor

SEED = 0x5EED


def run(lockstep, cycles, *, flip=None):
    """Run with an on-chip RAM; return (transactions, mismatch cycles, disagree values,
    final online mask, halted).

    ``flip`` is ``(cycle, lane, sites, mask)``: XOR ``mask`` into each named register.
    """
    log, mismatches, disagree = [], [], set()
    final = {}
    sim = Simulator(LockstepDemo(lockstep, ram_words=256))
    sim.add_clock(1e-6)

    async def testbench(ctx):
        for cycle in range(cycles):
            if flip is not None and cycle == flip[0]:
                for site in flip[2]:
                    signal = lockstep.units[flip[1]].state_registers()[site]
                    ctx.set(signal, ctx.get(signal) ^ flip[3])
            if ctx.get(lockstep.mismatch):
                mismatches.append(cycle)
                disagree.add(ctx.get(lockstep.disagree))
            await ctx.tick()
        final["online"] = ctx.get(lockstep.online)
        final["halted"] = (ctx.get(lockstep.bridge.registers.halted)
                           if lockstep.bridge is not None else None)

    sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
    sim.add_testbench(testbench)
    sim.run()
    return log, mismatches, disagree, final["online"], final["halted"]


SCRATCH = [f"scratch.m{i}" for i in range(8)]
REGFILE = [f"regfile.r{i}" for i in range(8)]


def lane():
    return WorkloadLane(seed=SEED)


class TestLockstep:
    def test_init(self):
        dut = Lockstep(lane, lanes=3)
        assert dut.lanes == 3 and len(dut.units) == 3 and dut.offset == 0
        assert dut.compared_width == 32 + 3 + 1 + 32 + 4 + 1 + 1 + 32 + 3 + 1 + 1
        assert len(dut.self_error) == 3 and len(dut.disagree) == 3
        assert dut.bridge.lanes == 3 and hasattr(dut, "mgmt")
        delayed = Lockstep(lane, offset=2)
        assert delayed.bridge is None and not hasattr(delayed, "mgmt")
        assert len(delayed.syndrome) == delayed.compared_width
        assert dut.path0_bus.signature == dut.units[0].signature.members["bus"].signature

    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Lane factory must be callable, not 1$"):
            Lockstep(1)
        with pytest.raises(TypeError, match=r"^Lane count must be 2 or 3, not 4$"):
            Lockstep(lane, lanes=4)
        with pytest.raises(TypeError, match=r"^Offset must be a non-negative integer, not -1$"):
            Lockstep(lane, offset=-1)
        with pytest.raises(ValueError, match=r"^Delayed lockstep needs 2 lanes: .+ not offset "
                                             r"2$"):
            Lockstep(lane, lanes=3, offset=2)
        with pytest.raises(TypeError, match=r"^Lane must be a wiring.Component, not 'x'$"):
            Lockstep(lambda: "x")
        with pytest.raises(ValueError, match=r"^Delayed lockstep is detection-only, with one "
                                             r"path, not 2$"):
            Lockstep(lane, offset=1, paths=2)
        for name, value in [("policy", "'diagnose'"), ("timeout", "10"),
                            ("csr_base", "2147483648")]:
            with pytest.raises(ValueError, match=rf"^Delayed lockstep has no voting bridge: "
                                                 rf"{name} must be left at its default, "
                                                 rf"not {value}$"):
                Lockstep(lane, offset=1, **{name: eval(value)})
        with pytest.raises(TypeError, match=r"^Policy must be 'halt' or 'diagnose', "
                                            r"not 'panic'$"):
            Lockstep(lane, policy="panic")
        with pytest.raises(ValueError, match=r"^The voting bridge needs lanes with 32-bit "
                                             r"data, not 64$"):
            Lockstep(lambda: WorkloadLane(data_width=64))
        widths = iter([32, 64])
        with pytest.raises(ValueError, match=r"^Lanes must all have the same signature, "
                                             r"not \[.+\]$"):
            Lockstep(lambda: WorkloadLane(data_width=next(widths)))

    @pytest.mark.parametrize("lanes, offset", [(2, 0), (3, 0), (2, 1), (2, 3)])
    def test_fault_free(self, lanes, offset):
        log, mismatches, _, online, _ = run(Lockstep(lane, lanes=lanes, offset=offset), 2500)
        assert mismatches == []
        assert online == (1 << lanes) - 1
        assert len(log) > 80
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_self_error_isolates(self, lanes):
        # A flip in lane 1's register file trips its parity: the bridge takes lane 1 out
        # on its self_error, before anything diverges; the others go on, golden.
        log, mismatches, _, online, halted = run(Lockstep(lane, lanes=lanes), 2500,
                                                 flip=(300, 1, REGFILE, 1 << 3))
        assert online == ((1 << lanes) - 1) & ~0b010
        assert not halted
        assert len(log) > 200
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_dmr_divergence_halts(self):
        # Scratch RAM has no parity: lane 1's corrupted data diverges at the bus with no
        # self_error, and the halt policy stops forwarding; nothing wrong went out.
        log, mismatches, disagree, online, halted = run(
            Lockstep(lane), 2500, flip=(300, 1, SCRATCH, 1 << 4))
        assert mismatches and mismatches[0] > 300
        assert disagree == {0b11}
        assert halted and online == 0b11
        assert len(log) < 300
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_tmr_outvotes_divergence(self):
        log, mismatches, disagree, online, halted = run(
            Lockstep(lane, lanes=3), 2500, flip=(300, 1, SCRATCH, 1 << 4))
        assert mismatches
        assert disagree == {0b010}
        assert online == 0b101 and not halted
        assert len(log) > 200
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_delayed_detects_flip(self):
        log, mismatches, disagree, _, _ = run(Lockstep(lane, offset=2), 2500,
                                              flip=(300, 1, ["regfile.r2"], 1 << 3))
        assert mismatches and mismatches[0] > 300
        assert disagree == {0b11}
        # Lane 0 drives the path, so the forwarded trace stays golden.
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_delayed_forwards_wrong_data_from_lane0(self):
        # The checker can fail: without the bridge there is no containment, so a flip in
        # the leading lane changes the I/O trace (and is still flagged).
        log, mismatches, _, _, _ = run(Lockstep(lane, offset=2), 2500,
                                       flip=(300, 0, ["regfile.r2"], 1 << 3))
        assert mismatches
        assert log != WorkloadModel(seed=SEED).trace(len(log))


async def mgmt_write(ctx, bus, offset, value):
    """One AXI4-Lite write on the management port; returns bresp."""
    ctx.set(bus.awaddr, offset)
    ctx.set(bus.wdata, value)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    while not ctx.get(bus.awready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.awvalid, 0)
    ctx.set(bus.wvalid, 0)
    while not ctx.get(bus.bvalid):
        await ctx.tick()
    resp = ctx.get(bus.bresp)
    await ctx.tick()
    ctx.set(bus.bready, 0)
    return resp


class Mgmt:
    """The register driver's transport on the management port (writes only)."""

    def __init__(self, ctx, bus):
        self.ctx, self.bus = ctx, bus

    async def read(self, offset):
        raise NotImplementedError("these tests only write")

    async def write(self, offset, value):
        resp = await mgmt_write(self.ctx, self.bus, offset, value)
        if resp:
            raise AccessError(f"write of register {offset:#04x}: bresp {resp}")


class TestLaneCommands:
    def test_freeze_remove_insert(self):
        # The operator freezes lane 1 (its clock stops: state held), the system goes on
        # with lane 0 alone; inserting lane 1 resets all lanes together and both run in
        # lockstep again.
        lockstep = Lockstep(lane)
        top = LockstepDemo(lockstep, ram_words=256)
        log = []
        seen = {}

        async def testbench(ctx):
            regs = RegisterDriver(Mgmt(ctx, top.mgmt))
            lfsr1 = lockstep.units[1].state_registers()["lfsr.state"]
            for _ in range(300):
                await ctx.tick()
            # LANE_CMD is protected: without UNLOCK first, the write is refused (SLVERR).
            with pytest.raises(AccessError, match=r"^write of register 0x50: bresp 2$"):
                await regs.write("LANE_CMD", LANE=1, OP="REMOVE")
            await regs.lane_command(1, "FREEZE")
            await ctx.tick()
            seen["online_frozen"] = ctx.get(lockstep.online)
            held = ctx.get(lfsr1)
            before = len(log)
            for _ in range(400):
                await ctx.tick()
                assert ctx.get(lfsr1) == held, "a frozen lane's state changed"
            seen["progress_alone"] = len(log) - before
            seen["before_insert"] = len(log)
            await regs.lane_command(1, "INSERT")
            resets = 0
            for _ in range(20):
                resets += ctx.get(lockstep.bridge.lanes_reset)
                await ctx.tick()
            seen["reset_cycles"] = resets
            seen["online_after"] = ctx.get(lockstep.online)
            mismatches = 0
            for _ in range(800):
                mismatches += ctx.get(lockstep.mismatch)
                await ctx.tick()
            seen["mismatches_after"] = mismatches
            seen["online_end"] = ctx.get(lockstep.online)

        sim = Simulator(top)
        sim.add_clock(1e-6)
        sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
        sim.add_testbench(testbench)
        sim.run()
        assert seen["online_frozen"] == 0b01
        assert seen["progress_alone"] > 30
        assert seen["reset_cycles"] == 4
        assert seen["online_after"] == seen["online_end"] == 0b11
        assert seen["mismatches_after"] == 0
        # Up to the resynchronisation, lane 0 (alone for a while) kept the golden trace;
        # afterwards the lanes start again from reset and traffic goes on.
        count = seen["before_insert"]
        assert log[:count] == WorkloadModel(seed=SEED).trace(count)
        assert len(log) > count + 50
