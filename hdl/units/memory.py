"""AXI4-Lite RAM target."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..encodings import ADDR_WIDTH
from ..signatures import AXI4_RESP_OKAY, AXI4LiteSignature
from .memory_check import add_check_bits

__all__ = ["AXI4LiteMemory", "MemoryCopySignature", "MemoryUndoSignature"]


class MemoryCopySignature(wiring.Signature):
    """The memory port of a RAM (DESIGN.md §3): its words read and written one by one
    from outside the bus, and which blocks the bus wrote since a given moment.

    Members (from the RAM's side)
    -----------------------------
    raddr : In(abits), rdata : Out(data_width)
        Read the word at ``raddr``, in the same cycle.
    waddr : In(abits), wdata : In(data_width), we : In(1)
        Write the word at ``waddr`` (all bytes) at the clock edge of the copy domain,
        which no enable or reset of the RAM's own domain holds back.
    dirty : Out(blocks)
        Bit ``b``: the bus wrote a word of block ``b`` (words ``b * block_words`` on)
        since the last ``clear``.
    clear : In(1)
        Clear ``dirty`` at the clock edge (a bus write in the same cycle still sets its
        block's bit).
    """

    def __init__(self, *, abits, data_width, blocks):
        self.abits, self.data_width, self.blocks = abits, data_width, blocks
        super().__init__({
            "raddr": In(abits), "rdata": Out(data_width),
            "waddr": In(abits), "wdata": In(data_width), "we": In(1),
            "dirty": Out(blocks), "clear": In(1),
        })

    def __eq__(self, other):
        return (type(other) is type(self) and
                (self.abits, self.data_width, self.blocks) ==
                (other.abits, other.data_width, other.blocks))

    def __repr__(self):
        return (f"MemoryCopySignature(abits={self.abits}, data_width={self.data_width}, "
                f"blocks={self.blocks})")


class MemoryUndoSignature(wiring.Signature):
    """The lane memory port of a RAM, from the side of its user (a rollback's undo log, a
    live resync): every write the bus makes, with the word it overwrites; writes and
    reads from outside the bus; and two bitmaps of the blocks the bus wrote.

    Members
    -------
    wr : In(1), wr_addr : In(abits), wr_old : In(data_width), wr_data : In(data_width),
    wr_strb : In(data_width // 8)
        The bus writes word ``wr_addr`` at this clock edge (``wr_old`` is its value
        before; ``wr_data`` and ``wr_strb`` what the bus writes).
    hold : Out(1)
        The bus writes nothing (its handshake goes on).
    waddr : Out(abits), wdata : Out(data_width), we : Out(1)
        Write word ``waddr`` (all bytes) at the clock edge, in the RAM's own domain, while
        ``hold``.
    raddr : Out(abits), rdata : In(data_width)
        Read word ``raddr`` in the same cycle.
    dirty : In(blocks), clear : Out(1)
        Blocks the bus wrote since the last ``clear`` (a write in the cycle of a clear
        still sets its bit).
    since : In(blocks), mark : Out(1)
        The same, since the last ``mark``: what a lane that left at the mark has missed.

    With ``check`` (a RAM with check bits, :mod:`ftvoter.hdl.units.memory_check`):

    rd : In(1), rd_addr : In(abits)
        The bus reads word ``rd_addr`` at this clock edge.
    rbad : In(1)
        The word at ``raddr`` fails its check bits (it changed since it was written).
    wr_old_check : In(data_width // 8)
        The check bits of ``wr_old``.
    wcheck : Out(data_width // 8)
        The check bits written with ``wdata`` (an undo puts back the old ones too);
        ignored while ``wcheck_en`` is low (the check bits of ``wdata`` are written).
    wcheck_en : Out(1)
    """

    def __init__(self, *, abits, data_width, blocks=1, check=False):
        self.abits, self.data_width, self.blocks = abits, data_width, blocks
        self.check = check
        members = {
            "wr": In(1), "wr_addr": In(abits), "wr_old": In(data_width),
            "wr_data": In(data_width), "wr_strb": In(data_width // 8),
            "hold": Out(1), "waddr": Out(abits), "wdata": Out(data_width), "we": Out(1),
            "raddr": Out(abits), "rdata": In(data_width),
            "dirty": In(blocks), "clear": Out(1), "since": In(blocks), "mark": Out(1),
        }
        if check:
            members.update({"rd": In(1), "rd_addr": In(abits), "rbad": In(1),
                            "wr_old_check": In(data_width // 8),
                            "wcheck": Out(data_width // 8), "wcheck_en": Out(1)})
        super().__init__(members)

    def __eq__(self, other):
        return (type(other) is type(self) and
                (self.abits, self.data_width, self.blocks, self.check) ==
                (other.abits, other.data_width, other.blocks, other.check))

    def __repr__(self):
        return (f"MemoryUndoSignature(abits={self.abits}, data_width={self.data_width}, "
                f"blocks={self.blocks}, check={self.check})")


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
    copy_domain : str or None
        Add the memory port ``copy`` (:class:`MemoryCopySignature`), its writes and its
        dirty bitmap in this clock domain (one the RAM's own domain's enables and resets
        do not reach): how a campaign bench copies a lane's RAM from its golden twin.
        Not with ``flops`` or ``resettable``.
    block_words : int
        Words per block of the dirty bitmap (a power of two).
    undo : bool
        Add the undo port ``undo`` (:class:`MemoryUndoSignature`): how a rollback logs
        and puts back the words written since a checkpoint. The read data is then held
        in an ordinary register (as with ``copy_domain``), part of the RAM's state port.
        Not with ``flops`` or ``resettable``.
    check : bool
        With ``undo``: keep a check bit per byte (its parity) in a memory of its own,
        ``mem_check`` (:mod:`~ftvoter.hdl.units.memory_check`), which a rollback reads to
        tell which lane's copy of a word an upset changed. Never a ``self_error``.

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width, data_width))
    copy : In(MemoryCopySignature), with ``copy_domain`` only
    undo : In(MemoryUndoSignature), with ``undo`` only

    Raises
    ------
    TypeError
        If ``depth`` is not a positive integer, or a width is invalid.
    """

    def __init__(self, *, addr_width=ADDR_WIDTH, data_width=32, depth=256, init=(),
                 resettable=False, flops=False, copy_domain=None, block_words=16,
                 undo=False, check=False):
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise TypeError(f"Depth must be a positive integer, not {depth!r}")
        if not isinstance(resettable, bool):
            raise TypeError(f"Resettable must be a bool, not {resettable!r}")
        if not isinstance(flops, bool):
            raise TypeError(f"Flops must be a bool, not {flops!r}")
        if copy_domain is not None and (not isinstance(copy_domain, str) or flops or
                                        resettable):
            raise TypeError(f"Copy domain must be a domain name, on a RAM that is neither "
                            f"flops nor resettable, not {copy_domain!r}")
        if (not isinstance(block_words, int) or isinstance(block_words, bool) or
                block_words < 1 or block_words & (block_words - 1) or
                copy_domain is not None and depth % block_words):
            raise TypeError(f"Block words must be a power of two that divides the depth, "
                            f"not {block_words!r}")
        if not isinstance(undo, bool) or undo and (flops or resettable):
            raise TypeError(f"Undo must be a bool, on a RAM that is neither flops nor "
                            f"resettable, not {undo!r}")
        if not isinstance(check, bool) or check and not undo:
            raise TypeError(f"Check must be a bool, on a RAM with undo, not {check!r}")
        self._resettable, self._flops, self._undo = resettable, flops, undo
        self._check = check
        self._copy_domain, self._block_words = copy_domain, block_words
        members = {"bus": In(AXI4LiteSignature(addr_width=addr_width, data_width=data_width))}
        if copy_domain is not None:
            members["copy"] = In(MemoryCopySignature(
                abits=max(1, (depth - 1).bit_length()), data_width=data_width,
                blocks=-(-depth // block_words)))
        if undo and depth % block_words:
            raise TypeError(f"Block words must be a power of two that divides the depth, "
                            f"not {block_words!r}")
        if undo:
            members["undo"] = In(MemoryUndoSignature(abits=max(1, (depth - 1).bit_length()),
                                                     data_width=data_width,
                                                     blocks=depth // block_words,
                                                     check=check))
        super().__init__(members)
        self._depth = depth
        self._init = list(init)

    @property
    def depth(self):
        return self._depth

    @property
    def init(self):
        """The initial contents (a list of words; the rest is zero)."""
        return list(self._init)

    @property
    def block_words(self):
        return self._block_words

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
            if self._copy_domain is None and not self._undo:
                rp = mem.read_port(domain="sync")
            else:
                # The read data in a register of its own, not the read port's: an ordinary
                # register, which a campaign bench's load copies with the others.
                rp = self._registered_read_port(m, mem, width)
            if self._copy_domain is not None:
                self._copy_port(m, mem, wp, bus)

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
        if self._undo:
            self._undo_port(m, mem, wp, bus, write, width)
            m.d.comb += bus.rdata.eq(rp.data)
            if self._check:
                add_check_bits(m, self.undo, wp, rp, read, depth=self._depth,
                               init=self._init, copy=self.copy if self._copy_domain else None,
                               copy_domain=self._copy_domain)
        elif not self._resettable or self._flops:
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

    @staticmethod
    def _registered_read_port(m, mem, width):
        port = mem.read_port(domain="comb")
        rp = _Port(addr=Signal.like(port.addr), data=Signal(width, name="rdata_q"),
                   en=Signal())
        m.d.comb += port.addr.eq(rp.addr)
        with m.If(rp.en):
            m.d.sync += rp.data.eq(port.data)
        return rp

    def _copy_port(self, m, mem, wp, bus):
        """The memory port: a word read, a word write and the dirty bitmap."""
        copy, domain = self.copy, self._copy_domain
        cwp = mem.write_port(domain=domain)
        crp = mem.read_port(domain="comb")
        m.d.comb += [crp.addr.eq(copy.raddr), copy.rdata.eq(crp.data),
                     cwp.addr.eq(copy.waddr), cwp.data.eq(copy.wdata), cwp.en.eq(copy.we)]
        block = wp.addr[(self._block_words.bit_length() - 1):]
        with m.If(copy.clear):
            m.d[domain] += copy.dirty.eq(0)
        with m.If(bus.awvalid & bus.wvalid & ~bus.bvalid & bus.wstrb.any()):
            m.d[domain] += copy.dirty.bit_select(block, 1).eq(1)

    def _undo_port(self, m, mem, wp, bus, write, width):
        """The undo port: the bus's writes with the words they overwrite, and the writes
        that put words back (through the bus's own write port, which ``hold`` frees)."""
        undo = self.undo
        old = mem.read_port(domain="comb")
        outside = mem.read_port(domain="comb")
        m.d.comb += [outside.addr.eq(undo.raddr), undo.rdata.eq(outside.data)]
        block = wp.addr[(self._block_words.bit_length() - 1):]
        blocks = len(undo.dirty)
        dirty, since = Signal(blocks, name="dirty"), Signal(blocks, name="since")
        m.d.comb += [undo.dirty.eq(dirty), undo.since.eq(since)]
        for bitmap, reset in ((dirty, undo.clear), (since, undo.mark)):
            with m.If(reset):
                m.d.sync += bitmap.eq(0)
            with m.If(undo.wr):
                m.d.sync += bitmap.bit_select(block, 1).eq(1)
        m.d.comb += [
            old.addr.eq(wp.addr),
            undo.wr.eq(write & bus.wstrb.any() & ~undo.hold),
            undo.wr_addr.eq(wp.addr), undo.wr_old.eq(old.data),
            undo.wr_data.eq(bus.wdata), undo.wr_strb.eq(bus.wstrb),
        ]
        with m.If(undo.hold):
            m.d.comb += [wp.addr.eq(undo.waddr), wp.data.eq(undo.wdata),
                         wp.en.eq(Mux(undo.we, -1, 0))]
        with m.Else():
            m.d.comb += [wp.data.eq(bus.wdata), wp.en.eq(Mux(write, bus.wstrb, 0))]

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
