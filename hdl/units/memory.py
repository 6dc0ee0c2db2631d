"""AXI4-Lite RAM target."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from ..signatures import AXI4_RESP_OKAY, AXI4LiteSignature

__all__ = ["AXI4LiteMemory"]


class AXI4LiteMemory(wiring.Component):
    """An on-chip RAM behind an AXI4-Lite target port.

    A write is accepted in the cycle in which both AW and W are valid and no write
    response is pending; ``bvalid`` follows one cycle later. A read is accepted when no
    read response is pending; ``rvalid`` and ``rdata`` follow one cycle later and are
    held until ``rready``. Responses are always OKAY. The word address is taken from the
    low address bits above the byte offset, so addresses beyond ``depth`` words alias.

    Parameters
    ----------
    addr_width : int
        Width of the AXI4-Lite address.
    data_width : int
        32 or 64.
    depth : int
        Number of words, at least 1.
    init : iterable of int
        Initial contents (the rest is zero).

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width, data_width))

    Raises
    ------
    TypeError
        If ``depth`` is not a positive integer, or a width is invalid.
    """

    def __init__(self, *, addr_width=16, data_width=32, depth=256, init=()):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise TypeError(f"Depth must be a positive integer, not {depth!r}")
        super().__init__({
            "bus": In(AXI4LiteSignature(addr_width=addr_width, data_width=data_width)),
        })
        self._depth = depth
        self._init = list(init)

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        width = bus.signature.data_width
        shift = (width // 8).bit_length() - 1
        abits = max(1, (self._depth - 1).bit_length())

        m.submodules.mem = mem = memory.Memory(shape=width, depth=self._depth,
                                               init=self._init)
        wp = mem.write_port(granularity=8)
        rp = mem.read_port(domain="sync")

        write = Signal()
        m.d.comb += [
            write.eq(bus.awvalid & bus.wvalid & ~bus.bvalid),
            bus.awready.eq(write),
            bus.wready.eq(write),
            wp.addr.eq(bus.awaddr[shift:shift + abits]),
            wp.data.eq(bus.wdata),
            wp.en.eq(Mux(write, bus.wstrb, 0)),
            bus.bresp.eq(AXI4_RESP_OKAY),
        ]
        with m.If(write):
            m.d.sync += bus.bvalid.eq(1)
        with m.Elif(bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        read = Signal()
        m.d.comb += [
            read.eq(bus.arvalid & ~bus.rvalid),
            bus.arready.eq(read),
            rp.addr.eq(bus.araddr[shift:shift + abits]),
            rp.en.eq(read),
            bus.rdata.eq(rp.data),
            bus.rresp.eq(AXI4_RESP_OKAY),
        ]
        with m.If(read):
            m.d.sync += bus.rvalid.eq(1)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)

        return m
