"""The voting bridge's response fan-out: one response to every online lane."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes

__all__ = ["ResponseFanout"]


class ResponseFanout(wiring.Component):
    """Offer one response to every online lane; tell when all have taken it.

    While ``valid`` is high, each online lane sees ``lane_valid`` until it takes the
    response (its ``ready`` in a cycle of its ``lane_valid``), each at its own pace.
    ``complete`` is high in the cycle in which the last online lane that had not yet taken
    it does (at once, if every online lane is ready in the first cycle); the lanes' record
    of who took it is cleared at that clock edge, for the next response. Offline lanes are
    never offered a response and are not waited for. ``lane_valid`` and ``complete`` are
    combinational.

    Parameters
    ----------
    lanes : int
        2 or 3.

    Members
    -------
    valid : In(1)
        A response is offered (held until ``complete``).
    online : In(lanes)
        Lanes to deliver to.
    ready : In(lanes)
        Each lane's ``bready`` or ``rready``.
    lane_valid : Out(lanes)
        Each lane's ``bvalid`` or ``rvalid``.
    complete : Out(1)
        Every online lane has taken the response (this cycle's handshakes included).
    partial : Out(1)
        Some online lanes have taken the response, not all.

    Raises
    ------
    TypeError
        If ``lanes`` is not 2 or 3.
    """

    def __init__(self, *, lanes):
        _check_lanes(lanes)
        self._lanes = lanes
        super().__init__({
            "valid":      In(1),
            "online":     In(lanes),
            "ready":      In(lanes),
            "lane_valid": Out(lanes),
            "complete":   Out(1),
            "partial":    Out(1),
        })

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        n = self._lanes
        done = Signal(n)        # lanes that have taken the response
        take = Signal(n)
        m.d.comb += [
            self.lane_valid.eq(self.online & ~done & self.valid.replicate(n)),
            take.eq(self.lane_valid & self.ready),
            self.complete.eq(self.valid & ((~self.online | done | take) == (1 << n) - 1)),
            self.partial.eq((done & self.online).any()),
        ]
        with m.If(self.complete):
            m.d.sync += done.eq(0)
        with m.Else():
            m.d.sync += done.eq(done | take)
        return m
