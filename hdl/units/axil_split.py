"""AXI4LiteSplit: one AXI4-Lite initiator, two targets, chosen by address."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..signatures import AXI4LiteSignature

__all__ = ["AXI4LiteSplit"]

_FORWARD = {"aw": ("awaddr", "awprot"), "w": ("wdata", "wstrb"), "ar": ("araddr", "arprot")}


class AXI4LiteSplit(wiring.Component):
    """Route each transaction of one initiator to ``low`` (addresses below ``boundary``)
    or to ``high`` (the others).

    One write and one read are in flight at a time: the route of a write is taken from
    ``awaddr`` when the split is idle and ``awvalid`` rises, and held until its response
    has been accepted; the write's W beat goes the same way, and a second AW or W beat
    waits. Reads likewise. This costs one cycle per transaction; a CPU-memory unit's
    lanes are compared at the split's *outputs*, so the cycle is the same in every lane.

    Parameters
    ----------
    boundary : int
        First address of ``high``: a positive integer below ``2**addr_width``.
    addr_width : int
        Address width of all three buses (data width 32).

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width, 32))
        From the initiator.
    low, high : Out(AXI4LiteSignature(addr_width, 32))
        To the targets (addresses passed on unchanged).

    Raises
    ------
    TypeError
        If ``boundary`` is not an integer from 1 to ``2**addr_width - 1``.
    """

    def __init__(self, *, boundary, addr_width=32):
        if (not isinstance(addr_width, int) or isinstance(addr_width, bool) or
                addr_width < 1):
            raise TypeError(f"Address width must be a positive integer, not {addr_width!r}")
        if (not isinstance(boundary, int) or isinstance(boundary, bool) or
                not 0 < boundary < 2**addr_width):
            raise TypeError(f"Boundary must be an integer from 1 to {2**addr_width - 1}, "
                            f"not {boundary!r}")
        self._boundary = boundary
        bus = AXI4LiteSignature(addr_width=addr_width, data_width=32)
        super().__init__({"bus": In(bus), "low": Out(bus), "high": Out(bus)})

    @property
    def boundary(self):
        return self._boundary

    def elaborate(self, platform):
        m = Module()
        self._write(m)
        self._read(m)
        return m

    def _route(self, m, kind, valid, addr, done):
        """Hold a route for one transaction: ``busy``, ``to_high``; cleared at ``done``."""
        busy = Signal(name=f"{kind}_busy")
        to_high = Signal(name=f"{kind}_high")
        with m.If(done):
            m.d.sync += busy.eq(0)
        with m.Elif(~busy & valid):
            m.d.sync += [busy.eq(1), to_high.eq(addr >= self._boundary)]
        return busy, to_high

    def _channel(self, m, name, busy, to_high):
        """Forward one request channel (``aw``, ``w``, ``ar``) once per transaction."""
        bus, targets = self.bus, (self.low, self.high)
        taken = Signal(name=f"{name}_taken")      # this transaction's beat has gone
        valid, ready = f"{name}valid", f"{name}ready"
        for index, target in enumerate(targets):
            chosen = busy & ~taken & (to_high == index)
            m.d.comb += getattr(target, valid).eq(getattr(bus, valid) & chosen)
            for field in _FORWARD[name]:
                m.d.comb += getattr(target, field).eq(getattr(bus, field))
            with m.If(chosen):
                m.d.comb += getattr(bus, ready).eq(getattr(target, ready))
        with m.If(getattr(bus, valid) & getattr(bus, ready)):
            m.d.sync += taken.eq(1)
        return taken

    def _write(self, m):
        bus, targets = self.bus, (self.low, self.high)
        done = Signal()
        busy, to_high = self._route(m, "write", bus.awvalid, bus.awaddr, done)
        aw_taken = self._channel(m, "aw", busy, to_high)
        w_taken = self._channel(m, "w", busy, to_high)
        for index, target in enumerate(targets):
            with m.If(busy & (to_high == index)):
                m.d.comb += [bus.bvalid.eq(target.bvalid), bus.bresp.eq(target.bresp),
                             target.bready.eq(bus.bready)]
        m.d.comb += done.eq(busy & bus.bvalid & bus.bready)
        with m.If(done):
            m.d.sync += [aw_taken.eq(0), w_taken.eq(0)]

    def _read(self, m):
        bus, targets = self.bus, (self.low, self.high)
        done = Signal()
        busy, to_high = self._route(m, "read", bus.arvalid, bus.araddr, done)
        ar_taken = self._channel(m, "ar", busy, to_high)
        for index, target in enumerate(targets):
            with m.If(busy & (to_high == index)):
                m.d.comb += [bus.rvalid.eq(target.rvalid), bus.rresp.eq(target.rresp),
                             bus.rdata.eq(target.rdata), target.rready.eq(bus.rready)]
        m.d.comb += done.eq(busy & bus.rvalid & bus.rready)
        with m.If(done):
            m.d.sync += ar_taken.eq(0)
