"""Access policies of register fields: one small component per policy, as amaranth-soc has.

Each policy (:class:`R`, :class:`W`, :class:`RW`, :class:`RW1C`, :class:`RW1S`) is a
:class:`FieldAction`: a ``port`` towards the register bank (:class:`FieldPortSignature`)
and, towards the hardware, the members its policy needs. :class:`~ftvoter.hdl.csr.CSRBank`
makes one per field.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FieldPortSignature", "FieldAction", "R", "W", "RW", "RW1C", "RW1S"]


def _check_width(width):
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise TypeError(f"Field width must be a positive integer, not {width!r}")


def _check_init(width, init):
    if not isinstance(init, int) or isinstance(init, bool):
        raise TypeError(f"Field init must be an integer, not {init!r}")
    if not 0 <= init < 2**width:
        raise ValueError(f"Field init must fit in {width} bits, not {init!r}")


class FieldPortSignature(wiring.Signature):
    """The register bank's side of one field, seen from the bank (the initiator).

    Parameters
    ----------
    width : int
        Width of the field in bits.

    Members
    -------
    r_data : In(width)
        The value software reads (combinational).
    r_stb : Out(1)
        The register is read in this cycle.
    w_stb : Out(1)
        The register is written in this cycle; the write takes effect at the next edge.
    w_data : Out(width)
        The written bits of the field.
    w_mask : Out(width)
        Which bits of ``w_data`` are written (the byte strobes, one bit per field bit).

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer.
    """

    def __init__(self, width):
        _check_width(width)
        self._width = width
        super().__init__({
            "r_data": In(width),
            "r_stb":  Out(1),
            "w_stb":  Out(1),
            "w_data": Out(width),
            "w_mask": Out(width),
        })

    @property
    def width(self):
        return self._width

    def __eq__(self, other):
        return type(other) is type(self) and other.width == self.width

    def __hash__(self):
        return hash((type(self), self.width))

    def __repr__(self):
        return f"FieldPortSignature({self.width})"


class FieldAction(wiring.Component):
    """The base of the access policies: a field ``port`` and the hardware's members.

    Parameters
    ----------
    width : int
        Width of the field in bits.
    members : dict
        The hardware-side members of the policy.

    Members
    -------
    port : In(FieldPortSignature(width))
        To the register bank.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer.
    """

    def __init__(self, width, members):
        _check_width(width)
        self._width = width
        super().__init__({"port": In(FieldPortSignature(width)), **members})

    @property
    def width(self):
        return self._width


class R(FieldAction):
    """Read-only: software reads the hardware's value; writes are ignored.

    Members
    -------
    r_data : In(width)
        The value software reads, passed through combinationally.
    r_stb : Out(1)
        High in each cycle in which the register is read.
    """

    def __init__(self, width):
        super().__init__(width, {"r_data": In(width), "r_stb": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.port.r_data.eq(self.r_data), self.r_stb.eq(self.port.r_stb)]
        return m


class W(FieldAction):
    """Write-only: the hardware gets the written value with a one-cycle strobe; reads give 0.

    Members
    -------
    w_data : Out(width)
        The written value, valid in the cycle of ``w_stb`` (combinational, not stored).
    w_stb : Out(1)
        High in the cycle of a write that enables at least one byte of the field.
    """

    def __init__(self, width):
        super().__init__(width, {"w_data": Out(width), "w_stb": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.w_data.eq(self.port.w_data),
                     self.w_stb.eq(self.port.w_stb & self.port.w_mask.any()),
                     self.port.r_data.eq(0)]
        return m


class _Stored(FieldAction):
    """A policy with a stored value ``data``, reset to ``init``."""

    def __init__(self, width, init, members):
        _check_width(width)
        _check_init(width, init)
        self._init = init
        super().__init__(width, {"data": Out(width, init=init), **members})

    @property
    def init(self):
        return self._init


class RW(_Stored):
    """Read-write: software writes the stored value (under its byte strobes), reads it back.

    Parameters
    ----------
    width : int
    init : int
        Value after reset.

    Members
    -------
    data : Out(width)
        The stored value; a write shows in it from the cycle after the write.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer or ``init`` not an integer.
    ValueError
        If ``init`` does not fit in ``width`` bits.
    """

    def __init__(self, width, *, init=0):
        super().__init__(width, init, {})

    def elaborate(self, platform):
        m = Module()
        port = self.port
        with m.If(port.w_stb):
            m.d.sync += self.data.eq((self.data & ~port.w_mask) | (port.w_data & port.w_mask))
        m.d.comb += port.r_data.eq(self.data)
        return m


class RW1C(_Stored):
    """Sticky: the hardware sets bits, software writes 1 to clear them.

    A hardware set and a software clear of the same bit in the same cycle leave the bit
    set: the set wins, so no error is ever lost.

    Parameters
    ----------
    width : int
    init : int
        Value after reset.

    Members
    -------
    data : Out(width)
        The stored bits.
    set : In(width)
        Bits to set; they are set from the next cycle on.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer or ``init`` not an integer.
    ValueError
        If ``init`` does not fit in ``width`` bits.
    """

    def __init__(self, width, *, init=0):
        super().__init__(width, init, {"set": In(width)})

    def elaborate(self, platform):
        m = Module()
        port = self.port
        cleared = Mux(port.w_stb, self.data & ~(port.w_data & port.w_mask), self.data)
        m.d.sync += self.data.eq(cleared | self.set)
        m.d.comb += port.r_data.eq(self.data)
        return m


class RW1S(_Stored):
    """Software writes 1 to set bits, the hardware clears them (a request and its completion).

    A software set and a hardware clear of the same bit in the same cycle leave the bit
    set: the set wins, so no request is ever lost.

    Parameters
    ----------
    width : int
    init : int
        Value after reset.

    Members
    -------
    data : Out(width)
        The stored bits.
    clear : In(width)
        Bits to clear; they are clear from the next cycle on.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer or ``init`` not an integer.
    ValueError
        If ``init`` does not fit in ``width`` bits.
    """

    def __init__(self, width, *, init=0):
        super().__init__(width, init, {"clear": In(width)})

    def elaborate(self, platform):
        m = Module()
        port = self.port
        written = Mux(port.w_stb, port.w_data & port.w_mask, 0)
        m.d.sync += self.data.eq((self.data & ~self.clear) | written)
        m.d.comb += port.r_data.eq(self.data)
        return m
