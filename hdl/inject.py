"""FaultInjector: saboteurs on chosen lane registers, one fault at a time, by port."""

import fnmatch

from amaranth.hdl import Array, Const, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .encodings import FAULT_MODELS
from .sabotage import SaboteurSignature

__all__ = ["FaultInjector", "FaultModel", "Site", "lane_sites", "bridge_sites"]


class FaultModel(enum.Enum, shape=2):
    """What a fault does to the masked bits of its register (encoding:
    :data:`~ftvoter.hdl.encodings.FAULT_MODELS`)."""
    FLIP = FAULT_MODELS["flip"]        #: single-event upset: the bits flip at the start
    #: cycle (duration unused)
    STUCK0 = FAULT_MODELS["stuck0"]    #: the bits are forced to 0 at every clock edge of
    #: the window
    STUCK1 = FAULT_MODELS["stuck1"]    #: the bits are forced to 1 at every clock edge of
    #: the window


class Site:
    """One fault site: a register with a stable name.

    A lane register is named ``lane<i>.<register>`` (``lane`` is the lane number); a
    bridge register ``bridge.<register>`` (``lane`` is ``None``). Its bits are named
    ``<name>[<bit>]``. ``owner`` is the component whose ``attach_saboteurs`` takes the
    saboteur.
    """

    def __init__(self, lane, register, signal, owner=None):
        self.lane, self.register, self.signal, self.owner = lane, register, signal, owner
        self.name = f"lane{lane}.{register}" if lane is not None else f"bridge.{register}"
        self.width = len(Value.cast(signal))

    def as_dict(self):
        return {"name": self.name, "lane": self.lane, "register": self.register,
                "width": self.width}


def lane_sites(units, patterns=("*",)):
    """Return the :class:`Site` list of lane components whose names match ``patterns``.

    ``units`` are lanes offering ``site_registers()`` (such as
    :class:`~ftvoter.hdl.units.workload.WorkloadLane`); patterns are shell-style, matched
    against the site name (``lane1.regfile.*``) or the register name (``regfile.r*``).
    """
    sites = []
    for lane, unit in enumerate(units):
        if not hasattr(unit, "site_registers"):
            raise TypeError(f"Lane must offer site_registers() to take faults, not {unit!r}")
        for register, signal in unit.site_registers():
            name = f"lane{lane}.{register}"
            if any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(register, p)
                   for p in patterns):
                sites.append(Site(lane, register, signal, unit))
    return sites


def bridge_sites(bridge, patterns):
    """Return the :class:`Site` list of a bridge's flip-flops matching ``patterns``.

    ``bridge`` is an :class:`~ftvoter.hdl.bridge_netlist.InstrumentedBridge` (every
    flip-flop of it is a register ``write.aw_full``, ``regs.errors0_count``, ...; any other
    bridge has no sites). Only patterns that start with ``bridge.`` match: these sites are
    the checker's own, so a campaign includes them only when asked (``bridge.*``).
    """
    if not hasattr(bridge, "netlist"):
        return []
    return [Site(None, register, signal, bridge)
            for register, signal in bridge.site_registers()
            if any(p.startswith("bridge.") and fnmatch.fnmatchcase(f"bridge.{register}", p)
                   for p in patterns)]


class FaultInjector(wiring.Component):
    """Drive the saboteurs of a list of sites; one fault (possibly multi-bit) at a time.

    The injector counts cycles from reset (``cycle``). While ``arm`` is high, the fault
    described by the other inputs applies: to the register of site number ``site``, or,
    with ``common`` set, to the register of the same name in every lane (a common-cause
    fault); to the bits set in ``mask`` (several bits: a multi-bit fault); by ``model``:

    - FLIP: the bits are flipped at the clock edge that ends cycle ``start`` (a single-event
      upset; the register keeps the flipped value until it is next written);
    - STUCK0 / STUCK1: the bits are forced at every clock edge from the one ending cycle
      ``start`` for ``duration`` cycles (``duration`` 0: for ever, a permanent fault).

    Saboteurs are attached to the lanes (``attach``) before elaboration; a design built
    without an injector has no saboteur logic at all.

    Parameters
    ----------
    sites : list of Site
        The sites, in order: ``site`` is an index into this list.

    Members
    -------
    arm : In(1)
    site : In(range(len(sites)))
    mask : In(max width)
    model : In(FaultModel)
    start, duration : In(32)
    common : In(1)
    cycle : Out(32)
        Cycles since reset.
    active : Out(1)
        The fault is being applied in this cycle.

    Raises
    ------
    TypeError
        If ``sites`` is empty or not a list of :class:`Site`.
    """

    def __init__(self, sites):
        sites = list(sites)
        if not sites or not all(isinstance(site, Site) for site in sites):
            raise TypeError(f"Sites must be a non-empty list of Site, not {sites!r}")
        self._sites = sites
        width = max(site.width for site in sites)
        super().__init__({
            "arm":      In(1),
            "site":     In(range(len(sites))),
            "mask":     In(width),
            "model":    In(FaultModel),
            "start":    In(32),
            "duration": In(32),
            "common":   In(1),
            "cycle":    Out(32),
            "active":   Out(1),
        })
        self._saboteurs = [SaboteurSignature(site.width).flip().create(
            path=(f"sab_{site.name.replace('.', '_')}",))
            for site in sites]

    @property
    def sites(self):
        return self._sites

    def attach(self):
        """Attach this injector's saboteurs to the components the sites belong to."""
        for site, saboteur in zip(self._sites, self._saboteurs, strict=True):
            site.owner.attach_saboteurs({site.register: saboteur})

    def elaborate(self, platform):
        m = Module()
        cycle = self.cycle
        with m.If(~cycle.all()):
            m.d.sync += cycle.eq(cycle + 1)

        registers = sorted({site.register for site in self._sites})
        register_of = Array(Const(registers.index(site.register), range(len(registers)))
                            for site in self._sites)
        selected = Signal(range(len(registers)))
        m.d.comb += selected.eq(register_of[self.site])

        starting = Signal()
        in_window = Signal()
        elapsed = Signal(32)
        # Never while the domain is in reset: ``cycle`` still holds the count of before the
        # reset then, and a saboteur folded into a netlist's D (an instrumented core or
        # bridge, whose reset is logic in D) would beat the reset.
        armed = Signal()
        m.d.comb += [
            armed.eq(self.arm & ~ResetSignal(allow_reset_less=True)),
            elapsed.eq(cycle - self.start),
            starting.eq(armed & (cycle == self.start)),
            in_window.eq(armed & (cycle >= self.start) &
                         ((self.duration == 0) | (elapsed < self.duration))),
        ]
        flip = Signal()
        force = Signal()
        m.d.comb += [
            flip.eq(starting & (self.model == FaultModel.FLIP)),
            force.eq(in_window & (self.model != FaultModel.FLIP)),
            self.active.eq(flip | force),
        ]
        value = Mux(self.model == FaultModel.STUCK1, self.mask, 0)
        for index, (site, saboteur) in enumerate(zip(self._sites, self._saboteurs,
                                                     strict=True)):
            hit = Signal(name=f"hit_{index}")
            same = registers.index(site.register)
            m.d.comb += hit.eq((self.site == index) | (self.common & (selected == same)))
            mask = self.mask[:site.width]
            m.d.comb += [
                saboteur.flip.eq(Mux(hit & flip, mask, 0)),
                saboteur.force.eq(Mux(hit & force, mask, 0)),
                saboteur.value.eq(value[:site.width]),
            ]
        return m
