"""Register file with a parity bit per register."""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..sabotage import StateRegisters

__all__ = ["ParityRegisterFile"]


class ParityRegisterFile(wiring.Component):
    """Register file with two read ports, one write port and even parity per register.

    Each register ``r<i>`` has a parity bit ``parity[i]``, written with the data. A read
    port whose enable is set checks the stored parity of the register it reads;
    ``parity_error`` is asserted combinationally in that cycle if a bit of the register
    (or its parity bit) has flipped since it was written. All registers reset to zero.

    Registers are individual signals named ``r0``, ``r1``, ... and ``parity``, so they
    are stable fault sites (``regfile.r3[7]``).

    Parameters
    ----------
    count : int
        Number of registers, a power of two from 2 to 16.
    width : int
        Width of each register, in bits.
    parity_input : bool
        If true, the parity bit written comes from the ``wparity`` port: the writer
        computes it (from its operands' parities, off its data path) and must give the
        even parity of ``wdata``; otherwise the register file computes it from ``wdata``.

    Members
    -------
    raddr0, raddr1 : In(log2(count))
        Read addresses; ``rdata0``, ``rdata1`` : Out(width) follow combinationally.
    ren0, ren1 : In(1)
        Check parity of the register read by that port.
    we : In(1), waddr : In(log2(count)), wdata : In(width)
        Write port; the register and its parity update at the next clock edge.
    wparity : In(1)
        With ``parity_input``: the parity bit written with ``wdata``.
    parity_error : Out(1)
        An enabled read port reads a register whose parity does not match.

    Raises
    ------
    TypeError
        If ``count`` is not a power of two from 2 to 16, ``width`` is not positive, or
        ``parity_input`` is not a bool.
    """

    def __init__(self, *, count=8, width=32, parity_input=False):
        if (not isinstance(count, int) or isinstance(count, bool) or
                count not in (2, 4, 8, 16)):
            raise TypeError(f"Register count must be a power of two from 2 to 16, "
                            f"not {count!r}")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"Width must be a positive integer, not {width!r}")
        if not isinstance(parity_input, bool):
            raise TypeError(f"Parity input must be a bool, not {parity_input!r}")
        self._count = count
        self._width = width
        self._parity_input = parity_input
        abits = (count - 1).bit_length()
        members = {
            "raddr0": In(abits), "rdata0": Out(width), "ren0": In(1),
            "raddr1": In(abits), "rdata1": Out(width), "ren1": In(1),
            "we": In(1), "waddr": In(abits), "wdata": In(width),
            "parity_error": Out(1),
        }
        if parity_input:
            members["wparity"] = In(1)
        super().__init__(members)
        self.regs = [Signal(width, name=f"r{i}") for i in range(count)]
        self.parity = Signal(count, name="parity")
        self.sites = StateRegisters()
        self._regs_next = [self.sites.add(f"r{i}", reg) for i, reg in enumerate(self.regs)]
        self._parity_next = self.sites.add("parity", self.parity)

    @property
    def count(self):
        return self._count

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        regs = Array(self.regs)
        parity = Array(self.parity[i] for i in range(self._count))
        errors = []
        for raddr, rdata, ren in ((self.raddr0, self.rdata0, self.ren0),
                                  (self.raddr1, self.rdata1, self.ren1)):
            m.d.comb += rdata.eq(regs[raddr])
            errors.append(ren & (rdata.xor() ^ parity[raddr]))
        m.d.comb += self.parity_error.eq(errors[0] | errors[1])
        self.sites.hold(m)
        with m.If(self.we):
            m.d.comb += Array(self._regs_next)[self.waddr].eq(self.wdata)
            wparity = self.wparity if self._parity_input else self.wdata.xor()
            m.d.comb += self._parity_next.bit_select(self.waddr, 1).eq(wparity)
        self.sites.commit(m)
        return m
