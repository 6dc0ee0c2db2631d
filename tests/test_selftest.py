"""The comparator's self-test and the self-checking bridge, in amaranth.sim.

Expectations: the test schedule in closed form (a sequence of one test cycle per channel at
reset and every PERIOD cycles, each checked in the next cycle), and the lanes' I/O against
the workload's golden model (:class:`~ftvoter.sim.models.WorkloadModel`).
"""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from test_error_registers import Mgmt

from ftvoter.boards.driver import RegisterDriver
from ftvoter.hdl.bridge_check import SelfCheckingBridge
from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.encodings import CHANNELS
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.selftest import ComparatorSelfTest
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel

from axi_sim import monitor

SEED = 0x5EED


def schedule(period, cycles, *, lanes=2, online=0b11, broken=False, frozen=(), skip=0):
    """Run a ComparatorSelfTest against a comparator that sees every test (or, ``broken``,
    none); return the cycles of test cycles (with channel and lane) and of failures."""
    m = Module()
    m.submodules.dut = dut = ComparatorSelfTest(lanes=lanes)
    seen = Signal()
    m.d.sync += seen.eq(dut.active & ~broken)
    m.d.comb += [dut.period.eq(period), dut.online.eq(online), dut.mismatch.eq(seen),
                 dut.skip.eq(skip),
                 dut.disagree.eq(dut.mismatch.replicate(lanes) & online if lanes == 2 or
                                 online != 0b111 else seen << 2)]
    tests, fails = [], []

    async def testbench(ctx):
        for cycle in range(cycles):
            ctx.set(dut.frozen, cycle in frozen)
            if ctx.get(dut.active):
                tests.append((cycle, ctx.get(dut.channel), ctx.get(dut.lane)))
            if ctx.get(dut.fail):
                fails.append(cycle)
            await ctx.tick()
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return tests, fails


def sequence(start, lane=1):
    return [(start + c, c, lane) for c in range(len(CHANNELS))]


class TestSchedule:
    def test_at_reset_and_every_period(self):
        tests, fails = schedule(40, 130)
        assert tests == sequence(0) + sequence(40) + sequence(80) + sequence(120)
        assert fails == []

    def test_period_zero_tests_at_reset_only(self):
        tests, _ = schedule(0, 100)
        assert tests == sequence(0)

    def test_a_comparator_that_sees_nothing_fails_each_check(self):
        # Each test cycle's check is the next cycle's: a stuck mismatch is found one cycle
        # after the first test cycle of a sequence.
        tests, fails = schedule(30, 40, broken=True)
        assert fails == [cycle + 1 for cycle, _, _ in tests]
        assert fails[:len(CHANNELS)] == [1, 2, 3, 4, 5] and fails[len(CHANNELS)] == 31

    def test_tmr_tests_the_highest_lane_as_the_odd_one(self):
        tests, fails = schedule(0, 10, lanes=3, online=0b111)
        assert tests == sequence(0, lane=2) and fails == []

    def test_skipped_while_frozen_or_alone(self):
        # Frozen (halted, resetting...): the policy compares nothing; a test cycle then
        # would fail for nothing, so it is skipped, as with one lane online.
        tests, fails = schedule(0, 10, frozen=(1, 2))
        assert [cycle for cycle, _, _ in tests] == [0, 3, 4] and fails == []
        assert schedule(0, 10, online=0b01) == ([], [])

    def test_masked_readies_are_not_tested(self):
        # COMPARE_MASK.B and .R take bready and rready out of the comparison: a forced
        # mismatch there could not be seen, so those test cycles are skipped.
        skip = (1 << CHANNELS["B"]) | (1 << CHANNELS["R"])
        tests, fails = schedule(0, 10, skip=skip)
        assert tests == sequence(0)[:3] and fails == []

    def test_wrong_lanes(self):
        with pytest.raises(TypeError, match=r"^Lane count must be 2 or 3, not 4$"):
            ComparatorSelfTest(lanes=4)


def run_lockstep(lockstep, cycles, *, period=None, upset=None):
    """Run a workload Lockstep; return (path transactions, cycles with mismatch, cycles
    with checker_error, ERROR_CAUSE at the end).

    ``period``: SELFTEST.PERIOD written (after UNLOCK) first; ``upset``: ``(cycle,
    signal)``, a register inverted in the first cycle from ``cycle`` in which a W beat is
    on the path (an upset in the bridge that the path would take)."""
    demo = LockstepDemo(lockstep, ram_words=256)
    log, mismatches, errors, end = [], [], [], {}

    async def testbench(ctx):
        regs = RegisterDriver(Mgmt(ctx, demo.mgmt))
        if period is not None:
            await regs.write_protected("SELFTEST", PERIOD=period)
        for cycle in range(cycles):
            if upset is not None and cycle >= upset[0] and \
                    ctx.get(lockstep.path0_bus.wvalid) and "at" not in end:
                ctx.set(upset[1], ~ctx.get(upset[1]))
                end["at"] = cycle
            if ctx.get(lockstep.mismatch):
                mismatches.append(cycle)
            if ctx.get(lockstep.checker_error):
                errors.append(cycle)
            await ctx.tick()
        end["cause"] = await regs.causes()
        end["halted"] = ctx.get(lockstep.halted)

    sim = Simulator(demo)
    sim.add_clock(1e-6)
    sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
    sim.add_testbench(testbench)
    sim.run()
    return log, mismatches, errors, end


def lane():
    return WorkloadLane(seed=SEED)


@pytest.mark.parametrize("lanes", [2, 3])
class TestInService:
    def test_self_tests_do_not_disturb_the_lanes(self, lanes):
        # A test every 37 cycles (the lanes wait five cycles each time): the I/O is still
        # the golden model's, no mismatch shows, no error cause is set.
        log, mismatches, errors, end = run_lockstep(Lockstep(lane, lanes=lanes), 1500,
                                                    period=37)
        assert len(log) > 150
        assert log == WorkloadModel(seed=SEED).trace(len(log))
        assert mismatches == [] and errors == [] and end["cause"] == []

    def test_self_checking_bridge_in_lockstep(self, lanes):
        log, mismatches, errors, end = run_lockstep(
            Lockstep(lane, lanes=lanes, self_check=True), 1200, period=100)
        assert len(log) > 150 and log == WorkloadModel(seed=SEED).trace(len(log))
        assert mismatches == [] and errors == [] and end["cause"] == []

    @pytest.mark.parametrize("copy", ["main", "shadow"])
    def test_upset_in_one_copy_stops_before_the_path(self, lanes, copy):
        # The registered write data of one copy inverted in a cycle in which the path takes
        # it: the copies' path outputs differ in that very cycle, so the beat is held back
        # and nothing wrong goes out; the bridge stops (halted) and both register files
        # say CHECKER.
        lockstep = Lockstep(lane, lanes=lanes, self_check=True)
        w_data = getattr(lockstep.bridge, copy)._write._w_data
        log, _, errors, end = run_lockstep(lockstep, 800, upset=(400, w_data))
        golden = WorkloadModel(seed=SEED).trace(len(log) + 1)
        assert log == golden[:len(log)]
        assert errors == list(range(end["at"], 800))
        assert end["halted"] and "CHECKER" in end["cause"]


def test_wrong_options():
    with pytest.raises(TypeError, match=r"^Self check must be a bool, not 1$"):
        Lockstep(lane, self_check=1)
    with pytest.raises(ValueError, match=r"^Delayed lockstep has no voting bridge: "
                                         r"self_check must be left at its default"):
        Lockstep(lane, offset=2, self_check=True)
    with pytest.raises(TypeError, match=r"^Lane count must be 2 or 3, not 4$"):
        SelfCheckingBridge(lanes=4)
