"""Small scratch RAM built from registers."""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..sabotage import StateRegisters

__all__ = ["ScratchRAM"]


class ScratchRAM(wiring.Component):
    """Lane-local scratch memory with no error detection.

    Built from flip-flops rather than a memory block so each word ``m<i>`` is a stable
    fault site (``scratch.m2[5]``); a flipped bit here is invisible to the lane's own
    parity and can only be caught by comparing lanes. Reads are combinational, writes take
    effect at the next clock edge; all words reset to zero.

    Parameters
    ----------
    depth : int
        Number of words, a power of two from 2 to 64.
    width : int
        Word width, in bits.

    Members
    -------
    addr : In(log2(depth))
        Word address of both the read and the write.
    rdata : Out(width)
        The addressed word.
    we : In(1), wdata : In(width)
        Write ``wdata`` to the addressed word.

    Raises
    ------
    TypeError
        If ``depth`` is not a power of two from 2 to 64, or ``width`` is not positive.
    """

    def __init__(self, *, depth=8, width=32):
        if (not isinstance(depth, int) or isinstance(depth, bool) or
                depth not in (2, 4, 8, 16, 32, 64)):
            raise TypeError(f"Scratch depth must be a power of two from 2 to 64, "
                            f"not {depth!r}")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"Width must be a positive integer, not {width!r}")
        self._depth = depth
        self._width = width
        super().__init__({
            "addr":  In((depth - 1).bit_length()),
            "rdata": Out(width),
            "we":    In(1),
            "wdata": In(width),
        })
        self.words = [Signal(width, name=f"m{i}") for i in range(depth)]
        self.sites = StateRegisters()
        self._words_next = [self.sites.add(f"m{i}", word) for i, word in enumerate(self.words)]

    @property
    def depth(self):
        return self._depth

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        words = Array(self.words)
        m.d.comb += self.rdata.eq(words[self.addr])
        self.sites.hold(m)
        with m.If(self.we):
            m.d.comb += Array(self._words_next)[self.addr].eq(self.wdata)
        self.sites.commit(m)
        return m
