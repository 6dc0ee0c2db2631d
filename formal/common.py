"""What every harness shares: past values, AXI4-Lite rules, the lanes' and paths' peers.

A harness is an :class:`~amaranth.hdl.Elaboratable` with no ports: the design under
proof is a submodule, every input is driven here (free values from ``AnySeq`` and
``AnyConst``, restricted by ``Assume``), and the properties are ``Assert`` and ``Cover``
statements on its outputs. Formal-only state is named ``f_*``. Reset is never asserted:
the solver starts from the registers' initial values, which are their reset values.

The rules of AXI4-Lite (ARM IHI 0022, A3.2 and B1): a source holds ``valid`` until the
handshake and keeps the payload stable meanwhile; a target answers each request once, in
order, and never without a request. :func:`source_rules` and :func:`response_rules` state
them with ``Assume`` on what the design's peers drive and with ``Assert`` on what the
design drives.
"""

import warnings

from amaranth.hdl import Assume, Cat, Const, Elaboratable, Fragment, Module, ResetSignal, Signal

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from amaranth.asserts import AnyConst, AnySeq

from ftvoter.hdl.registers import ERROR_REGISTERS
from ftvoter.hdl.signatures import AXI4LiteSignature

__all__ = ["AnyConst", "AnySeq", "Harness", "peek", "REQUESTS", "source_rules", "response_rules",
           "drive_lanes", "drive_path", "idle_mgmt", "csr_address", "hs"]

#: The members an AXI4-Lite initiator drives.
REQUESTS = ("awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
            "araddr", "arprot", "arvalid", "rready")

#: (valid, ready, payload) of each request channel, and of each response channel.
REQUEST_CHANNELS = (("awvalid", "awready", ("awaddr", "awprot")),
                    ("wvalid", "wready", ("wdata", "wstrb")),
                    ("arvalid", "arready", ("araddr", "arprot")))
RESPONSE_CHANNELS = (("bvalid", "bready", ("bresp",)),
                     ("rvalid", "rready", ("rdata", "rresp")))


def csr_address(csr_base, name):
    """Byte address of the error register ``name`` in a bridge's register window."""
    return csr_base + ERROR_REGISTERS[name].offset


def hs(bus, channel):
    """The handshake of ``channel`` ("aw", "w", "b", "ar", "r") on ``bus``."""
    return getattr(bus, f"{channel}valid") & getattr(bus, f"{channel}ready")


def peek(design, *names):
    """Elaborate ``design``; return its fragment (to add as the harness's submodule in its
    place) and its internal signals named ``names``, as ``"sub.sub.signal"`` below it.

    The invariants that let k-induction close refer to registers the design keeps to
    itself; the harness reads them through this, without a change to ``hdl/``.
    """
    fragment = Fragment.get(design, None)
    found = {}

    def walk(frag, prefix):
        for stmts in frag.statements.values():
            for stmt in stmts:
                for signal in stmt._lhs_signals():
                    found.setdefault(prefix + signal.name, signal)
        for sub, name, _ in frag.subfragments:
            walk(sub, f"{prefix}{name}." if name else prefix)

    walk(fragment, "")
    missing = [name for name in names if name not in found]
    if missing:
        raise LookupError(f"No signal {missing[0]!r} in {design!r}")
    return fragment, [found[name] for name in names]


class Harness(Elaboratable):
    """Base of every harness: ``f_past_valid`` and the past-value registers.

    Subclasses implement :meth:`build` (``m`` is the harness module) and may be
    parameterised by ``mutant``, a name the subclass documents.
    """

    mutants = ()

    def __init__(self, *, mutant=None):
        if mutant is not None and mutant not in self.mutants:
            raise ValueError(f"Mutant must be one of {self.mutants!r}, not {mutant!r}")
        self.mutant = mutant

    def elaborate(self, platform):
        m = Module()
        self.m = m
        self.f_past_valid = Signal(name="f_past_valid")
        m.d.sync += self.f_past_valid.eq(1)
        m.d.comb += Assume(~ResetSignal())
        self.build(m)
        return m

    def past(self, value, name):
        """A register holding ``value`` of the previous cycle."""
        reg = Signal(len(value))
        self.m.d.sync += reg.eq(value)
        return reg

    def build(self, m):
        raise NotImplementedError


def source_rules(h, check, bus, prefix, *, channels=REQUEST_CHANNELS, timeout=None, when=1):
    """State the source's rules of each channel: ``valid`` is held until ``ready``, and the
    payload is stable while waiting.

    ``check`` is ``Assume`` or ``Assert``. With ``timeout``, dropping ``valid`` is excused
    once the beat has waited ``timeout`` cycles (the bridge withdraws a request from a path
    that timed out: the one exception it documents). ``when`` gates the rules (a lane that
    went offline is no longer served).
    """
    m = h.m
    for valid, ready, payload in channels:
        v, r, p = getattr(bus, valid), getattr(bus, ready), Cat(*(getattr(bus, n) for n in
                                                                   payload))
        past_wait = h.past(v & ~r & when, f"{prefix}_{valid}_wait")
        past_payload = h.past(p, f"{prefix}_{valid}_payload")
        excuse = 0
        if timeout is not None:
            stalled = Signal(range(timeout + 1), name=f"f_{prefix}_{valid}_stalled")
            with m.If(v & ~r):
                m.d.sync += stalled.eq(stalled + (stalled != timeout))
            with m.Else():
                m.d.sync += stalled.eq(0)
            excuse = stalled == timeout
        with m.If(h.f_past_valid & past_wait & when):
            m.d.comb += check(v | excuse)
            with m.If(v):
                m.d.comb += check(p == past_payload)


def response_rules(h, check, bus, prefix, *, when=1):
    """State the target's rules: each response held and stable until taken, one per
    request, none without a request; return the pending counts ``(writes, reads)``.

    ``f_<prefix>_wpend_aw`` and ``..._wpend_w`` count AW and W beats taken and not yet
    answered, ``..._rpend`` the AR beats (2 bits, saturating at 3).
    """
    m = h.m
    source_rules(h, check, bus, prefix, channels=RESPONSE_CHANNELS, when=when)
    pend = {}
    for name, inc, dec in (("wpend_aw", hs(bus, "aw"), hs(bus, "b")),
                           ("wpend_w", hs(bus, "w"), hs(bus, "b")),
                           ("rpend", hs(bus, "ar"), hs(bus, "r"))):
        count = Signal(2)
        with m.If(inc & ~dec & (count != 3)):
            m.d.sync += count.eq(count + 1)
        with m.Elif(~inc & dec & (count != 0)):
            m.d.sync += count.eq(count - 1)
        pend[name] = count
    with m.If(when):
        m.d.comb += [
            check(~bus.bvalid | ((pend["wpend_aw"] != 0) & (pend["wpend_w"] != 0))),
            check(~bus.rvalid | (pend["rpend"] != 0)),
        ]
    return pend


def drive_lanes(h, bridge, lanes, *, faulty=0, avoid=()):
    """Drive the bridge's lane ports: lane ``faulty`` free in every output (``AnySeq``,
    ``self_error`` included), the others one legal stream (``f_good_*``: equal by
    ``Assume``, obeying the initiator's rules; ``self_error`` low).

    ``avoid`` lists byte addresses the good lanes never write (e.g. LANE_CMD: a software
    command that takes the good lanes out of the vote is no fault). Returns the index of
    the first good lane, whose port the harness observes.
    """
    m = h.m
    bus = AXI4LiteSignature(addr_width=bridge.lane0_bus.signature.addr_width, data_width=32)
    good = [i for i in range(lanes) if i != faulty]
    for i in range(lanes):
        port = getattr(bridge, f"lane{i}_bus")
        for name in REQUESTS:
            m.d.comb += getattr(port, name).eq(AnySeq(bus.members[name].shape))
        m.d.comb += getattr(bridge, f"lane{i}_self_error").eq(AnySeq(1) if i == faulty else 0)
    first = getattr(bridge, f"lane{good[0]}_bus")
    for i in good[1:]:
        other = getattr(bridge, f"lane{i}_bus")
        m.d.comb += Assume(Cat(*(getattr(other, n) for n in REQUESTS)) ==
                           Cat(*(getattr(first, n) for n in REQUESTS)))
    # The good lanes present the same beats, so they are granted together while online;
    # the stream's handshakes are the first online good lane's.
    src = _GoodStream(bridge, good)
    source_rules(h, Assume, src, "good")
    for address in avoid:
        m.d.comb += Assume(~first.awvalid | (first.awaddr != address))
    m.d.comb += bridge.irq_in.eq(AnySeq(len(bridge.irq_in)))
    return good[0]


class _GoodStream:
    """The good lanes' common stream: their requests, and the readies of any online one."""

    def __init__(self, bridge, good):
        ports = [getattr(bridge, f"lane{i}_bus") for i in good]
        self._first = ports[0]
        self._ready = {}
        for _, ready, _ in REQUEST_CHANNELS + RESPONSE_CHANNELS:
            value = Const(0, 1)
            for port in ports:
                value = value | getattr(port, ready)
            self._ready[ready] = value

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ready.get(name, getattr(self._first, name))


def drive_path(h, bus, prefix, *, answers=True):
    """Drive a path (AXI4-Lite target) the bridge initiates on: readies free, responses
    free but legal (:func:`response_rules` assumed); none at all without ``answers``."""
    m = h.m
    for name in ("awready", "wready", "arready"):
        m.d.comb += getattr(bus, name).eq(AnySeq(1))
    m.d.comb += [bus.bresp.eq(AnySeq(2)), bus.rdata.eq(AnySeq(32)), bus.rresp.eq(AnySeq(2))]
    if answers:
        m.d.comb += [bus.bvalid.eq(AnySeq(1)), bus.rvalid.eq(AnySeq(1))]
    return response_rules(h, Assume, bus, prefix)


def idle_mgmt(h, bridge):
    """No out-of-band access: the management port's requests are idle."""
    for name in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
        h.m.d.comb += getattr(bridge.mgmt, name).eq(0)
