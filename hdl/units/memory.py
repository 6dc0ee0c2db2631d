"""AXI4-Lite RAM target."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from ..encodings import ADDR_WIDTH
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
        Width of the AXI4-Lite address (default 32).
    data_width : int
        32 or 64.
    depth : int
        Number of words, at least 1.
    init : iterable of int
        Initial contents (the rest is zero).
    resettable : bool
        Make a reset restore the initial contents too (a RAM's contents otherwise survive
        a reset): a register bit per word remembers whether it was written since reset,
        and a word not written reads as its initial value. For simulations that reset a
        system many times, such as fault campaigns.
    flops : bool
        Build the words from flip-flops instead of a memory block (small depths only):
        a reset restores them, and they are ordinary registers that a campaign bench can
        copy from one system to another.

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width, data_width))

    Raises
    ------
    TypeError
        If ``depth`` is not a positive integer, or a width is invalid.
    """

    def __init__(self, *, addr_width=ADDR_WIDTH, data_width=32, depth=256, init=(),
                 resettable=False, flops=False):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise TypeError(f"Depth must be a positive integer, not {depth!r}")
        if not isinstance(resettable, bool):
            raise TypeError(f"Resettable must be a bool, not {resettable!r}")
        if not isinstance(flops, bool):
            raise TypeError(f"Flops must be a bool, not {flops!r}")
        self._resettable, self._flops = resettable, flops
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

        if self._flops:
            wp, rp = self._flop_ports(m, width)
        else:
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
            bus.rresp.eq(AXI4_RESP_OKAY),
        ]
        if not self._resettable or self._flops:
            m.d.comb += [
                wp.data.eq(bus.wdata),
                wp.en.eq(Mux(write, bus.wstrb, 0)),
                bus.rdata.eq(rp.data),
            ]
        else:
            # A word not written since reset reads as its initial value; its first write
            # stores all bytes, the unstrobed ones from the initial value.
            words = [*self._init[:self._depth], *[0] * (self._depth - len(self._init))]
            initial = Array(Const(word, width) for word in words)
            written = Signal(self._depth)
            fresh = Signal()
            initial_q = Signal(width)
            waddr = wp.addr
            seen = written.bit_select(waddr, 1)
            merged = Cat(*(Mux(bus.wstrb[i], bus.wdata.word_select(i, 8),
                               initial[waddr].word_select(i, 8)) for i in range(width // 8)))
            m.d.comb += [
                wp.data.eq(Mux(seen, bus.wdata, merged)),
                wp.en.eq(Mux(write, Mux(seen, bus.wstrb, -1), 0)),
                bus.rdata.eq(Mux(fresh, rp.data, initial_q)),
            ]
            with m.If(write):
                m.d.sync += written.bit_select(waddr, 1).eq(1)
            with m.If(read):
                m.d.sync += [fresh.eq(written.bit_select(rp.addr, 1)),
                             initial_q.eq(initial[rp.addr])]
        with m.If(read):
            m.d.sync += bus.rvalid.eq(1)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)

        return m

    def _flop_ports(self, m, width):
        """Flip-flop words with the write and read ports of a memory block."""
        words = [*self._init[:self._depth], *[0] * (self._depth - len(self._init))]
        storage = [Signal(width, init=word, name=f"word{i}") for i, word in enumerate(words)]
        abits = max(1, (self._depth - 1).bit_length())
        wp = _Port(addr=Signal(abits), data=Signal(width), en=Signal(width // 8))
        rp = _Port(addr=Signal(abits), data=Signal(width), en=Signal())
        for i, word in enumerate(storage):
            with m.If(wp.addr == i):
                for byte in range(width // 8):
                    with m.If(wp.en[byte]):
                        m.d.sync += word.word_select(byte, 8).eq(wp.data.word_select(byte, 8))
        with m.If(rp.en):
            m.d.sync += rp.data.eq(Array(storage)[rp.addr])
        return wp, rp


class _Port:
    def __init__(self, **signals):
        self.__dict__.update(signals)
