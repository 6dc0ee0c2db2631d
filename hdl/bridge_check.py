"""SelfCheckingBridge: a voting bridge whose own faults cannot reach the I/O unseen."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge import VotingBridge
from .bridge_netlist import BridgeWrapper

__all__ = ["SelfCheckingBridge", "GATED"]

#: Outputs held at 0 from the cycle in which the two copies disagree: every handshake to
#: a lane or a path (so nothing is accepted, requested or answered), the interrupts, and
#: the strobes that would start something (a reset of the lanes, a rollback, a resync).
GATED = ("awready", "wready", "arready", "bvalid", "rvalid", "awvalid", "wvalid",
         "arvalid", "bready", "rready", "lanes_reset", "rollback", "resync_start",
         "complete", "diag_request")


class SelfCheckingBridge(BridgeWrapper, wiring.Component):
    """Two copies of a :class:`~ftvoter.hdl.bridge.VotingBridge`, checked against each other.

    The bridge is itself hardware that can fail: an upset in its registered beat, its
    engines, its lane manager or its error registers would otherwise reach a path, or the
    lanes, with nothing to see it. Here a *main* and a *shadow* copy, built alike, get every
    input; every output of the two to the lanes and the paths is compared in the same
    cycle (combinationally, so the cycle in which they first differ is already caught).
    From the first cycle in which they differ, ``checker_error`` is high for good (a sticky
    flip-flop), every handshake to the lanes and the paths and every interrupt and
    starting strobe (:data:`GATED`) is held at 0 — nothing the copies do not agree on is
    sent or accepted — ``halted`` is high (fail-safe), and both copies' registers show
    ERROR_CAUSE.CHECKER. A single fault inside either copy therefore ends in a stop, never in silent
    corruption; a fault that hides a later lane fault in one copy (a comparator that no
    longer sees a difference) is seen when the other copy reacts to that lane fault.

    Outputs other than the handshakes are the main copy's. The management port is served by
    the main copy and is not compared, so that the registers can still be read after a
    checker error (the shadow's registers see the same writes).

    Parameters and members are :class:`VotingBridge`'s, plus:

    Members
    -------
    checker_error : Out(1)
        The copies disagreed (in this cycle or earlier, until reset). (The copies'
        ``checker_in`` is driven by it: it is not a member here.)
    """

    def __init__(self, **kwargs):
        self._main = self._inner = VotingBridge(**kwargs, checked=True)
        self._shadow = VotingBridge(**kwargs, checked=True)
        members = dict(self._main.signature.members)
        del members["checker_in"]
        super().__init__({**members, "checker_error": Out(1)})

    @property
    def main(self):
        return self._main

    @property
    def shadow(self):
        return self._shadow

    def elaborate(self, platform):
        m = Module()
        m.submodules.main = main = self._main
        m.submodules.shadow = shadow = self._shadow
        outputs = []
        copies = [{path: value for path, _, value in copy.signature.flatten(copy)}
                  for copy in (main, shadow)]
        for path, member, value in self.signature.flatten(self):
            if path[0] == "checker_error":
                continue
            a, b = copies[0][path], copies[1][path]
            if member.flow == In:
                m.d.comb += [a.eq(value), b.eq(value)]
            elif path[0] in ("mgmt", "mgmt_irq"):
                m.d.comb += value.eq(a)
            else:
                outputs.append((path, value, a, b))
        differ = Signal()
        error_q = Signal()
        m.d.comb += differ.eq(Cat(*(a != b for _, _, a, b in outputs)).any())
        with m.If(differ):
            m.d.sync += error_q.eq(1)
        blocked = Signal()
        m.d.comb += [blocked.eq(differ | error_q), self.checker_error.eq(blocked),
                     main.checker_in.eq(blocked), shadow.checker_in.eq(blocked)]
        for path, value, a, _ in outputs:
            name = path[-1]
            if name == "halted":
                m.d.comb += value.eq(a | blocked)
            elif name in GATED or name.endswith("_irq"):
                m.d.comb += value.eq(a & ~blocked.replicate(len(value)))
            else:
                m.d.comb += value.eq(a)
        return m
