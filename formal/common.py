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

import contextlib
import warnings

from amaranth.hdl import Assume, C, Cat, Const, Elaboratable, Fragment, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from amaranth.asserts import AnyConst, AnySeq

from ftvoter.hdl.registers import ERROR_REGISTERS
from ftvoter.hdl.signatures import AXI4LiteSignature
from ftvoter.hdl.units.memory import AXI4LiteMemory

__all__ = ["AnyConst", "AnySeq", "Harness", "peek", "REQUESTS", "source_rules", "response_rules",
           "drive_lanes", "drive_path", "idle_mgmt", "csr_address", "hs", "replaced",
           "FormalLane", "PeekMemory", "LANE_RAM_WORDS", "LANE_SEQ_WIDTH"]

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


# --- continuous processing (resync.py, rollback.py) -------------------------------------

@contextlib.contextmanager
def replaced(module, name, value):
    """Within the block, ``module.name`` is ``value``: how a mutant puts a broken component
    where a design makes its own while it elaborates (the design itself is unchanged)."""
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


#: The formal lane's RAM: words, and the width of its sequence numbers.
LANE_RAM_WORDS = 4
LANE_SEQ_WIDTH = 6
#: The formal lane's irq bits: which operation it starts (see :class:`FormalLane`).
LANE_IRQ_WIDTH = 6


class PeekMemory(AXI4LiteMemory):
    """An :class:`~ftvoter.hdl.units.memory.AXI4LiteMemory` (undo port, one word a block)
    with one more combinational read port for the harness: ``peek_data`` is the word at
    ``peek_addr`` (plain signals, not ports: the lane's signature stays the contract's)."""

    def __init__(self, *, depth=LANE_RAM_WORDS):
        super().__init__(addr_width=4, data_width=32, depth=depth, block_words=1, undo=True)
        abits = max(1, (depth - 1).bit_length())
        self.peek_addr = Signal(abits, name="peek_addr")
        self.peek_data = Signal(32, name="peek_data")

    def elaborate(self, platform):
        m = super().elaborate(platform)
        port = m.submodules.mem.read_port(domain="comb")
        m.d.comb += [port.addr.eq(self.peek_addr), self.peek_data.eq(port.data)]
        return m


class FormalLane(wiring.Component):
    """A lane small enough for the solver: a few registers, a RAM of
    :data:`LANE_RAM_WORDS` words (:class:`PeekMemory`) and I/O whose every request carries
    a sequence number.

    What it does is chosen by its inputs, the same for every lane: in a cycle with no RAM
    access under way, ``irq[0]`` starts a RAM write of word ``irq[1:3]`` (``acc`` and
    ``seq``), else ``irq[3]`` a RAM read of it (folded into ``acc``); in a cycle with no
    I/O under way, ``irq[4]`` starts a write, else ``irq[5]`` a read (its data and the
    write's response folded into ``acc``). Each I/O transaction first increments ``seq``
    and carries it (``awaddr``, ``wdata`` and ``araddr`` bits 2-7; ``wdata`` bits 0-5), so
    two different requests of one lane never look alike on a path. Byte addresses stay
    below 256 (never the register window at 256 of a 9-bit space). AW and W are presented
    together and each held until taken; ``bready``/``rready`` are high while the response
    is awaited.

    Extra members for the harness: ``upset`` (every register of the lane's own logic takes
    a free value, ``AnySeq``, at the clock edge: a fault of any kind, its RAM written with
    whatever follows) and ``error`` (drives ``self_error``).
    """

    bus: Out(AXI4LiteSignature(addr_width=9, data_width=32))
    irq: In(LANE_IRQ_WIDTH)
    self_error: Out(1)
    upset: In(1)
    error: In(1)

    def __init__(self):
        super().__init__()
        self.ram = PeekMemory()

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = self.ram
        bus, mem, irq = self.bus, ram.bus, self.irq
        acc = Signal(8, name="acc")
        seq = Signal(LANE_SEQ_WIDTH, name="seq")
        mw, mr, maddr = Signal(name="mw"), Signal(name="mr"), Signal(2, name="maddr")
        mdata = Signal(8, name="mdata")
        aw, w, ar = Signal(name="aw"), Signal(name="w"), Signal(name="ar")
        wb, wr = Signal(name="wb"), Signal(name="wr")
        m.d.comb += self.self_error.eq(self.error)

        # The RAM: one access at a time, its response taken at once.
        m.d.comb += [
            mem.awvalid.eq(mw), mem.wvalid.eq(mw), mem.awaddr.eq(maddr << 2),
            mem.wdata.eq(Cat(mdata, seq)), mem.wstrb.eq(0b1111), mem.bready.eq(1),
            mem.arvalid.eq(mr), mem.araddr.eq(maddr << 2), mem.rready.eq(1),
        ]
        with m.If(mem.awvalid & mem.awready):
            m.d.sync += mw.eq(0)
        with m.If(mem.arvalid & mem.arready):
            m.d.sync += mr.eq(0)
        with m.If(mem.rvalid):
            m.d.sync += acc.eq(acc + mem.rdata[:8])
        with m.If(~mw & ~mr & ~mem.bvalid & ~mem.rvalid):
            with m.If(irq[0]):
                m.d.sync += [mw.eq(1), maddr.eq(irq[1:3]), mdata.eq(acc)]
            with m.Elif(irq[3]):
                m.d.sync += [mr.eq(1), maddr.eq(irq[1:3])]

        # I/O: one transaction at a time, each with a new sequence number.
        tag = Cat(C(0, 2), seq, C(0, 1))
        m.d.comb += [
            bus.awvalid.eq(aw), bus.awaddr.eq(tag), bus.awprot.eq(0),
            bus.wvalid.eq(w), bus.wdata.eq(Cat(seq, C(0, 2), acc)), bus.wstrb.eq(0b1111),
            bus.bready.eq(wb), bus.arvalid.eq(ar), bus.araddr.eq(tag), bus.arprot.eq(0),
            bus.rready.eq(wr),
        ]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += aw.eq(0)
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += w.eq(0)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += [wb.eq(0), acc.eq(acc ^ bus.bresp)]
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += ar.eq(0)
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += [wr.eq(0), acc.eq(acc ^ bus.rdata[:8])]
        with m.If(~aw & ~w & ~ar & ~wb & ~wr):
            with m.If(irq[4]):
                m.d.sync += [aw.eq(1), w.eq(1), wb.eq(1), seq.eq(seq + 1)]
            with m.Elif(irq[5]):
                m.d.sync += [ar.eq(1), wr.eq(1), seq.eq(seq + 1)]

        # A fault: every register of the lane's own logic takes any value (the last
        # assignment wins).
        with m.If(self.upset):
            m.d.sync += [reg.eq(AnySeq(len(reg))) for reg in
                         (acc, seq, mw, mr, maddr, mdata, aw, w, ar, wb, wr)]
        return m
