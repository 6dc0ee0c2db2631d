"""Lockstep comparator: tells, cycle by cycle, whether replicated lanes agree.

The comparison itself (:func:`compare_lanes`, :func:`odd_lane`, :func:`majority`,
:func:`outvoted`) is shared: :class:`LockstepComparator`, the
:class:`~ftvoter.hdl.voter.MajorityVoter` and the voting bridge's
:class:`~ftvoter.hdl.bridge_compare.ChannelCompare` are built on the same code.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LockstepComparator", "LaneComparison", "compare_lanes", "odd_lane", "majority",
           "outvoted"]


def _check_lanes(lanes):
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes not in (2, 3):
        raise TypeError(f"Lane count must be 2 or 3, not {lanes!r}")


def majority(a, b, c):
    """Return the bitwise 2-of-3 majority of three values of the same width."""
    return (a & b) | (a & c) | (b & c)


def outvoted(values, vote):
    """Return a vector with bit ``i`` set when ``values[i]`` differs from ``vote`` in any bit.

    With ``vote`` the bitwise :func:`majority` of three values, these are the lanes a
    bitwise vote outvotes (:class:`~ftvoter.hdl.voter.MajorityVoter`'s ``disagree``).
    """
    return Cat(*((value ^ vote).any() for value in values))


class LaneComparison:
    """The pairwise comparison of 2 or 3 lanes' values, made by :func:`compare_lanes`.

    Members
    -------
    pairs : dict
        ``pairs[i, j]`` (``i < j``) is a 1-bit value: lanes ``i`` and ``j`` both take part
        and differ.
    differs : Value
        Any pair differs.
    syndrome : Value
        Bitwise OR, over the pairs that take part, of the XOR of their two values: the
        bits in which the lanes are not all equal. Idle values (``valid`` low) are
        included, so ``syndrome`` may be non-zero while ``differs`` is not.
    valid_syndrome : Value
        The same for the ``valid`` bits (zero without ``valid``).
    """

    def __init__(self, pairs, differs, syndrome, valid_syndrome):
        self.pairs = pairs
        self.differs = differs
        self.syndrome = syndrome
        self.valid_syndrome = valid_syndrome


def compare_lanes(values, *, valid=None, active=None, mask=None):
    """Compare 2 or 3 lanes' values pair by pair; return a :class:`LaneComparison`.

    Two lanes differ when exactly one of them is valid, or both are and their values
    differ: the value of an idle beat is not compared. Without ``valid``, every value is
    valid (every bit is compared, as :class:`LockstepComparator` does). Only pairs of
    lanes that are both ``active`` (by default, all) are compared. Bits set in ``mask``
    are not compared at all: they never make two lanes differ and are zero in
    ``syndrome`` (the ``valid`` bits are never masked). Combinational.

    The value comparison does not wait for the ``valid`` bits (it is qualified after),
    which keeps the longest path short.

    Parameters
    ----------
    values : list of Value
        One value per lane, all of the same width.
    valid : list of Value, optional
        One 1-bit value per lane: the lane's beat is valid.
    active : list of Value, optional
        One 1-bit value per lane: the lane takes part in the comparison.
    mask : Value, optional
        As wide as the values: bits excluded from the comparison (a compare mask).
    """
    lanes = range(len(values))
    pairs = {}
    syndromes, valid_syndromes = [], []
    for i in lanes:
        for j in lanes[i + 1:]:
            syndrome = values[i] ^ values[j]
            differ = values[i] != values[j]
            if mask is not None:
                syndrome = syndrome & ~mask
                differ = syndrome.any()
            valid_syndrome = Const(0, 1)
            if valid is not None:
                valid_syndrome = valid[i] ^ valid[j]
                differ = valid_syndrome | (valid[i] & differ)
            if active is not None:
                both = active[i] & active[j]
                differ = both & differ
                syndrome = Mux(both, syndrome, 0)
                valid_syndrome = both & valid_syndrome
            pairs[i, j] = differ
            syndromes.append(syndrome)
            valid_syndromes.append(valid_syndrome)
    return LaneComparison(pairs, _any(list(pairs.values())), _any(syndromes),
                          _any(valid_syndromes))


def odd_lane(comparison, lanes):
    """Return ``(odd, no_majority)``: the single lane that differs from two others that
    agree (a vector, one bit per lane), and whether all three differ pairwise.

    The word-level counterpart of :func:`outvoted`: a lane is odd only when the two others
    agree in every compared bit. With 2 lanes both are zero (DMR cannot tell which lane is
    wrong).
    """
    if lanes == 2:
        return Const(0, 2), Const(0, 1)
    ne = comparison.pairs
    odd = Cat(ne[0, 1] & ne[0, 2] & ~ne[1, 2],
              ne[0, 1] & ne[1, 2] & ~ne[0, 2],
              ne[0, 2] & ne[1, 2] & ~ne[0, 1])
    return odd, ne[0, 1] & ne[0, 2] & ne[1, 2]


def _any(values):
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result


class LockstepComparator(wiring.Component):
    """Compare the outputs of 2 or 3 lanes.

    A cycle in which the lanes do not all present the same value is a *differing cycle*
    (:func:`compare_lanes` with every lane active and valid).
    With ``registered=True`` (the default), ``mismatch`` is asserted exactly one cycle
    after each differing cycle; with ``registered=False`` it is combinational and asserted
    in the differing cycle itself. ``mismatch`` is not sticky.

    Delayed lockstep (time diversity): with ``offset=k`` lane 0 runs ``k`` cycles ahead of
    the others. The comparator delays lane 0's value by ``k`` cycles before comparing, so
    lanes ``1..N-1`` must be fed their inputs (and their reset release) ``k`` cycles later
    than lane 0; :class:`~ftvoter.hdl.lockstep.Lockstep` does that. A difference in lane 0
    is then flagged ``k + 1`` cycles after lane 0 presented it (``k`` cycles when
    combinational). For the first ``k`` cycles after reset nothing is compared, while the
    delay line fills.

    Parameters
    ----------
    width : int
        Width of each lane's value, in bits.
    lanes : int
        2 (dual modular redundancy) or 3 (triple modular redundancy).
    registered : bool
        Register ``mismatch`` and ``disagree`` (1 cycle of latency) or not (0 cycles).
    offset : int
        Cycles by which lane 0 leads the other lanes (0: plain lockstep).

    Members
    -------
    lane0 .. lane{N-1} : In(width)
        The values to compare.
    mismatch : Out(1)
        The lanes differed (one cycle ago, when registered).
    disagree : Out(lanes)
        With ``mismatch``: which lanes disagree. With 3 lanes, bit ``i`` is set when lane
        ``i`` differs from the bitwise majority in any bit; with 2 lanes both bits are set
        (DMR cannot tell which lane is wrong).
    syndrome : Out(width)
        The bits in which the lanes differed in the *first* differing cycle since reset
        (the XOR of the two values for 2 lanes; bits not all equal for 3 lanes). Zero until
        the first mismatch, then held until reset, so software can read the first error
        even after later ones. It becomes valid together with the first ``mismatch``.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer, ``lanes`` is not 2 or 3, ``offset`` is not
        a non-negative integer, or ``registered`` is not a bool.
    """

    def __init__(self, width, *, lanes=2, registered=True, offset=0):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"Width must be a positive integer, not {width!r}")
        _check_lanes(lanes)
        if not isinstance(registered, bool):
            raise TypeError(f"Registered must be a bool, not {registered!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise TypeError(f"Offset must be a non-negative integer, not {offset!r}")
        self._width = width
        self._lanes = lanes
        self._registered = registered
        self._offset = offset
        members = {f"lane{i}": In(width) for i in range(lanes)}
        members.update({
            "mismatch": Out(1),
            "disagree": Out(lanes),
            "syndrome": Out(width),
        })
        super().__init__(members)

    @property
    def width(self):
        return self._width

    @property
    def lanes(self):
        return self._lanes

    @property
    def registered(self):
        return self._registered

    @property
    def offset(self):
        return self._offset

    def elaborate(self, platform):
        m = Module()

        values = [getattr(self, f"lane{i}") for i in range(self._lanes)]

        # Delay lane 0 by `offset` cycles; a parallel chain of valid bits suppresses the
        # comparison until the delay line holds real data.
        valid = Const(1)
        for stage in range(self._offset):
            value_q = Signal(self._width, name=f"lead_q{stage}")
            valid_q = Signal(name=f"lead_valid_q{stage}")
            m.d.sync += [value_q.eq(values[0]), valid_q.eq(valid)]
            values[0], valid = value_q, valid_q

        comparison = compare_lanes(values)
        diff = Signal(self._width)
        differs = Signal()
        m.d.comb += [diff.eq(comparison.syndrome), differs.eq(valid & comparison.differs)]
        if self._lanes == 2:
            disagree_now = Mux(differs, 0b11, 0b00)
        else:
            vote = Signal(self._width)
            m.d.comb += vote.eq(majority(*values))
            disagree_now = Mux(valid, outvoted(values, vote), 0)

        captured = Signal()
        first = Signal(self._width)
        with m.If(differs & ~captured):
            m.d.sync += [captured.eq(1), first.eq(diff)]

        if self._registered:
            m.d.sync += [
                self.mismatch.eq(differs),
                self.disagree.eq(disagree_now),
            ]
            m.d.comb += self.syndrome.eq(first)
        else:
            m.d.comb += [
                self.mismatch.eq(differs),
                self.disagree.eq(disagree_now),
                self.syndrome.eq(Mux(captured, first, Mux(differs, diff, 0))),
            ]

        return m
