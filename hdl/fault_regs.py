"""FaultRegisters: the fault injector's controls as registers, for boards."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from .csr import Access, Field, Register, RegisterMap
from .csr_bank import CSRBank
from .csr_bus import AXI4LiteCSRBridge
from .inject import FaultInjector
from .signatures import AXI4LiteSignature

__all__ = ["FAULT_REGISTERS", "FaultRegisters"]

RO, RW = Access.RO, Access.RW

#: The fault injector's register map (32-bit registers, byte offsets).
FAULT_REGISTERS = RegisterMap("FAULT", [
    Register("CONTROL", 0x00, [
        Field("ARM", 0, 1, RW, doc="Apply the fault described by the other registers."),
        Field("MODEL", 1, 2, RW, doc="0 flip, 1 stuck-at-0, 2 stuck-at-1."),
        Field("COMMON", 3, 1, RW, doc="Apply it to the same register in every lane."),
    ], doc="What the fault does. Write ARM last."),
    Register("SITE", 0x04, [Field("INDEX", 0, 16, RW, doc="Site index (`ftvoter sites`).")],
             doc="Which register."),
    Register("MASK", 0x08, [Field("BITS", 0, 32, RW, doc="The bits hit.")],
             doc="Which bits of the register (several: a multi-bit fault)."),
    Register("START", 0x0C, [Field("CYCLE", 0, 32, RW, doc="Cycle since reset.")],
             doc="When: the flip, or the first forced edge, ends this cycle."),
    Register("DURATION", 0x10, [Field("CYCLES", 0, 32, RW, doc="0: for ever.")],
             doc="How long a stuck-at fault lasts."),
    Register("STATUS", 0x14, [Field("ACTIVE", 0, 1, RO, doc="The fault applies now.")],
             doc="Injector status."),
    Register("CYCLE", 0x18, [Field("COUNT", 0, 32, RO, doc="Cycles since reset.")],
             doc="The injector's cycle counter, the time base of START."),
], size=32, doc="Fault injector controls (FaultRegisters), reached over AXI4-Lite.",
   source="hdl/fault_regs.py", command="ftvoter regs --map fault")


class FaultRegisters(wiring.Component):
    """Drive a :class:`~ftvoter.hdl.inject.FaultInjector` from registers.

    The same controls as the injector's ports (see :data:`FAULT_REGISTERS`), behind an
    AXI4-Lite target, so a board can program faults from a host (over a UART bridge, say)
    and run the same campaigns as the simulator. Connect ``fault`` to a
    :class:`~ftvoter.hdl.lockstep.Lockstep`'s ``fault`` port.

    Parameters
    ----------
    injector : FaultInjector
        The injector to control (for its site count and mask width).

    Members
    -------
    bus : In(AXI4LiteSignature(5, 32))
        Register access, through :class:`~ftvoter.hdl.csr_bus.AXI4LiteCSRBridge` (its
        arbitration: a write before a read). Writes take effect at the next clock edge; a
        write and a read may each complete every other cycle. Every response is OKAY.
    fault : In(injector signature)
        To the injector: ``arm``, ``site``, ``mask``, ``model``, ``start``, ``duration``,
        ``common`` driven from the registers; ``cycle`` and ``active`` read back.

    Raises
    ------
    TypeError
        If ``injector`` is not a :class:`~ftvoter.hdl.inject.FaultInjector`.
    """

    def __init__(self, injector):
        if not isinstance(injector, FaultInjector):
            raise TypeError(f"Injector must be a FaultInjector, not {injector!r}")
        self._bank = CSRBank(FAULT_REGISTERS)
        super().__init__({
            "bus":   In(AXI4LiteSignature(addr_width=5, data_width=32)),
            "fault": In(injector.signature),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = self._bank
        port = bank.port
        m.submodules.bus_bridge = bridge = AXI4LiteCSRBridge(5)
        wiring.connect(m, wiring.flipped(self.bus), bridge.bus)
        wiring.connect(m, bridge.csr, bank.access)

        fault = self.fault
        m.d.comb += [
            fault.arm.eq(port("CONTROL", "ARM")),
            fault.model.eq(port("CONTROL", "MODEL")),
            fault.common.eq(port("CONTROL", "COMMON")),
            fault.site.eq(port("SITE", "INDEX")),
            fault.mask.eq(port("MASK", "BITS")),
            fault.start.eq(port("START", "CYCLE")),
            fault.duration.eq(port("DURATION", "CYCLES")),
            port("STATUS", "ACTIVE").eq(fault.active),
            port("CYCLE", "COUNT").eq(fault.cycle),
        ]
        return m
