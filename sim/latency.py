"""Transaction latency of a lane on its own against the same lane behind the voting bridge.

Measured in ``amaranth.sim`` on lane 0's bus: a transaction's latency is the number of
cycles from the first cycle its request is valid to the cycle of its response handshake,
inclusive. The workload is the same in both set-ups (same seed), so the difference is
what the bridge adds.
"""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane

__all__ = ["measure_latency"]


__all__ += ["LaneWithMemory"]


class LaneWithMemory(Elaboratable):
    """One lane wired straight to an on-chip RAM covering its I/O window (simplex)."""

    def __init__(self, lane):
        self.lane = lane
        self.memory = AXI4LiteMemory(addr_width=lane.signature.addr_width,
                                     data_width=lane.signature.data_width,
                                     depth=getattr(lane, "io_words", 256))

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = self.lane
        m.submodules.memory = self.memory
        connect(m, self.lane.bus, self.memory.bus)
        return m


def _latencies(top, lane, cycles):
    bus = lane.bus
    found = []

    async def testbench(ctx):
        start = None
        for cycle in range(cycles):
            request = ctx.get(bus.awvalid) or ctx.get(bus.arvalid)
            if request and start is None:
                start = cycle
            done = ((ctx.get(bus.bvalid) and ctx.get(bus.bready)) or
                    (ctx.get(bus.rvalid) and ctx.get(bus.rready)))
            if done and start is not None:
                found.append(cycle - start + 1)
                start = None
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return found


def measure_latency(*, cycles=3000, seed=0x5EED):
    """Return per-configuration latency figures (transactions, mean, min, max cycles)."""
    rows = {}
    setups = [("direct", LaneWithMemory(WorkloadLane(seed=seed)))]
    for name, lanes in (("bridge DMR", 2), ("bridge TMR", 3)):
        setups.append((name, LockstepDemo(Lockstep(lambda: WorkloadLane(seed=seed),
                                                   lanes=lanes))))
    for name, top in setups:
        lane = top.lane if isinstance(top, LaneWithMemory) else top.lockstep.units[0]
        found = _latencies(top, lane, cycles)
        rows[name] = {"transactions": len(found), "mean": sum(found) / len(found),
                      "min": min(found), "max": max(found)}
    return rows
