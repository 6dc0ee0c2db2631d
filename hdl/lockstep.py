"""Lockstep: N replicated lanes, compared, behind one bus port."""

from amaranth.hdl import Cat, Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import LockstepComparator, _check_lanes
from .signatures import check_lane
from .voter import MajorityVoter

__all__ = ["Lockstep"]


def _bus_members(bus, flow):
    return [(".".join(map(str, path)), value)
            for path, member, value in bus.signature.flatten(bus) if member.flow == flow]


def _delay(m, value, cycles, name):
    for stage in range(cycles):
        value_q = Signal.like(value, name=f"{name}_q{stage}")
        m.d.sync += value_q.eq(value)
        value = value_q
    return value


class _OutputCheck(wiring.Component):
    """Comparator and (with 3 lanes) voter over the lanes' output vectors.

    A separate module so that the comparator's ``lane<i>`` inputs are not named in the
    Lockstep's own module, where ``lane<i>`` are the lane instances (fault-site paths).
    """

    def __init__(self, width, *, lanes, registered, offset):
        self._comparator = LockstepComparator(width, lanes=lanes, registered=registered,
                                              offset=offset)
        members = {f"out{i}": In(width) for i in range(lanes)}
        members.update({
            "voted":    Out(width),
            "mismatch": Out(1),
            "disagree": Out(lanes),
            "syndrome": Out(width),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.comparator = comparator = self._comparator
        outputs = [getattr(self, f"out{i}") for i in range(comparator.lanes)]
        for index, vector in enumerate(outputs):
            m.d.comb += getattr(comparator, f"lane{index}").eq(vector)
        m.d.comb += [
            self.mismatch.eq(comparator.mismatch),
            self.disagree.eq(comparator.disagree),
            self.syndrome.eq(comparator.syndrome),
        ]
        if comparator.lanes == 2:
            m.d.comb += self.voted.eq(outputs[0])
        else:
            m.submodules.voter = voter = MajorityVoter(comparator.width)
            m.d.comb += [
                voter.lane0.eq(outputs[0]),
                voter.lane1.eq(outputs[1]),
                voter.lane2.eq(outputs[2]),
                self.voted.eq(voter.out),
            ]
        return m


class Lockstep(wiring.Component):
    """Replicate a lane, run the copies in lockstep and compare everything they output.

    ``lane_factory()`` is called once per lane and must return a component honouring the
    lane contract (:class:`~ftvoter.hdl.signatures.LaneSignature`); all lanes must have the
    same signature. Every input (bus responses and ready signals, ``irq``) is fanned out to
    all lanes in the same cycle. All bus outputs of the lanes are compared by a
    :class:`~ftvoter.hdl.compare.LockstepComparator`.

    With 2 lanes, lane 0's bus is forwarded to ``bus``; with 3 lanes, the bitwise
    majority of the three buses is forwarded, so one faulty lane is outvoted. (The voting
    bridge replaces this forwarding with containment and isolation.)

    Delayed lockstep (``offset=k``, 2 lanes only): lane 1 is held in reset ``k`` cycles
    longer than lane 0 and receives every input ``k`` cycles later, so it repeats lane 0's
    work ``k`` cycles behind; the comparator delays lane 0's outputs to match. Lane 0
    drives ``bus``. A fault that hits both lanes in the same cycle (a common-cause fault)
    then hits them at different points of the computation and shows up as a mismatch.

    Parameters
    ----------
    lane_factory : callable
        Called with no arguments, once per lane.
    lanes : int
        2 or 3.
    offset : int
        Cycles by which lane 0 leads lane 1 (delayed lockstep); 0 for plain lockstep.
    registered : bool
        Passed to the comparator: ``mismatch`` one cycle after the difference, or in it.

    Members
    -------
    bus : Out(AXI4LiteSignature)
        The forwarded bus, of the lanes' bus signature.
    irq : In(irq_width)
        Interrupts, fanned out to the lanes.
    self_error : Out(lanes)
        Each lane's own ``self_error``.
    mismatch, disagree, syndrome : Out
        As :class:`~ftvoter.hdl.compare.LockstepComparator`, over the concatenation of
        the bus outputs (``awaddr``, ``awprot``, ``awvalid``, ``wdata``, ``wstrb``,
        ``wvalid``, ``bready``, ``araddr``, ``arprot``, ``arvalid``, ``rready``, least
        significant first).

    Raises
    ------
    TypeError
        If ``lane_factory`` is not callable or makes something that is not a lane,
        ``lanes`` is not 2 or 3, or ``offset`` is not a non-negative integer.
    ValueError
        If the lanes' signatures differ, or an offset is asked for with 3 lanes.
    """

    def __init__(self, lane_factory, *, lanes=2, offset=0, registered=True):
        if not callable(lane_factory):
            raise TypeError(f"Lane factory must be callable, not {lane_factory!r}")
        _check_lanes(lanes)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise TypeError(f"Offset must be a non-negative integer, not {offset!r}")
        if offset and lanes != 2:
            raise ValueError(f"Delayed lockstep needs 2 lanes: with 3, the voted bus would "
                             f"run behind lane 0, not offset {offset!r}")
        self._units = tuple(lane_factory() for _ in range(lanes))
        signatures = [check_lane(unit) for unit in self._units]
        if any(signature != signatures[0] for signature in signatures):
            raise ValueError(f"Lanes must all have the same signature, not {signatures!r}")
        self._lane_signature = signatures[0]
        self._offset = offset
        self._registered = registered
        self._compared_width = sum(len(value) for _, value in
                                   _bus_members(self._units[0].bus, Out))
        super().__init__({
            "bus":        Out(self._lane_signature.members["bus"].signature),
            "irq":        In(self._lane_signature.irq_width),
            "self_error": Out(lanes),
            "mismatch":   Out(1),
            "disagree":   Out(lanes),
            "syndrome":   Out(self._compared_width),
        })

    @property
    def lanes(self):
        return len(self._units)

    @property
    def units(self):
        """The lane components, in lane order."""
        return self._units

    @property
    def offset(self):
        return self._offset

    @property
    def compared_width(self):
        """Width of the compared vector of bus outputs, in bits."""
        return self._compared_width

    def elaborate(self, platform):
        m = Module()
        k = self._offset

        trailing_reset = Signal(max(k, 1), init=(1 << k) - 1)
        if k:
            m.d.sync += trailing_reset.eq(trailing_reset >> 1)

        inputs = dict(_bus_members(self.bus, In))
        for index, unit in enumerate(self._units):
            delay = k if index else 0
            if delay:
                m.submodules[f"lane{index}"] = ResetInserter(trailing_reset[0])(unit)
            else:
                m.submodules[f"lane{index}"] = unit
            for path, value in _bus_members(unit.bus, In):
                m.d.comb += value.eq(_delay(m, inputs[path], delay, f"lane{index}_{path}"))
            m.d.comb += unit.irq.eq(_delay(m, self.irq, delay, f"lane{index}_irq"))
            m.d.comb += self.self_error[index].eq(unit.self_error)

        outputs = [Cat(*(value for _, value in _bus_members(unit.bus, Out)))
                   for unit in self._units]

        m.submodules.check = check = _OutputCheck(
            self._compared_width, lanes=self.lanes, registered=self._registered, offset=k)
        for index, vector in enumerate(outputs):
            m.d.comb += getattr(check, f"out{index}").eq(vector)
        m.d.comb += [
            self.mismatch.eq(check.mismatch),
            self.disagree.eq(check.disagree),
            self.syndrome.eq(check.syndrome),
            Cat(*(value for _, value in _bus_members(self.bus, Out))).eq(check.voted),
        ]
        return m
