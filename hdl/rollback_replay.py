"""The lanes' buses during rollback: the last response offered again, the handshakes seen.

With rollback (:mod:`ftvoter.hdl.rollback`) a checkpoint may come before a response the
lanes then took (a B or R beat); after the rollback the lanes wait for it again. It is
not asked of the path again (no read is repeated): :func:`connect_lanes_with_replay`
records every response the lanes take and, on the rollback's ``replay``, offers it to
every online lane until each has taken it, while the bridge's own responses wait.
"""

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib.wiring import Out

__all__ = ["connect_lanes_with_replay"]

_B = ("bvalid", "bready", ("bresp",))
_R = ("rvalid", "rready", ("rresp", "rdata"))


def connect_lanes_with_replay(m, units, bridge, rollback):
    """Connect each lane's bus to the bridge's port through the replay; return
    ``(accept, respond)``: an online lane's request handshake, response handshake, at
    this clock edge."""
    online = bridge.online
    buses = [unit.bus for unit in units]
    ports = [getattr(bridge, f"lane{i}_bus") for i in range(len(units))]
    replayed = {name for valid, ready, payload in (_B, _R) for name in (valid, ready, *payload)}
    for bus, port in zip(buses, ports, strict=True):
        for name, member in bus.signature.members.items():
            if name in replayed:
                continue
            if member.flow == Out:
                m.d.comb += getattr(port, name).eq(getattr(bus, name))
            else:
                m.d.comb += getattr(bus, name).eq(getattr(port, name))
    first = [online[i] & (~online[:i].any() if i else 1) for i in range(len(units))]
    accept = Cat(*(online[i] & ((bus.awvalid & bus.awready) | (bus.wvalid & bus.wready) |
                                (bus.arvalid & bus.arready))
                   for i, bus in enumerate(buses))).any()
    taken = []
    last_r = Signal(name="replay_last_r")     # the last response taken was an R
    for valid, ready, payload in (_B, _R):
        is_r = valid == "rvalid"
        record = {name: Signal.like(getattr(ports[0], name), name=f"replay_{name}")
                  for name in payload}
        pending = Signal(len(units), name=f"replay_{valid}")   # lanes still to take it
        for i, (bus, port) in enumerate(zip(buses, ports, strict=True)):
            mine = pending[i]
            m.d.comb += [
                getattr(bus, valid).eq(Mux(mine, 1, getattr(port, valid))),
                getattr(port, ready).eq(getattr(bus, ready) & ~mine),
            ]
            for name in payload:
                m.d.comb += getattr(bus, name).eq(Mux(mine, record[name], getattr(port, name)))
            handshake = getattr(bus, valid) & getattr(bus, ready) & online[i]
            taken.append(handshake)
            with m.If(handshake & mine):
                m.d.sync += pending[i].eq(0)
            # Record what the first online lane takes from the bridge.
            with m.If(first[i] & handshake & ~mine):
                m.d.sync += [last_r.eq(is_r),
                             *(record[name].eq(getattr(port, name)) for name in payload)]
        with m.If(rollback.replay & (last_r if is_r else ~last_r)):
            m.d.sync += pending.eq(online)
    return accept, Cat(*taken).any()
