"""The watchdog: DMR takes out a lane that stops while the other goes on."""

import pytest
from amaranth.hdl import EnableInserter, Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator
from test_lockstep import SEED

from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel

from axi_sim import monitor


class StoppableLane(wiring.Component):
    """The workload lane, whose clock the test can stop (``stop``: a hung lane), with a
    ``progress`` signal: high in every cycle it runs."""

    def __init__(self):
        self._inner = WorkloadLane(seed=SEED)
        super().__init__(self._inner.signature)
        self.stop = Signal()
        self.progress = Signal()

    def state_registers(self):
        return self._inner.state_registers()

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = EnableInserter(~self.stop)(self._inner)
        wiring.connect(m, wiring.flipped(self.bus), self._inner.bus)
        m.d.comb += [self._inner.irq.eq(self.irq), self.self_error.eq(self._inner.self_error),
                     self.progress.eq(~self.stop)]
        return m


def _quiet(ctx, bus):
    return not any(ctx.get(getattr(bus, name)) for name in
                   ("awvalid", "wvalid", "arvalid", "bready", "rready"))


def run(watchdog, *, stop=False, flip=False, cycles=1500):
    lockstep = Lockstep(StoppableLane, policy="diagnose", timeout=32, watchdog=watchdog)
    log, seen = [], {"mismatches": 0}

    async def bench(ctx):
        lane1 = lockstep.units[1]
        for _ in range(200):
            await ctx.tick()
        # Stop lane 1 (or upset it) in a cycle in which it asks nothing of the bridge.
        while not _quiet(ctx, lane1.bus):
            await ctx.tick()
        if stop:
            ctx.set(lane1.stop, 1)
        if flip:
            signal = lane1.state_registers()["lfsr.state"]
            ctx.set(signal, ctx.get(signal) ^ 1)
        seen["at"] = len(log)
        for _ in range(cycles):
            seen["mismatches"] += ctx.get(lockstep.mismatch)
            await ctx.tick()
        seen["online"] = ctx.get(lockstep.online)
        seen["halted"] = ctx.get(lockstep.halted)

    sim = Simulator(LockstepDemo(lockstep, ram_words=256))
    sim.add_clock(1e-6)
    sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
    sim.add_testbench(bench)
    sim.run()
    return log, seen


def test_watchdog_takes_out_a_stopped_lane():
    # Lane 1 stops; lane 0 presents its next request alone: a divergence no self_error
    # explains. Lane 0 waits for the bridge, lane 1 neither waits nor makes progress for
    # the timeout: lane 1 is taken out and lane 0 goes on, its I/O the golden model's.
    log, seen = run(True, stop=True)
    assert seen["mismatches"] == 1
    assert seen["online"] == 0b01 and not seen["halted"]
    assert len(log) > seen["at"] + 20
    assert log == WorkloadModel(seed=SEED).trace(len(log))


def test_without_the_watchdog_a_stopped_lane_halts():
    log, seen = run(False, stop=True)
    assert seen["halted"] and seen["online"] == 0b11
    assert log == WorkloadModel(seed=SEED).trace(len(log))


def test_watchdog_does_not_blame_a_lane_that_goes_on():
    # An upset in lane 1's LFSR: both lanes go on, with different requests; the watchdog
    # cannot tell which is wrong, so the bridge halts (nothing wrong reaches the path).
    log, seen = run(True, flip=True)
    assert seen["halted"] and seen["online"] == 0b11
    assert log == WorkloadModel(seed=SEED).trace(len(log))


def test_watchdog_needs_the_diagnose_policy():
    with pytest.raises(ValueError, match=r"^The watchdog is the diagnose policy's: it needs "
                                         r"policy='diagnose' and no offset, not 'halt'$"):
        Lockstep(StoppableLane, watchdog=True)
    with pytest.raises(TypeError, match=r"^Watchdog must be a bool, not 1$"):
        Lockstep(StoppableLane, policy="diagnose", watchdog=1)
