"""NetlistCore: a core given as an instrumented netlist, wrapped as an Amaranth component."""

import re

from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["NetlistCore"]


class NetlistCore(wiring.Component):
    """A core whose flip-flops are all reachable: fault sites and a state port.

    The base of the CPU cores: the subclass gives the instrumented netlist
    (:class:`~ftvoter.hdl.instrument.Instrumented`), its own members, and in
    :meth:`ports` the map from the netlist's ports to them. Every site of the netlist is a
    fault site of the core (``site_registers``, named as the netlist names it, e.g.
    ``picorv32_core.reg_pc``), and the whole state is ``state_out``/``state_in``.

    Members
    -------
    state_out : Out(state_width)
        Every flip-flop's value, in the order of :attr:`sites`.
    state_in : In(state_width), state_load : In(1)
        With ``state_load``, every flip-flop takes ``state_in`` at the clock edge.
    """

    def __init__(self, netlist, members):
        self._netlist = netlist
        width = netlist.state_width
        super().__init__({**members, "state_out": Out(width), "state_in": In(width),
                          "state_load": In(1)})
        self._saboteurs = {}
        self._probes = {site.name: Signal(site.width, name=re.sub(r"\W", "_", site.name))
                        for site in netlist.sites}

    @property
    def netlist(self):
        return self._netlist

    @property
    def sites(self):
        return self._netlist.sites

    def site_offset(self, name):
        """Position of site ``name``'s bit 0 in ``state_out``."""
        for site in self._netlist.sites:
            if site.name == name:
                return site.offset
        raise KeyError(name)

    def site_registers(self):
        """Yield ``(name, signal)`` for every flip-flop register of the core."""
        yield from self._probes.items()

    def attach_saboteurs(self, saboteurs):
        """Give sites saboteurs (``{site name: SaboteurSignature interface}``)."""
        self._saboteurs.update(saboteurs)

    def ports(self):
        """Return ``{netlist port: value}`` for every port of the netlist (subclasses)."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        flip, force, value = [], [], []
        for site in self._netlist.sites:
            saboteur = self._saboteurs.get(site.name)
            for parts, member in ((flip, "flip"), (force, "force"), (value, "value")):
                parts.append(C(0, site.width) if saboteur is None
                             else getattr(saboteur, member))
        ports = self.ports()
        for name, (direction, width) in self._netlist.ports.items():
            if name not in ports and direction == "o":
                ports[name] = Signal(width, name=f"unused_{name}")
        m.submodules.cpu = self._netlist.instance(
            ports=ports, flip=Cat(*flip), force=Cat(*force), value=Cat(*value),
            load=self.state_load, state_in=self.state_in, state_out=self.state_out)
        for site in self._netlist.sites:
            m.d.comb += self._probes[site.name].eq(
                self.state_out[site.offset:site.offset + site.width])
        return m
