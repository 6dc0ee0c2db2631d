"""Bitwise 2-of-3 majority voter."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import majority, outvoted

__all__ = ["MajorityVoter"]


class MajorityVoter(wiring.Component):
    """Vote bitwise over three lanes (triple modular redundancy).

    Purely combinational: ``out`` and ``disagree`` follow the inputs in the same cycle.
    Any single faulty lane is outvoted, whatever it presents; two lanes wrong in the same
    bit win that bit.

    Parameters
    ----------
    width : int
        Width of each lane's value, in bits.

    Members
    -------
    lane0, lane1, lane2 : In(width)
        The three replicas.
    out : Out(width)
        Bitwise majority of the three.
    disagree : Out(3)
        Bit ``i`` is set when lane ``i`` differs from ``out`` in any bit.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer.
    """

    def __init__(self, width):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"Width must be a positive integer, not {width!r}")
        self._width = width
        super().__init__({
            "lane0":    In(width),
            "lane1":    In(width),
            "lane2":    In(width),
            "out":      Out(width),
            "disagree": Out(3),
        })

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        lanes = (self.lane0, self.lane1, self.lane2)
        m.d.comb += self.out.eq(majority(*lanes))
        m.d.comb += self.disagree.eq(outvoted(lanes, self.out))
        return m
