"""The one AXI4-Lite target in front of register banks: AXI4-Lite in, a CSR access port out."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .csr_bank import CSRAccessSignature
from .signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR, AXI4LiteSignature

__all__ = ["AXI4LiteCSRBridge"]


class AXI4LiteCSRBridge(wiring.Component):
    """Serve an AXI4-Lite target from a single-cycle CSR access port.

    Used by :class:`~ftvoter.hdl.registers.ErrorRegisters` (its ``mgmt`` port) and
    :class:`~ftvoter.hdl.fault_regs.FaultRegisters` (its ``bus``) in front of their
    :class:`~ftvoter.hdl.csr.CSRBank`.

    **Arbitration.** One access per cycle, fixed priority:

    1. ``busy`` (another initiator, of higher priority, has the CSR port this cycle): no
       access starts; a pending request waits, the bridge holds ready low;
    2. a write, in a cycle in which AW and W are both valid and no B response is pending:
       ``awready`` and ``wready`` are asserted together and the CSR port writes;
    3. a read, in a cycle in which AR is valid, no R response is pending and no write
       is done: ``arready`` is asserted and the CSR port reads.

    A write waits for its AW and W beats to be offered together. The response (``bvalid``
    or ``rvalid``, with ``rdata`` read in the access cycle) is valid from the next cycle
    until its handshake, so a write and a read may each complete every other cycle; a
    read in the same cycle as a write waits at least one cycle.

    Parameters
    ----------
    addr_width : int
        Width of the AXI4-Lite addresses and of the CSR port's ``addr``.

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width, 32))
        The AXI4-Lite target.
    csr : Out(CSRAccessSignature(addr_width))
        To the register bank. ``en`` is high exactly in the cycle of an access.
    busy : In(1)
        The CSR port is taken in this cycle: start no access.
    error : In(1)
        The access of this cycle is refused: its response is SLVERR (else OKAY). It does
        not stop the write: a bank that must not see it is given ``write`` low by its
        owner.

    Raises
    ------
    TypeError
        If ``addr_width`` is not a positive integer.
    """

    def __init__(self, addr_width):
        if not isinstance(addr_width, int) or isinstance(addr_width, bool) or addr_width < 1:
            raise TypeError(f"Address width must be a positive integer, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "bus": In(AXI4LiteSignature(addr_width=addr_width, data_width=32)),
            "csr": Out(CSRAccessSignature(addr_width)),
            "busy": In(1),
            "error": In(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def elaborate(self, platform):
        m = Module()
        bus, csr = self.bus, self.csr
        write = Signal()
        read = Signal()
        m.d.comb += [
            write.eq(bus.awvalid & bus.wvalid & ~bus.bvalid & ~self.busy),
            read.eq(bus.arvalid & ~bus.rvalid & ~self.busy & ~write),
            bus.awready.eq(write), bus.wready.eq(write), bus.arready.eq(read),
            csr.en.eq(write | read), csr.write.eq(write),
            csr.addr.eq(Mux(write, bus.awaddr, bus.araddr)),
            csr.wdata.eq(bus.wdata), csr.wstrb.eq(bus.wstrb),
        ]
        response = Mux(self.error, AXI4_RESP_SLVERR, AXI4_RESP_OKAY)
        with m.If(write):
            m.d.sync += [bus.bvalid.eq(1), bus.bresp.eq(response)]
        with m.Elif(bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        with m.If(read):
            m.d.sync += [bus.rvalid.eq(1), bus.rdata.eq(csr.rdata), bus.rresp.eq(response)]
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        return m
