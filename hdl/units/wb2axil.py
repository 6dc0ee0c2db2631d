"""WishboneToAXI4Lite: a classic Wishbone initiator onto an AXI4-Lite bus."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..signatures import AXI4LiteSignature

__all__ = ["WishboneSignature", "WishboneToAXI4Lite"]

_FEATURES = frozenset({"err"})


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class WishboneSignature(wiring.Signature):
    """Wishbone B4 classic bus, seen from the initiator; single transfers only.

    The members are those of amaranth-soc's ``wishbone.Signature`` (and of Sentinel's own
    bus when amaranth-soc is not installed), so either connects to this one. amaranth-soc
    is not on PyPI, hence this small copy: no tags, no registered feedback, no ``rty``,
    ``stall`` or ``lock``.

    Parameters
    ----------
    addr_width : int
        Width of ``adr``, a *word* address (in units of ``data_width``), from 1 to 30.
    data_width : int
        Width of ``dat_w`` and ``dat_r``: 32.
    granularity : int
        Smallest unit a ``sel`` bit selects: 8 (``sel`` has 4 bits) or 32 (1 bit).
    features : iterable of str
        Optional members: ``"err"`` (an error termination, the other end of ``ack``).

    Members
    -------
    adr, dat_w, sel, cyc, stb, we : Out
        Address, write data, byte (or word) selects, cycle, strobe, write enable.
    dat_r, ack : In
        Read data (valid with ``ack``) and acknowledge.
    err : In
        Error termination (only with the ``"err"`` feature).

    Raises
    ------
    TypeError
        If a width or the granularity is not one of the values above, or a feature is
        unknown.
    """

    def __init__(self, *, addr_width, data_width=32, granularity=8, features=()):
        if not _is_int(addr_width) or not 1 <= addr_width <= 30:
            raise TypeError(f"Address width must be an integer from 1 to 30, not "
                            f"{addr_width!r}")
        if not _is_int(data_width) or data_width != 32:
            raise TypeError(f"Data width must be 32, not {data_width!r}")
        if not _is_int(granularity) or granularity not in (8, 32):
            raise TypeError(f"Granularity must be 8 or 32, not {granularity!r}")
        try:
            names = frozenset(features) if not isinstance(features, str) else None
        except TypeError:
            names = None
        if names is None or not names <= _FEATURES:
            raise TypeError(f"Features must be an iterable of names from ('err',), not "
                            f"{features!r}")
        features = names
        self._addr_width, self._data_width = addr_width, data_width
        self._granularity, self._features = granularity, features
        members = {
            "adr":   Out(addr_width),
            "dat_w": Out(data_width),
            "dat_r": In(data_width),
            "sel":   Out(data_width // granularity),
            "cyc":   Out(1),
            "stb":   Out(1),
            "we":    Out(1),
            "ack":   In(1),
        }
        if "err" in features:
            members["err"] = In(1)
        super().__init__(members)

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width

    @property
    def granularity(self):
        return self._granularity

    @property
    def features(self):
        return self._features

    def __eq__(self, other):
        return (type(other) is type(self) and other.addr_width == self.addr_width and
                other.data_width == self.data_width and
                other.granularity == self.granularity and other.features == self.features)

    def __hash__(self):
        return hash((type(self), self.addr_width, self.data_width, self.granularity,
                     self.features))

    def __repr__(self):
        features = f", features={tuple(sorted(self.features))!r}" if self.features else ""
        return (f"WishboneSignature(addr_width={self.addr_width}, "
                f"data_width={self.data_width}, granularity={self.granularity}{features})")


class WishboneToAXI4Lite(wiring.Component):
    """Carry each Wishbone classic cycle of ``wb`` out on ``bus`` as one AXI4-Lite transfer.

    One transfer at a time. In a cycle in which the adapter is idle and ``cyc`` and ``stb``
    are high, it registers ``adr``, ``dat_w``, ``sel`` and ``we``; from the next cycle a
    write presents AW (``awaddr = adr << 2``) and W (``wstrb`` = ``sel``, or all four bytes
    at granularity 32), each valid held until its own handshake, then takes B; a read
    presents AR until its handshake, then takes R. ``ack`` (with ``dat_r = rdata`` for a
    read) is combinational from ``bvalid``/``rvalid``, which the adapter always accepts:
    the initiator sees ``ack`` in the cycle of the response, at the earliest two cycles
    after the request's first cycle, and the adapter is idle again in the next cycle.

    A response with ``bresp``/``rresp`` SLVERR or DECERR ends the cycle with ``err`` when
    the bus has the ``"err"`` feature; without it (Sentinel's bus has no ``ERR_I``) it
    ends with ``ack``, and a read returns whatever ``rdata`` holds. If the initiator drops
    ``cyc`` or ``stb`` before the end, the AXI4-Lite transfer (which cannot be withdrawn)
    still completes, and its response is dropped instead of ending a later cycle.
    ``awprot``/``arprot`` are 0 (unprivileged, secure, data: Wishbone does not tell a
    fetch from a load).

    Parameters
    ----------
    addr_width : int
        Width of the Wishbone word address ``adr``, 1 to 30; the AXI4-Lite byte address
        is ``adr << 2``, zero-extended to 32 bits.
    granularity : int
        8 or 32, as in :class:`WishboneSignature`.
    features : iterable of str
        ``()`` or ``("err",)``, as in :class:`WishboneSignature`.

    Members
    -------
    wb : In(WishboneSignature(addr_width, 32, granularity, features))
        From the Wishbone initiator.
    bus : Out(AXI4LiteSignature(addr_width=32, data_width=32))
        To the AXI4-Lite target.

    Raises
    ------
    TypeError
        If an argument is not one :class:`WishboneSignature` accepts.
    """

    def __init__(self, *, addr_width=30, granularity=8, features=()):
        wb = WishboneSignature(addr_width=addr_width, data_width=32, granularity=granularity,
                               features=features)
        super().__init__({
            "wb":  In(wb),
            "bus": Out(AXI4LiteSignature(addr_width=32, data_width=32)),
        })

    def elaborate(self, platform):
        m = Module()
        wb, bus = self.wb, self.bus
        request = wb.cyc & wb.stb
        write, read = Signal(), Signal()          # a transfer of that kind is in flight
        abandoned = Signal()                      # the initiator left before its end
        idle = ~write & ~read

        with m.If(idle & request):
            m.d.sync += [
                bus.awaddr.eq(wb.adr << 2), bus.araddr.eq(wb.adr << 2),
                bus.wdata.eq(wb.dat_w),
                bus.wstrb.eq(wb.sel if wb.signature.granularity == 8 else wb.sel.replicate(4)),
                write.eq(wb.we), read.eq(~wb.we),
                bus.awvalid.eq(wb.we), bus.wvalid.eq(wb.we), bus.arvalid.eq(~wb.we),
            ]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += bus.awvalid.eq(0)
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += bus.wvalid.eq(0)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += bus.arvalid.eq(0)

        m.d.comb += [bus.bready.eq(write), bus.rready.eq(read),
                     bus.awprot.eq(0), bus.arprot.eq(0), wb.dat_r.eq(bus.rdata)]
        done = Signal()
        failed = Signal()
        m.d.comb += [
            done.eq(write & bus.bvalid | read & bus.rvalid),
            failed.eq(write & bus.bresp[1] | read & bus.rresp[1]),
        ]
        with m.If(done):
            m.d.sync += [write.eq(0), read.eq(0), abandoned.eq(0)]
        with m.Elif(~idle & ~request):
            m.d.sync += abandoned.eq(1)

        answer = done & request & ~abandoned
        if "err" in wb.signature.features:
            m.d.comb += [wb.ack.eq(answer & ~failed), wb.err.eq(answer & failed)]
        else:
            m.d.comb += wb.ack.eq(answer)
        return m
