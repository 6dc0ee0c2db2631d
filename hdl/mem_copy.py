"""MemoryCopier: copy the dirty blocks of one RAM into others, one word per cycle.

The memory port of a lane's RAM (:class:`~ftvoter.hdl.units.memory.MemoryCopySignature`)
says which blocks were written since a moment; this copier walks a set of such blocks
and moves their words from a source read port to the destinations' write ports. Used by
the campaign bench (load the faulty copy's lane RAMs from the golden copy's, restore both
from the program image at a restart) and meant for live resync.
"""

from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MemoryCopier"]

#: Blocks per group of the scan: a group without a set bit is skipped in one cycle.
GROUP = 16


class MemoryCopier(wiring.Component):
    """Copy the words of a set of blocks, one word per cycle.

    A ``start`` latches ``blocks``; from the next cycle ``busy`` is high until every
    word of those blocks has been written: each cycle either writes one word (``we``,
    ``waddr``, ``wdata`` taken from ``src_data``, the word at ``src_addr`` in the same
    cycle) or skips a clear block (or a group of :data:`GROUP` clear blocks). Copying
    ``n`` blocks of ``block_words`` takes ``n * block_words`` cycles plus at most
    ``blocks / GROUP + n * GROUP`` skips.

    Parameters
    ----------
    abits : int
        Word address width of the RAMs.
    data_width : int
        Word width.
    blocks : int
        Number of blocks (the width of the dirty bitmap).
    block_words : int
        Words per block, a power of two.

    Members
    -------
    start : In(1), blocks : In(blocks)
    busy : Out(1)
    src_addr : Out(abits), src_data : In(data_width)
    waddr : Out(abits), wdata : Out(data_width), we : Out(1)
    """

    def __init__(self, *, abits, data_width, blocks, block_words):
        for name, value in (("Address width", abits), ("Data width", data_width),
                            ("Blocks", blocks), ("Block words", block_words)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
        if block_words & (block_words - 1) or blocks * block_words > 2**abits:
            raise ValueError(f"Block words must be a power of two and the blocks must fit "
                             f"the address, not {blocks} x {block_words} words in {abits} "
                             f"bits")
        self._blocks, self._block_words = blocks, block_words
        super().__init__({
            "start": In(1), "blocks": In(blocks), "busy": Out(1),
            "src_addr": Out(abits), "src_data": In(data_width),
            "waddr": Out(abits), "wdata": Out(data_width), "we": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        blocks, shift = self._blocks, self._block_words.bit_length() - 1
        groups, g = -(-blocks // GROUP), GROUP.bit_length() - 1
        pending = Signal(groups * GROUP)
        block = Signal(range(groups * GROUP + 1))
        word = Signal(max(1, shift))
        group_bits = Signal(GROUP)
        m.d.comb += [
            self.busy.eq(pending.any()),
            group_bits.eq(pending.word_select(block[g:], GROUP)),
        ]
        here = pending.bit_select(block, 1)
        address = Cat(word[:shift], block) if shift else block
        m.d.comb += [self.src_addr.eq(address), self.waddr.eq(address),
                     self.wdata.eq(self.src_data)]
        with m.If(self.start):
            m.d.sync += [pending.eq(self.blocks), block.eq(0), word.eq(0)]
        with m.Elif(self.busy):
            with m.If(~group_bits.any()):
                m.d.sync += block.eq((block[g:] + 1) << g)
            with m.Elif(~here):
                m.d.sync += block.eq(block + 1)
            with m.Else():
                m.d.comb += self.we.eq(1)
                if shift:
                    m.d.sync += word.eq(word + 1)
                with m.If(word[:shift].all() if shift else C(1)):
                    m.d.sync += [pending.bit_select(block, 1).eq(0), block.eq(block + 1)]
        return m
