"""LaneManager: per-lane state and the events between states."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes
from .registers import EVENT_KINDS, LANE_OPS, LANE_STATES

__all__ = ["LaneManager", "RESYNC_RESET_CYCLES"]

#: Cycles for which ``lanes_reset`` is held during a resynchronisation.
RESYNC_RESET_CYCLES = 4

ONLINE, BROKEN, REMOVED, SYNCING = (LANE_STATES[k] for k in
                                    ("ONLINE", "BROKEN", "REMOVED", "SYNCING"))


class LaneManager(wiring.Component):
    """Track each lane as ONLINE, BROKEN, REMOVED or SYNCING.

    All lanes are ONLINE after reset. Transitions, each logged as one event:

    - ``isolate`` (from the bridge): an ONLINE lane becomes BROKEN (event BROKEN);
    - command REMOVE: an ONLINE lane becomes REMOVED (event REMOVED), unless it is the last
      online lane; FREEZE does the same and also raises ``freeze`` for that lane (its
      clock is stopped, so its state can be inspected); FREEZE of a BROKEN or REMOVED lane
      only freezes it;
    - command INSERT: a BROKEN or REMOVED lane becomes SYNCING (one at a time);
      RESET_INSERT: the same, by the reset-everything resynchronisation;
    - with ``live``, command SPLIT: an ONLINE lane (not the last) becomes REMOVED and
      ``split`` (event SPLIT): it runs on its own, on the split path; MERGE (or INSERT)
      brings it back by a live resync (a full copy), event INSERTED;
    - ``absent`` (surprise removal: the lane's presence input dropped): an ONLINE or
      SYNCING lane becomes REMOVED at once (event REMOVED), even the last one; an absent
      lane cannot be inserted.

    Resynchronisation, reset-everything (INSERT without ``live``, RESET_INSERT): while a
    lane is SYNCING, ``quiesce`` tells the bridge to stop accepting new transactions; once
    the bridge reports ``safe`` (nothing in flight), ``lanes_reset`` resets *all* lanes
    together for :data:`RESYNC_RESET_CYCLES` cycles, after which the SYNCING lane is
    ONLINE (event FIXED if it was broken, INSERTED if it was removed) and all lanes start
    again in lockstep from their reset state. Live (INSERT with ``live``): ``resync_start``
    asks a :class:`~ftvoter.hdl.resync.Resync` to copy the survivors' state into the lane
    (``resync_rapid``: only what it missed, for a lane REMOVED or frozen since no other
    lane left), and ``resync_done`` brings it ONLINE; the survivors never restart.
    ``mark`` pulses when a lane leaves the vote (the RAMs' ``since`` bitmaps start
    again). Commands that cannot be carried out pulse ``rejected``. At most one event is
    produced per cycle: isolation first, then surprise removal, then the end of a
    resynchronisation, then a pending command.

    Parameters
    ----------
    lanes : int
        2 or 3.
    live : bool
        INSERT is a live resync (``resync_*``).

    Members
    -------
    isolate : In(lanes)
        Lanes to mark BROKEN (at most one bit set; the lowest wins).
    cmd : In(1), cmd_lane : In(2), cmd_op : In(3)
        A command from LANE_CMD (``LANE_OPS`` encoding), for one cycle.
    safe : In(1)
        No transaction in flight.
    state : Out(6)
        Two bits per lane (``LANE_STATES`` encoding), lane 0 lowest; missing lanes read 0.
    online : Out(lanes)
        Lanes in the vote.
    freeze : Out(lanes)
        Lanes whose clock is to be stopped.
    absent : In(lanes)
        Lanes whose presence input is low.
    syncing : Out(1)
        A resynchronisation is pending or running.
    quiesce : Out(1)
        A reset-everything resynchronisation is pending: accept no new transaction.
    resync_start : Out(1), resync_lane : Out(2), resync_rapid : Out(1)
    resync_done : In(1)
        With ``live``.
    split : Out(lanes)
        The split lane (one at most), with ``live``.
    mark : Out(1)
    lanes_reset : Out(1)
        Reset all lanes (resynchronisation).
    event_valid : Out(1), event_lane : Out(2), event_kind : Out(3)
        A state change (``EVENT_KINDS`` encoding).
    rejected : Out(1)
        A command could not be carried out.
    """

    def __init__(self, lanes=2, *, live=False):
        _check_lanes(lanes)
        if not isinstance(live, bool):
            raise TypeError(f"Live must be a bool, not {live!r}")
        self._lanes, self._live = lanes, live
        super().__init__({
            "isolate":     In(lanes),
            "absent":      In(lanes),
            "cmd":         In(1),
            "cmd_lane":    In(2),
            "cmd_op":      In(3),
            "quiesce":     Out(1),
            "resync_start": Out(1),
            "resync_lane": Out(2),
            "resync_rapid": Out(1),
            "resync_done": In(1),
            "mark":        Out(1),
            "split":       Out(lanes),
            "safe":        In(1),
            "state":       Out(6),
            "online":      Out(lanes),
            "freeze":      Out(lanes),
            "syncing":     Out(1),
            "lanes_reset": Out(1),
            "event_valid": Out(1),
            "event_lane":  Out(2),
            "event_kind":  Out(3),
            "rejected":    Out(1),
        })
        self.states = [Signal(2, name=f"lane{i}_state", init=ONLINE) for i in range(lanes)]

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        n = self._lanes
        states = self.states
        was_broken = Signal(n)
        freeze = Signal(n)
        m.d.comb += [
            self.state.eq(Cat(*states)),
            self.online.eq(Cat(*(state == ONLINE for state in states))),
            self.freeze.eq(freeze),
            self.syncing.eq(Cat(*(state == SYNCING for state in states)).any()),
        ]
        online_count = sum(state == ONLINE for state in states)

        # A command waits in a one-deep buffer until a cycle with no other event.
        pending = Signal()
        pending_lane = Signal(2)
        pending_op = Signal(3)
        with m.If(self.cmd):
            m.d.sync += [pending.eq(1), pending_lane.eq(self.cmd_lane),
                         pending_op.eq(self.cmd_op)]

        reset_count = Signal(range(RESYNC_RESET_CYCLES + 1))
        resetting = Signal()
        by_reset = Signal()     # the SYNCING lane comes back by the reset-everything kind
        # A SPLIT waits for a transaction boundary (nothing new accepted meanwhile): a lane
        # split off with a request in flight would wait for its answer for ever.
        splitting = Signal()
        if self._live:
            m.d.comb += splitting.eq(pending & (pending_op == LANE_OPS["SPLIT"]))
        m.d.comb += [self.lanes_reset.eq(resetting),
                     self.quiesce.eq((self.syncing & by_reset) | splitting)]

        isolating = Signal()
        unplugged = Signal(n)
        m.d.comb += unplugged.eq(self.absent &
                                 Cat(*((st == ONLINE) | (st == SYNCING) for st in states)))
        m.d.comb += isolating.eq(self.isolate.any() | unplugged.any())
        finishing = Signal()
        split = Signal(n)
        m.d.comb += self.split.eq(split)
        # The lane that last left the vote: a rapid resync is possible for it alone.
        last_left = Signal(2, init=3)
        m.d.comb += self.mark.eq(self.event_valid & ((self.event_kind == EVENT_KINDS["BROKEN"]) |
                                                     (self.event_kind == EVENT_KINDS["REMOVED"]) |
                                                     (self.event_kind == EVENT_KINDS["SPLIT"])))
        with m.If(self.mark):
            m.d.sync += last_left.eq(self.event_lane)

        with m.If(self.isolate.any()):
            self._isolate(m)
        with m.Elif(unplugged.any()):
            self._unplug(m, unplugged, freeze, split)
        self._resynchronise(m, resetting, reset_count, isolating, finishing, was_broken,
                            by_reset)
        with m.If(pending & ~isolating & ~finishing & ~self.cmd & (~splitting | self.safe)):
            m.d.sync += pending.eq(0)
            for lane in range(n):
                with m.If(pending_lane == lane):
                    self._execute(m, lane, pending_op, online_count, was_broken, freeze,
                                  by_reset, last_left, split)
            with m.If(pending_lane >= n):
                m.d.comb += self.rejected.eq(1)
        return m

    def _event(self, m, lane, kind):
        """Log a state change of ``lane`` (an ``EVENT_KINDS`` name) in this cycle."""
        m.d.comb += [self.event_valid.eq(1), self.event_lane.eq(lane),
                     self.event_kind.eq(EVENT_KINDS[kind])]

    def _isolate(self, m):
        """Mark BROKEN the lowest lane in ``isolate`` if it is ONLINE."""
        states = self.states
        for lane in range(self._lanes):
            lower = self.isolate[:lane].any() if lane else Const(0, 1)
            with m.If(self.isolate[lane] & ~lower & (states[lane] == ONLINE)):
                m.d.sync += states[lane].eq(BROKEN)
                self._event(m, lane, "BROKEN")

    def _bring_online(self, m, was_broken):
        """The SYNCING lane is ONLINE at this clock edge (event FIXED, or INSERTED)."""
        for lane, state in enumerate(self.states):
            with m.If(state == SYNCING):
                m.d.sync += state.eq(ONLINE)
                self._event(m, lane, "FIXED")
                with m.If(~was_broken[lane]):
                    self._event(m, lane, "INSERTED")

    def _unplug(self, m, unplugged, freeze, split):
        """Mark REMOVED the lowest lane whose presence dropped (no longer split)."""
        for lane in range(self._lanes):
            lower = unplugged[:lane].any() if lane else Const(0, 1)
            with m.If(unplugged[lane] & ~lower):
                m.d.sync += [self.states[lane].eq(REMOVED), freeze[lane].eq(0),
                             split[lane].eq(0)]
                self._event(m, lane, "REMOVED")

    def _resynchronise(self, m, resetting, reset_count, isolating, finishing, was_broken,
                       by_reset):
        """Wait for a safe point, reset all lanes, bring the SYNCING lane online; or, live,
        bring it online when the resync is done."""
        if self._live:
            with m.If(self.resync_done & ~by_reset & ~isolating):
                m.d.comb += finishing.eq(1)
                self._bring_online(m, was_broken)
        with m.If(resetting):
            with m.If(reset_count == RESYNC_RESET_CYCLES - 1):
                m.d.comb += finishing.eq(1)
                with m.If(~isolating):
                    m.d.sync += [resetting.eq(0), reset_count.eq(0)]
                    self._bring_online(m, was_broken)
            with m.Else():
                m.d.sync += reset_count.eq(reset_count + 1)
        with m.Elif(self.syncing & by_reset & self.safe):
            m.d.sync += [resetting.eq(1), reset_count.eq(0)]

    def _execute(self, m, lane, op, online_count, was_broken, freeze, by_reset, last_left,
                 split):
        """Carry out command ``op`` (``LANE_OPS`` encoding) on ``lane``, or reject it."""
        state = self.states[lane]
        with m.Switch(op):
            with m.Case(LANE_OPS["REMOVE"], LANE_OPS["FREEZE"]):
                with m.If((state == ONLINE) & (online_count > 1)):
                    m.d.sync += [state.eq(REMOVED), was_broken[lane].eq(0)]
                    self._event(m, lane, "REMOVED")
                    with m.If(op == LANE_OPS["FREEZE"]):
                        m.d.sync += freeze[lane].eq(1)
                with m.Elif((op == LANE_OPS["FREEZE"]) &
                            ((state == BROKEN) | (state == REMOVED))):
                    m.d.sync += freeze[lane].eq(1)
                with m.Else():
                    m.d.comb += self.rejected.eq(1)
            with m.Case(LANE_OPS["INSERT"], LANE_OPS["RESET_INSERT"], LANE_OPS["MERGE"]):
                with m.If(((state == BROKEN) | (state == REMOVED)) & ~self.syncing &
                          ~self.absent[lane] &
                          ((op != LANE_OPS["MERGE"]) | split[lane] if self._live else 1)):
                    reset = (op == LANE_OPS["RESET_INSERT"]) if self._live else 1
                    m.d.sync += [state.eq(SYNCING), freeze[lane].eq(0),
                                 was_broken[lane].eq(state == BROKEN), by_reset.eq(reset),
                                 split[lane].eq(0)]
                    if self._live:
                        with m.If(~reset):
                            # A split lane ran a program of its own: a full copy.
                            m.d.comb += [self.resync_start.eq(1), self.resync_lane.eq(lane),
                                         self.resync_rapid.eq((state == REMOVED) &
                                                              (last_left == lane) &
                                                              ~split[lane])]
                with m.Else():
                    m.d.comb += self.rejected.eq(1)
            if self._live:
                with m.Case(LANE_OPS["SPLIT"]):
                    with m.If((state == ONLINE) & (online_count > 1) & ~split.any()):
                        m.d.sync += [state.eq(REMOVED), split[lane].eq(1),
                                     was_broken[lane].eq(0)]
                        self._event(m, lane, "SPLIT")
                    with m.Else():
                        m.d.comb += self.rejected.eq(1)
            with m.Default():
                m.d.comb += self.rejected.eq(1)
