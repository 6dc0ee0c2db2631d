"""The voting bridge's register window: agreed accesses to the error registers."""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR

__all__ = ["RegisterWindow", "connect_window"]


class RegisterWindow(wiring.Component):
    """Serve the engines' register-window requests on the registers' access port.

    One access per cycle: a write request is served in the cycle it is raised; a read
    request in a cycle without a write request. The access port (``en``, ``write``,
    ``addr``, ``wdata``, ``wstrb``; ``rdata`` and ``error`` back) is driven only in the
    cycle of the access and is zero otherwise: the shape of
    :class:`~ftvoter.hdl.registers.ErrorRegisters`' ``lanes`` port and ``lanes_error``.

    Members
    -------
    write_request : In(1), write_addr : In(8), write_data : In(32), write_strb : In(4)
        A write to the registers is waiting.
    read_request : In(1), read_addr : In(8)
        A read from the registers is waiting.
    write_done : Out(1), write_resp : Out(2)
        The write is served now; SLVERR if the registers refused it (``error``).
    read_done : Out(1)
        The read is served now.
    read_data : Out(32)
        The data read, from the clock edge that ends the read's cycle (registered).
    en, write : Out(1), addr : Out(8), wdata : Out(32), wstrb : Out(4)
        The access port.
    rdata : In(32), error : In(1)
        What the registers answer, in the cycle of the access.
    """

    write_request: In(1)
    write_addr: In(8)
    write_data: In(32)
    write_strb: In(4)
    read_request: In(1)
    read_addr: In(8)
    write_done: Out(1)
    write_resp: Out(2)
    read_done: Out(1)
    read_data: Out(32)
    en: Out(1)
    write: Out(1)
    addr: Out(8)
    wdata: Out(32)
    wstrb: Out(4)
    rdata: In(32)
    error: In(1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.write_done.eq(self.write_request),
            self.read_done.eq(self.read_request & ~self.write_request),
        ]
        with m.If(self.write_done):
            m.d.comb += [self.en.eq(1), self.write.eq(1), self.addr.eq(self.write_addr),
                         self.wdata.eq(self.write_data), self.wstrb.eq(self.write_strb),
                         self.write_resp.eq(Mux(self.error, AXI4_RESP_SLVERR,
                                                AXI4_RESP_OKAY))]
        with m.If(self.read_done):
            m.d.comb += [self.en.eq(1), self.addr.eq(self.read_addr)]
            m.d.sync += self.read_data.eq(self.rdata)
        return m


def connect_window(m, window, write, read, regs):
    """Connect the engines' register-window requests to the registers."""
    access = regs.lanes
    m.d.comb += [
        window.write_request.eq(write.csr_request), window.write_addr.eq(write.csr_addr),
        window.write_data.eq(write.csr_data), window.write_strb.eq(write.csr_strb),
        window.read_request.eq(read.csr_request), window.read_addr.eq(read.csr_addr),
        write.csr_done.eq(window.write_done), write.csr_resp.eq(window.write_resp),
        read.csr_done.eq(window.read_done), read.csr_resp.eq(AXI4_RESP_OKAY),
        read.csr_data.eq(window.read_data),
        access.en.eq(window.en), access.write.eq(window.write),
        access.addr.eq(window.addr), access.wdata.eq(window.wdata),
        access.wstrb.eq(window.wstrb),
        window.rdata.eq(access.rdata), window.error.eq(regs.lanes_error),
    ]
