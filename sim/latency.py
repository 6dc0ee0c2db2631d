"""Transaction latency of a lane on its own against the same lane behind the voting bridge.

Measured in ``amaranth.sim`` on lane 0's bus: a transaction's latency is the number of
cycles from the first cycle its request is valid to the cycle of its response handshake,
inclusive. The workload is the same in both set-ups (same seed), so the difference is
what the bridge adds.
"""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane

__all__ = ["measure_latency"]


class _Direct(Elaboratable):
    def __init__(self, seed):
        self.lane = WorkloadLane(seed=seed)
        self.memory = AXI4LiteMemory(depth=256)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = self.lane
        m.submodules.memory = self.memory
        connect(m, self.lane.bus, self.memory.bus)
        return m


class _Bridged(Elaboratable):
    def __init__(self, seed, lanes):
        self.lockstep = Lockstep(lambda: WorkloadLane(seed=seed), lanes=lanes)
        self.lane = self.lockstep.units[0]
        self.memory = AXI4LiteMemory(depth=256)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lockstep = self.lockstep
        m.submodules.memory = self.memory
        connect(m, self.lockstep.path0_bus, self.memory.bus)
        return m


def _latencies(top, cycles):
    bus = top.lane.bus
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
    for name, top in (("direct", _Direct(seed)), ("bridge DMR", _Bridged(seed, 2)),
                      ("bridge TMR", _Bridged(seed, 3))):
        found = _latencies(top, cycles)
        rows[name] = {"transactions": len(found), "mean": sum(found) / len(found),
                      "min": min(found), "max": max(found)}
    return rows
