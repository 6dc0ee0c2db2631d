"""LockstepDemo: a self-contained lockstep system for simulation demos and benchmarks."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .encodings import NEVER
from .lockstep import Lockstep
from .signatures import AXI4LiteSignature
from .units.memory import AXI4LiteMemory

__all__ = ["LockstepDemo"]


class LockstepDemo(wiring.Component):
    """A :class:`~ftvoter.hdl.lockstep.Lockstep` whose path(s) end in on-chip RAMs.

    Needs no bus model in the testbench, so a simulation can run many cycles with no
    Python in the per-cycle path. Counters tell what happened.

    Parameters
    ----------
    lockstep : Lockstep
        The lockstep group to wrap.
    ram_words : int
        Words of RAM behind the bus.

    Members
    -------
    irq : In(irq_width)
        Passed to the lanes.
    self_error, online, mismatch, disagree : Out
        As :class:`~ftvoter.hdl.lockstep.Lockstep`.
    cycles : Out(32)
        Cycles since reset (saturating).
    writes, reads : Out(32)
        Completed writes (B handshakes) and reads (R handshakes) on path 0, saturating.
    mismatches : Out(32)
        Cycles in which ``mismatch`` was asserted, saturating.
    first_mismatch : Out(32)
        Value of ``cycles`` in the first cycle with ``mismatch``; all ones until then.
    mgmt : In(AXI4LiteSignature(8, 32))
        The lockstep's management port, passed through (when it has one).

    Raises
    ------
    TypeError
        If ``lockstep`` is not a :class:`Lockstep`.
    """

    def __init__(self, lockstep, *, ram_words=256):
        if not isinstance(lockstep, Lockstep):
            raise TypeError(f"Lockstep must be a Lockstep, not {lockstep!r}")
        self._lockstep = lockstep
        bus = lockstep.signature.members["path0_bus"].signature
        self._memories = [AXI4LiteMemory(addr_width=bus.addr_width,
                                         data_width=bus.data_width, depth=ram_words)
                          for _ in range(2 if "path1_bus" in lockstep.signature.members
                                         else 1)]
        super().__init__({
            "irq":            In(lockstep.irq.shape()),
            "self_error":     Out(lockstep.lanes),
            "mismatch":       Out(1),
            "disagree":       Out(lockstep.lanes),
            "online":         Out(lockstep.lanes),
            "cycles":         Out(32),
            "writes":         Out(32),
            "reads":          Out(32),
            "mismatches":     Out(32),
            "first_mismatch": Out(32, init=NEVER),
            **({"mgmt": In(AXI4LiteSignature(addr_width=8, data_width=32))}
               if "mgmt" in lockstep.signature.members else {}),
        })

    @property
    def lockstep(self):
        return self._lockstep

    def elaborate(self, platform):
        m = Module()
        m.submodules.lockstep = lockstep = self._lockstep
        for index, memory in enumerate(self._memories):
            m.submodules[f"memory{index}"] = memory
            connect(m, getattr(lockstep, f"path{index}_bus"), memory.bus)
        if "mgmt" in lockstep.signature.members:
            connect(m, flipped(self.mgmt), lockstep.mgmt)
        m.d.comb += [
            lockstep.irq.eq(self.irq),
            self.self_error.eq(lockstep.self_error),
            self.mismatch.eq(lockstep.mismatch),
            self.disagree.eq(lockstep.disagree),
            self.online.eq(lockstep.online),
        ]

        def count(counter, event):
            with m.If(event & ~counter.all()):
                m.d.sync += counter.eq(counter + 1)

        bus = lockstep.path0_bus
        count(self.cycles, 1)
        count(self.writes, bus.bvalid & bus.bready)
        count(self.reads, bus.rvalid & bus.rready)
        count(self.mismatches, lockstep.mismatch)
        with m.If(lockstep.mismatch & self.first_mismatch.all()):
            m.d.sync += self.first_mismatch.eq(self.cycles)
        return m
