"""InstrumentedBridge: a voting bridge whose every flip-flop is a fault site.

A campaign over the checker itself (sites ``bridge.*``) needs a saboteur on every
flip-flop of the bridge, its comparators, blame policy, engines, lane manager and error
registers, and a state port so that the campaign bench can load the faulty copy's bridge
from the golden one's and compare the two. The bridge (a
:class:`~ftvoter.hdl.bridge.VotingBridge` or a
:class:`~ftvoter.hdl.bridge_check.SelfCheckingBridge`) goes through the same
instrumentation as a Verilog core (:func:`~ftvoter.hdl.instrument.instrument_amaranth`),
and is instantiated back with the bridge's own signature.
"""

import re

from amaranth.hdl import ClockSignal, ResetSignal
from amaranth.lib import wiring

from .instrument import instrument_amaranth
from .units.netlist_core import NetlistCore

__all__ = ["InstrumentedBridge", "BridgeWrapper"]


class BridgeWrapper:
    """A component that wraps a bridge (``_inner``) and reads its properties (``lanes``,
    ``paths``, ``policy``, ``registers``, ...) through to it; its members are its own."""

    def __getattr__(self, name):
        if name.startswith("_") or name in self._inner.signature.members:
            raise AttributeError(name)
        return getattr(self._inner, name)


class InstrumentedBridge(BridgeWrapper, NetlistCore):
    """``bridge`` as an instrumented netlist, with ``bridge``'s members.

    Every flip-flop bit is a site named as the netlist names it below the bridge
    (``write.aw_full``, ``regs.errors0_count``; a :class:`SelfCheckingBridge`'s copies
    ``main.*`` and ``shadow.*``); :meth:`site_registers` yields them, and
    :class:`~ftvoter.hdl.inject.FaultInjector` names them ``bridge.<name>``. Memories (the
    event FIFO) stay memories: neither sites nor state. Besides the bridge's members:
    ``state_out``, ``state_in``, ``state_load`` (:class:`NetlistCore`).

    The bridge's properties (``lanes``, ``paths``, ``policy``, ``registers``, ...) are
    the wrapped bridge's.

    Parameters
    ----------
    bridge : wiring.Component
        The bridge to instrument (not elaborated elsewhere).

    Raises
    ------
    TypeError
        ``bridge`` is not a ``wiring.Component``.
    """

    def __init__(self, bridge):
        if not isinstance(bridge, wiring.Component):
            raise TypeError(f"Bridge must be an Amaranth wiring.Component, not {bridge!r}")
        netlist = instrument_amaranth(bridge, name="ftv_bridge_{digest}", memories=False)
        self._bridge = self._inner = bridge
        super().__init__(netlist, dict(bridge.signature.members))
        # Amaranth's RTLIL names a submodule ``write$332`` where its parent has a wire
        # ``write`` too: the number changes with the design, so it is left out of the
        # site name (``write.aw_full``) unless that would make two sites alike.
        names = {site.name: re.sub(r"\$\d+(?=\.)", "", site.name) for site in netlist.sites}
        if len(set(names.values())) != len(names):
            names = {name: name for name in names}
        self._names = names

    @property
    def bridge(self):
        """The wrapped bridge."""
        return self._bridge

    def site_registers(self):
        for name, register in super().site_registers():
            yield self._names[name], register

    def attach_saboteurs(self, saboteurs):
        raw = {short: name for name, short in self._names.items()}
        super().attach_saboteurs({raw.get(name, name): saboteur
                                  for name, saboteur in saboteurs.items()})

    def ports(self):
        ports = {"clk": ClockSignal(), "rst": ResetSignal()}
        for path, _, value in self.signature.flatten(self):
            name = "__".join(map(str, path))
            if name in self.netlist.ports:
                ports[name] = value
        return ports
