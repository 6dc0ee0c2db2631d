import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel

from axi_sim import monitor

SEED = 0x5EED


class LockstepWithMemory(Elaboratable):
    def __init__(self, lockstep):
        self.lockstep = lockstep
        self.memory = AXI4LiteMemory(depth=256)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lockstep = self.lockstep
        m.submodules.memory = self.memory
        connect(m, self.lockstep.bus, self.memory.bus)
        return m


def run(lockstep, cycles, *, flip=None):
    """Run with an on-chip RAM; return (transactions, mismatch cycles, disagree values).

    ``flip`` is ``(cycle, lane, site, mask)``.
    """
    log, mismatches, disagree = [], [], set()
    sim = Simulator(LockstepWithMemory(lockstep))
    sim.add_clock(1e-6)

    async def testbench(ctx):
        for cycle in range(cycles):
            if flip is not None and cycle == flip[0]:
                signal = lockstep.units[flip[1]].state_registers()[flip[2]]
                ctx.set(signal, ctx.get(signal) ^ flip[3])
            if ctx.get(lockstep.mismatch):
                mismatches.append(cycle)
                disagree.add(ctx.get(lockstep.disagree))
            await ctx.tick()

    sim.add_testbench(monitor(lockstep.bus, log), background=True)
    sim.add_testbench(testbench)
    sim.run()
    return log, mismatches, disagree


def lane():
    return WorkloadLane(seed=SEED)


class TestLockstep:
    def test_init(self):
        dut = Lockstep(lane, lanes=3)
        assert dut.lanes == 3 and len(dut.units) == 3 and dut.offset == 0
        assert dut.compared_width == 16 + 3 + 1 + 32 + 4 + 1 + 1 + 16 + 3 + 1 + 1
        assert len(dut.syndrome) == dut.compared_width
        assert len(dut.self_error) == 3 and len(dut.disagree) == 3
        assert dut.bus.signature == dut.units[0].signature.members["bus"].signature

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
        widths = iter([32, 64])
        with pytest.raises(ValueError, match=r"^Lanes must all have the same signature, "
                                             r"not \[.+\]$"):
            Lockstep(lambda: WorkloadLane(data_width=next(widths)))

    @pytest.mark.parametrize("lanes, offset", [(2, 0), (3, 0), (2, 1), (2, 3)])
    def test_fault_free(self, lanes, offset):
        log, mismatches, _ = run(Lockstep(lane, lanes=lanes, offset=offset), 2500)
        assert mismatches == []
        assert len(log) > 80
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    @pytest.mark.parametrize("offset", [0, 2])
    def test_dmr_detects_flip(self, offset):
        # A flipped bit in lane 1's register file reaches the bus and is flagged; lane 0
        # drives the bus, so the forwarded trace is still the golden one.
        log, mismatches, disagree = run(Lockstep(lane, offset=offset), 2500,
                                        flip=(300, 1, "regfile.r2", 1 << 3))
        assert mismatches and mismatches[0] > 300
        assert disagree == {0b11}
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_tmr_outvotes_flip(self):
        log, mismatches, disagree = run(Lockstep(lane, lanes=3), 2500,
                                        flip=(300, 1, "regfile.r2", 1 << 3))
        assert mismatches
        assert disagree == {0b010}
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_dmr_forwards_wrong_data_from_lane0(self):
        # The checker can fail: a flip in the forwarding lane changes the I/O trace (the
        # voting bridge is what will contain it), and it is still flagged.
        log, mismatches, _ = run(Lockstep(lane), 2500, flip=(300, 0, "regfile.r2", 1 << 3))
        assert mismatches
        assert log != WorkloadModel(seed=SEED).trace(len(log))
