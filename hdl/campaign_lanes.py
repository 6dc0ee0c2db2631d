"""The campaign bench's lane copies (state ports, lane RAMs) and its event stream checks.

At a load the faulty copy's lanes take the golden copy's state: the cores with a state port
(a :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`) through it, the lane RAMs with a
memory port (:class:`~ftvoter.hdl.units.memory.MemoryCopySignature`) block by block with
a :class:`~ftvoter.hdl.mem_copy.MemoryCopier`; at a restart the RAMs are restored from
their initial contents. Registers written in Amaranth are copied by
:func:`~ftvoter.hdl.state_load.insert_loads`.
"""

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib import memory
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import Out

from .encodings import NEVER
from .mem_copy import MemoryCopier

__all__ = ["Events", "StreamCheck", "lane_outputs", "lane_pairs", "load_lane_states",
           "has_state_ports",
           "copy_lane_memories", "ram_differs"]


class Events:
    """The requests a system sends down one path: completed writes, accepted reads."""

    def __init__(self, m, bus, name):
        aw_addr = Signal.like(bus.awaddr, name=f"{name}_aw_addr")
        w_data = Signal(len(bus.wdata) + len(bus.wstrb), name=f"{name}_w_data")
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += aw_addr.eq(bus.awaddr)
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += w_data.eq(Cat(bus.wdata, bus.wstrb))
        # A write is complete at its B handshake, a read is accepted at its AR handshake.
        self.write_valid = bus.bvalid & bus.bready
        self.write = Cat(aw_addr, w_data)
        self.read_valid = bus.arvalid & bus.arready
        self.read = bus.araddr


class StreamCheck:
    """Compare the faulty system's event stream, in order, with the golden one.

    Golden events wait in a FIFO until the faulty system makes its own; the faulty one
    may lag (it is stalled or halted) but never differ or run ahead.
    """

    def __init__(self, m, name, golden_valid, golden, faulty_valid, faulty, depth=8):
        m.submodules[f"{name}_fifo"] = fifo = SyncFIFOBuffered(width=len(golden), depth=depth)
        self.wrong = Signal(name=f"{name}_wrong")          # this cycle
        self.overflow = Signal(name=f"{name}_overflow")    # sticky
        self.lag = Signal(range(depth + 2), name=f"{name}_lag")
        bypass = ~fifo.r_rdy
        expected = Mux(bypass, golden, fifo.r_data)
        have = Mux(bypass, golden_valid, 1)
        m.d.comb += [
            fifo.w_data.eq(golden),
            fifo.w_en.eq(golden_valid & ~(bypass & faulty_valid)),
            fifo.r_en.eq(faulty_valid & ~bypass),
            self.wrong.eq(faulty_valid & (~have | (expected != faulty))),
            self.lag.eq(fifo.level + (golden_valid & ~faulty_valid & bypass)),
        ]
        with m.If(fifo.w_en & ~fifo.w_rdy):
            m.d.sync += self.overflow.eq(1)


def lane_pairs(golden, faulty):
    """The lanes of two copies of a lockstep system, pairwise."""
    return list(zip(golden.units, faulty.units, strict=True))


def _stand_or_load(m, golden_port, faulty_ports, loads, loading, data, load, slot=None,
                   key=None):
    """Drive state ports: while ``loading``, the golden one and every faulty one not
    loading load their own state (they stand still), the loading one the golden one's;
    at a checkpoint ``slot``'s restore, every one its slice of the checkpoint (``key``)."""
    def restored(value):
        return value if slot is None else slot.state_in(key, value)
    when = loading if slot is None else slot.state_load(loading)
    source = getattr(golden_port, data[0])
    m.d.comb += [getattr(golden_port, data[1]).eq(restored(source)),
                 getattr(golden_port, load).eq(when)]
    for port, mine in zip(faulty_ports, loads, strict=True):
        m.d.comb += [getattr(port, data[1]).eq(restored(Mux(mine, source,
                                                            getattr(port, data[0])))),
                     getattr(port, load).eq(when)]


def load_lane_states(m, golden, faulties, loads, loading, slot=None):
    """At the load of a faulty copy (``loads``, one per copy), load its lanes' state ports
    from the golden ones'; every other copy stands still through its own.

    Systems built with rollback own their lanes' state ports (``state_ports``, known
    once elaborated): the load goes through their second input (``ext_in``). A checkpoint
    ``slot`` (:mod:`~ftvoter.hdl.campaign_ckpt`) loads every copy from itself at a
    restore."""
    if golden.state_ports is not None:
        for i, g in enumerate(golden.state_ports):
            _stand_or_load(m, g, [f.state_ports[i] for f in faulties], loads, loading,
                           ("state_out", "ext_in"), "ext_load")
        return
    for i, g in enumerate(golden.units):
        core = getattr(g, "core", None)
        if core is None or "state_out" not in core.signature.members:
            continue
        _stand_or_load(m, g.core, [f.units[i].core for f in faulties], loads, loading,
                       ("state_out", "state_in"), "state_load", slot, ("core", i))


def copy_lane_memories(m, golden, faulties, restart_pulse, load_pulses, slot=None):
    """Copy the lane RAMs at a load (golden to the loading faulty copy) and a restart
    (image to every copy); return ``restoring`` and ``copying`` (a copy is under way) and
    ``targets`` (per faulty copy: it is the one loading). A checkpoint ``slot`` makes the
    images writable (:meth:`~ftvoter.hdl.campaign_ckpt.CheckpointSlot.image`)."""
    restoring, copying = Signal(), Signal()
    targets = [Signal(name=f"copy_target{k}") for k in range(len(faulties))]
    load_pulse = Cat(*load_pulses).any()
    mode = Signal()     # 1: restoring from the image
    with m.If(restart_pulse):
        m.d.sync += mode.eq(1)
    with m.Elif(load_pulse):
        m.d.sync += [mode.eq(0), *(t.eq(p) for t, p in zip(targets, load_pulses, strict=True))]
    busy = []
    for i, g in enumerate(golden.units):
        ram = getattr(g, "ram", None)
        if ram is None or "copy" not in ram.signature.members:
            continue
        gc, fcs = g.ram.copy, [f.units[i].ram.copy for f in faulties]
        sig = gc.signature
        copier = MemoryCopier(abits=sig.abits, data_width=sig.data_width,
                              blocks=sig.blocks, block_words=g.ram.block_words)
        rom = memory.Memory(shape=sig.data_width, depth=g.ram.depth, init=g.ram.init)
        m.submodules[f"lane{i}_copier"] = copier
        m.submodules[f"lane{i}_image"] = rom
        image = rom.read_port(domain="comb")
        touched = Signal(sig.blocks, name=f"lane{i}_touched")  # written since restart
        # Per faulty copy: blocks the golden twin wrote since the copy's last load, that
        # another copy's load took out of the golden twin's dirty map.
        since = [Signal(sig.blocks, name=f"lane{i}_since{k}") for k in range(len(fcs))]
        everything = gc.dirty
        loaded = gc.dirty
        for fc, pulse, old in zip(fcs, load_pulses, since, strict=True):
            everything = everything | fc.dirty
            loaded = loaded | Mux(pulse, old | fc.dirty, 0)
        m.d.comb += [
            copier.start.eq(restart_pulse | load_pulse),
            copier.blocks.eq(Mux(restart_pulse, touched | everything, loaded)),
            image.addr.eq(copier.src_addr),
            gc.raddr.eq(copier.src_addr),
            copier.src_data.eq(Mux(mode, image.data, gc.rdata)),
            gc.clear.eq(copier.start),
            gc.waddr.eq(copier.waddr), gc.wdata.eq(copier.wdata),
            gc.we.eq(copier.we & mode),
        ]
        for fc, pulse, target in zip(fcs, load_pulses, targets, strict=True):
            m.d.comb += [fc.clear.eq(restart_pulse | pulse),
                         fc.waddr.eq(copier.waddr), fc.wdata.eq(copier.wdata),
                         fc.we.eq(copier.we & (mode | target))]
        with m.If(restart_pulse):
            m.d.sync += [touched.eq(0), *(old.eq(0) for old in since)]
        with m.Elif(load_pulse):
            m.d.sync += touched.eq(touched | loaded)
            for pulse, old in zip(load_pulses, since, strict=True):
                m.d.sync += old.eq(Mux(pulse, 0, old | gc.dirty))
        if slot is not None:    # a save writes the blocks its load copies into the image
            slot.image(m, i, rom, touched, copier, mode, loaded, g.ram.block_words)
        busy.append(copier.busy)
    if busy:
        m.d.comb += [restoring.eq(mode & Cat(*busy).any()),
                     copying.eq(~mode & Cat(*busy).any())]
    return restoring, copying, targets


def ram_differs(run, i, g, f):
    """Return "lane ``i``'s RAM may differ from its golden twin's": the faulty lane
    wrote something else, or has not yet made every write the golden lane made."""
    ram = getattr(g, "ram", None)
    if ram is None or "copy" not in ram.signature.members:
        return 0
    events = []
    for bus in (g.ram.bus, f.ram.bus):
        events.append((bus.awvalid & bus.wvalid & ~bus.bvalid,
                       Cat(bus.awaddr, bus.wdata, bus.wstrb)))
    check = StreamCheck(run, f"lane{i}_ram", *events[0], *events[1])
    wrong = Signal(name=f"lane{i}_ram_wrong")
    with run.If(check.wrong):
        run.d.sync += wrong.eq(1)
    return wrong | check.overflow | (check.lag != 0)


def first_cycle(run, output, event, cycle):
    """Record in ``output`` the first ``cycle`` with ``event`` (``output`` starts at NEVER)."""
    with run.If(event & (output == NEVER)):
        run.d.sync += output.eq(cycle)


def lane_outputs(bus, self_error, raw):
    """A lane's outputs as its checker compares them.

    The voting bridge compares payloads only while valid; the delayed-lockstep comparator
    (``raw``) compares every output bit.
    """
    if raw:
        return Cat(*(value for path, member, value in bus.signature.flatten(bus)
                     if member.flow == Out), self_error)
    return Cat(
        Mux(bus.awvalid, Cat(bus.awaddr, bus.awprot), 0), bus.awvalid,
        Mux(bus.wvalid, Cat(bus.wdata, bus.wstrb), 0), bus.wvalid, bus.bready,
        Mux(bus.arvalid, Cat(bus.araddr, bus.arprot), 0), bus.arvalid, bus.rready,
        self_error)


def instrumented_bridge(system):
    """The system's bridge if it has a state port (an instrumented bridge), else None."""
    bridge = getattr(system, "bridge", None)
    if bridge is None or "state_out" not in bridge.signature.members:
        return None
    return bridge


def has_state_ports(system):
    """Whether the system has state ports the bench loads: cores given as netlists, an
    instrumented bridge (their flip-flops are no Amaranth registers)."""
    return instrumented_bridge(system) is not None or any(
        getattr(unit, "core", None) is not None and
        "state_out" in unit.core.signature.members for unit in system.units)


def load_bridge_state(m, golden, faulties, loads, loading, slot=None):
    """At the load of a faulty copy, its instrumented bridge takes the golden one's state,
    and every other copy stands still (it loads its own); return, per faulty copy, "the
    bridges' states differ" (0 without an instrumented bridge)."""
    g = instrumented_bridge(golden)
    if g is None:
        return [0] * len(faulties)
    bridges = [instrumented_bridge(f) for f in faulties]
    _stand_or_load(m, g, bridges, loads, loading, ("state_out", "state_in"), "state_load",
                   slot, ("bridge",))
    return [g.state_out != f.state_out for f in bridges]
