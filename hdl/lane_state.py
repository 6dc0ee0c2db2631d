"""The whole flip-flop state of a lane, read and loaded in one cycle (its state port).

The instrumentation (:mod:`ftvoter.hdl.instrument`) gives a Verilog or Amaranth core a
state port of its own (``state_out``/``state_in``/``state_load``, a
:class:`~ftvoter.hdl.units.netlist_core.NetlistCore`). A lane is more than its core: the
Amaranth logic around it (a CPU lane's bus split and RAM interface, a workload lane's
registers) has flip-flops too. :func:`elaborate_with_state` elaborates a lane and returns
its fragment with one state vector over all of them: every register its Amaranth logic
drives in ``sync`` (listed from the built fragment), then the state port of its core if
it has one. Memory contents are not flip-flops: a lane's RAM has a memory port
(:mod:`ftvoter.hdl.units.memory`).
"""

# Private Amaranth 0.5 internals, as in hdl/state_load.py (and checked by
# tests/test_amaranth_upstream.py): the registers a built fragment drives, and a
# statement added to it.
from amaranth.hdl import Cat, Fragment, Mux, Signal
from amaranth.hdl._ast import Switch
from amaranth.hdl._xfrm import LHSMaskCollector

__all__ = ["LaneState", "elaborate_with_state"]


class LaneState:
    """A lane's state port, made by :func:`elaborate_with_state`.

    Attributes
    ----------
    width : int
        Bits of state.
    state_out : Signal(width)
        Every flip-flop's value (the Amaranth registers first, in fragment order, then the
        core's state port).
    state_in : Signal(width), load : Signal()
        With ``load``, every flip-flop takes ``state_in`` at the clock edge (a reset of the
        lane still wins).
    ext_in : Signal(width), ext_load : Signal()
        The same, for a second user, winning over ``load`` (a campaign bench loading the
        faulty copy of a system from the golden one while the system's own rollback owns
        ``state_in``).
    names : list of (str, int, int)
        ``(register name, offset, width)`` of each part of the vector: Amaranth registers
        by their path below the lane (``ram.bvalid``), the core's by its fault-site names
        (``core.picorv32_core.reg_pc``), or ``core`` if its sites are not known.
    """

    def __init__(self, parts, core):
        self.names = []
        offset = 0
        for value, name in parts:
            self.names.append((name, offset, len(value)))
            offset += len(value)
        if core is not None:
            sites = getattr(core, "sites", None)
            if sites:
                self.names += [(f"core.{site.name}", offset + site.offset, site.width)
                               for site in sites]
            else:
                self.names.append(("core", offset, len(core.state_out)))
            offset += len(core.state_out)
        self.width = offset
        self.state_out = Signal(max(offset, 1), name="lane_state_out")
        self.state_in = Signal(max(offset, 1), name="lane_state_in")
        self.load = Signal(name="lane_state_load")
        self.ext_in = Signal(max(offset, 1), name="lane_state_ext_in")
        self.ext_load = Signal(name="lane_state_ext_load")


def _chunks(fragment, path):
    collector = LHSMaskCollector()
    collector.visit_stmt(fragment.statements["sync"])
    prefix = "".join(f"{name}." for name in path)
    for signal, start, stop in collector.chunks():
        if start == 0 and stop is None:
            yield signal, f"{prefix}{signal.name}"
        else:
            yield signal[start:stop], f"{prefix}{signal.name}[{start}:{stop}]"


def _walk(fragment, path=()):
    yield fragment, path
    for index, (subfragment, name, _) in enumerate(fragment.subfragments):
        yield from _walk(subfragment, (*path, name if name is not None else f"U${index}"))


def elaborate_with_state(lane, platform):
    """Elaborate ``lane``; return ``(fragment, LaneState)``.

    The fragment loads every register from ``state_in`` on ``load`` (a ``Switch`` added
    to each subfragment's ``sync`` statements); ``lane.core``, when it has a state port,
    is driven from the same vector. Build the lane once: the registers are those of this
    elaboration.
    """
    fragment = Fragment.get(lane, platform)
    per_fragment = [(frag, list(_chunks(frag, path))) for frag, path in _walk(fragment)
                    if "sync" in frag.statements]
    core = getattr(lane, "core", None)
    if core is None or "state_out" not in getattr(core, "signature", None).members:
        core = None
    state = LaneState([part for _, parts in per_fragment for part in parts], core)
    source = Signal.like(state.state_in, name="lane_state_source")
    load = Signal(name="lane_state_load_any")
    offset = 0
    for frag, parts in per_fragment:
        loads = []
        for value, _ in parts:
            loads.append(value.eq(source[offset:offset + len(value)]))
            offset += len(value)
        frag.add_statements("sync", Switch(load, [(1, loads, None)]))
    values = [value for _, parts in per_fragment for value, _ in parts]
    statements = [source.eq(Mux(state.ext_load, state.ext_in, state.state_in)),
                  load.eq(state.load | state.ext_load)]
    if core is not None:
        values.append(core.state_out)
        statements += [core.state_in.eq(source[offset:]), core.state_load.eq(load)]
    if values:
        statements.append(state.state_out.eq(Cat(*values)))
    fragment.add_statements("comb", *statements)
    return fragment, state
