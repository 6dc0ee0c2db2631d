"""One faulty copy of a campaign bench's system, alone: the speed an injection is held to.

A :class:`~ftvoter.hdl.campaign.CampaignBench` simulates a golden copy and faulty copies of
a system, and monitors. The least an injection can cost is its settle time (the cycles
until its outcome is final) on one faulty copy with nothing else around it: this
component is that copy (the system with its fault injector and the RAM behind each path,
as the bench builds it), with the injector's inputs as its own inputs (so that a simulator
cannot fold the saboteurs away) and the path requests and the checker's outputs as its
outputs (so that nothing is optimised out). ``ftvoter bench-campaign`` measures it in a
plain C++ loop.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect

from .units.memory import AXI4LiteMemory

__all__ = ["PlainCopy"]


class PlainCopy(wiring.Component):
    """``system(faults)`` (a :class:`~ftvoter.hdl.lockstep.Lockstep` with an injector), the
    RAM(s) behind its path(s) (``ram_words``, ``ram_init``), and ``copy_domain``: the lane
    RAMs' memory-port domain, if the lanes have one (clocked with ``sync``)."""

    def __init__(self, system, *, faults, ram_words, ram_init=(), copy_domain=None):
        self._system = system(faults)
        if self._system.injector is None:
            raise ValueError(f"The copy must have a fault injector, not faults={faults!r}")
        self._ram_words, self._ram_init = ram_words, list(ram_init)
        self._copy_domain = copy_domain
        self._paths = 2 if "path1_bus" in self._system.signature.members else 1
        fault = self._system.injector.signature.members
        members = {name: In(fault[name].shape) for name in
                   ("arm", "site", "mask", "model", "start", "duration", "common")}
        members.update(mismatch=Out(1), online=Out(self._system.lanes))
        for j in range(self._paths):
            bus = getattr(self._system, f"path{j}_bus")
            members[f"path{j}_awaddr"] = Out(len(bus.awaddr))
            members[f"path{j}_wdata"] = Out(len(bus.wdata))
            members[f"path{j}_araddr"] = Out(len(bus.araddr))
            members[f"path{j}_valid"] = Out(3)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        system = self._system
        m.submodules.lockstep = system
        if self._copy_domain is not None:
            m.domains += ClockDomain(self._copy_domain, reset_less=True)
            m.d.comb += ClockSignal(self._copy_domain).eq(ClockSignal())
        for name in ("arm", "site", "mask", "model", "start", "duration", "common"):
            m.d.comb += getattr(system.fault, name).eq(getattr(self, name))
        m.d.comb += [self.mismatch.eq(system.mismatch), self.online.eq(system.online)]
        for j in range(self._paths):
            bus = getattr(system, f"path{j}_bus")
            memory = AXI4LiteMemory(addr_width=bus.signature.addr_width,
                                    data_width=bus.signature.data_width,
                                    depth=self._ram_words, init=self._ram_init, flops=True)
            m.submodules[f"memory{j}"] = memory
            connect(m, bus, memory.bus)
            m.d.comb += [getattr(self, f"path{j}_awaddr").eq(bus.awaddr),
                         getattr(self, f"path{j}_wdata").eq(bus.wdata),
                         getattr(self, f"path{j}_araddr").eq(bus.araddr),
                         getattr(self, f"path{j}_valid").eq(
                             bus.awvalid | bus.wvalid << 1 | bus.arvalid << 2)]
        return m
