"""Lockstep's continuous processing: rollback and live resync around the lanes' state.

:class:`~ftvoter.hdl.lockstep.Lockstep` built with ``rollback`` or ``live_resync``
elaborates every lane with a state port (:func:`~ftvoter.hdl.lane_state.elaborate_with_state`)
and puts, between the lanes and the bridge, a :class:`~ftvoter.hdl.rollback.Rollback`
and a :class:`~ftvoter.hdl.resync.Resync`. Both drive the lanes' state ports and lane
memory ports (``lane.ram.undo``); this module shares them: a lane is loaded from the
checkpoint (rollback), from the reference survivor (the joiner of a resync) or from itself
(a survivor held during a resync's stop), and a rollback is not started during a resync.
"""

from amaranth.hdl import C, Cat, Mux, Signal
from amaranth.lib.wiring import Out, connect

from .lane_state import elaborate_with_state
from .resync import MAX_ROUNDS, Resync
from .rollback import Rollback
from .rollback_replay import connect_lanes_with_replay

__all__ = ["elaborate_continuous", "continuous_members"]


def continuous_members(rollback, live_resync, lanes, bus):
    """The Lockstep members of its continuous-processing options (``bus``: the lanes' bus
    signature)."""
    from amaranth.lib.wiring import In, Out
    members = {}
    if live_resync:
        members["split_bus"] = Out(bus)
    if rollback:
        members.update({"rollback": Out(1), "restoring": Out(1), "rollback_cycles": Out(16)})
    if live_resync:
        members.update({"present": In(lanes, init=(1 << lanes) - 1), "resync_busy": Out(1),
                        "resync_stop": Out(16), "resync_words": Out(32),
                        "resync_rounds": Out(8), "resync_flops": Out(32),
                        "resync_phase": Out(2), "lane_states": Out(6),
                        "lane_frozen": Out(lanes), "lane_cmd": In(1), "lane_cmd_lane": In(2),
                        "lane_cmd_op": In(3)})
    return members


def _undo_ports(units):
    rams = [getattr(unit, "ram", None) for unit in units]
    ports = [ram.undo for ram in rams if ram is not None and "undo" in ram.signature.members]
    if ports and len(ports) != len(rams):
        raise ValueError("Either every lane's RAM has a lane memory port (undo) or none does")
    return ports


def elaborate_continuous(lockstep, m, bridge, platform, *, rollback, live_resync,
                         log_depth, precopy_rounds=MAX_ROUNDS):
    """Elaborate the lanes with state ports, add the controllers; return the lanes'
    fragments (to be put under their reset and freeze like any lane)."""
    units = lockstep.units
    n = len(units)
    built = [elaborate_with_state(unit, platform) for unit in units]
    states = [state for _, state in built]
    lockstep.state_ports = states
    ports = _undo_ports(units)
    signature = ports[0].signature.flip() if ports else None
    width = states[0].width

    rb = rs = None
    if rollback:
        m.submodules.rollback = rb = Rollback(lanes=n, state_width=width, ram=signature,
                                              log_depth=log_depth)
    if live_resync:
        block_words = units[0].ram.block_words if ports else 16
        m.submodules.resync = rs = Resync(lanes=n, state_width=width, ram=signature,
                                          block_words=block_words,
                                          max_rounds=precopy_rounds)

    # --- the lanes' buses ----------------------------------------------------------------
    lanes = units if rs is None else _split_path(m, units, bridge, lockstep.split_bus)
    if rb is not None:
        accept, respond = connect_lanes_with_replay(m, lanes, bridge, rb)
    else:
        for i, unit in enumerate(lanes):
            connect(m, unit.bus, getattr(bridge, f"lane{i}_bus"))
        accept = Cat(*(bridge.online[i] & ((u.bus.awvalid & u.bus.awready) |
                                           (u.bus.wvalid & u.bus.wready) |
                                           (u.bus.arvalid & u.bus.arready))
                       for i, u in enumerate(lanes))).any()

    # --- state ports ---------------------------------------------------------------------
    for i, state in enumerate(states):
        sources = []      # (load, value), first wins
        if rb is not None:
            sources.append((rb.load[i], rb.state_in))
            m.d.comb += getattr(rb, f"state{i}").eq(state.state_out)
        if rs is not None:
            sources += [(rs.load[i], rs.state_in), (rs.pin[i], state.state_out)]
            m.d.comb += getattr(rs, f"state{i}").eq(state.state_out)
        # A frozen lane holds still, its core too (a Verilog instance has no enable for
        # the freeze to reach): its state is loaded with itself.
        sources.append((bridge.lane_freeze[i], state.state_out))
        value = sources[-1][1]
        for load, source in reversed(sources[:-1]):
            value = Mux(load, source, value)
        m.d.comb += [state.state_in.eq(value),
                     state.load.eq(Cat(*(load for load, _ in sources)).any())]

    # --- lane memory ports ---------------------------------------------------------------
    for i, port in enumerate(ports):
        users = [getattr(c, f"ram{i}") for c in (rb, rs) if c is not None]
        m.d.comb += [port.hold.eq(Cat(*(u.hold for u in users)).any()),
                     port.we.eq(Cat(*(u.we for u in users)).any())]
        waddr, wdata = users[-1].waddr, users[-1].wdata
        for user in reversed(users[:-1]):
            waddr, wdata = Mux(user.we, user.waddr, waddr), Mux(user.we, user.wdata, wdata)
        m.d.comb += [port.waddr.eq(waddr), port.wdata.eq(wdata)]
        for user in users:
            m.d.comb += [user.wr.eq(port.wr), user.wr_addr.eq(port.wr_addr),
                         user.wr_old.eq(port.wr_old), user.wr_data.eq(port.wr_data),
                         user.wr_strb.eq(port.wr_strb), user.rdata.eq(port.rdata),
                         user.dirty.eq(port.dirty), user.since.eq(port.since)]
        if rs is not None:
            ours = getattr(rs, f"ram{i}")
            m.d.comb += [port.raddr.eq(ours.raddr), port.clear.eq(ours.clear),
                         port.mark.eq(bridge.mark)]

    # --- the bridge ------------------------------------------------------------------------
    hold = []
    if rb is not None:
        hold.append(rb.restoring)
        ok = rb.ok & (~rs.busy if rs is not None else 1)
        m.d.comb += [
            rb.online.eq(bridge.online), rb.accept.eq(accept), rb.respond.eq(respond),
            rb.complete.eq(bridge.complete), rb.partial.eq(bridge.partial),
            rb.trigger.eq(bridge.rollback),
            # A state difference is a divergence in DMR; with three lanes online the vote
            # on their outputs names the odd one.
            bridge.rollback_ok.eq(ok),
            bridge.state_diverged.eq(ok & ~rb.equal &
                                     (sum(bridge.online[i] for i in range(n)) == 2)),
            lockstep.rollback.eq(bridge.rollback & ok),
            lockstep.restoring.eq(rb.restoring), lockstep.rollback_cycles.eq(rb.cycles),
        ]
    if rs is not None:
        hold.append(rs.hold)
        m.d.comb += [
            bridge.drain.eq(rs.drain),
            rs.start.eq(bridge.resync_start), rs.lane.eq(bridge.resync_lane),
            rs.rapid.eq(bridge.resync_rapid), rs.online.eq(bridge.online),
            rs.idle.eq(bridge.idle), rs.accept.eq(accept),
            bridge.resync_done.eq(rs.done), bridge.present.eq(lockstep.present),
            bridge.hw_cmd.eq(lockstep.lane_cmd), bridge.hw_cmd_lane.eq(lockstep.lane_cmd_lane),
            bridge.hw_cmd_op.eq(lockstep.lane_cmd_op),
            lockstep.resync_busy.eq(rs.busy), lockstep.resync_stop.eq(rs.stop_cycles),
            lockstep.resync_words.eq(rs.words), lockstep.resync_rounds.eq(rs.rounds),
            lockstep.resync_flops.eq(rs.flops), lockstep.resync_phase.eq(rs.phase),
            lockstep.lane_states.eq(bridge.lane_states),
            lockstep.lane_frozen.eq(bridge.lane_freeze),
        ]
    m.d.comb += bridge.hold.eq(Cat(*hold).any())
    if rs is not None:
        _dump(m, bridge, states, ports, rs)
    if rb is not None and signature is not None and signature.check:
        _check_ports(m, ports, rb)

    return [fragment for fragment, _ in built]


def _dump(m, bridge, states, ports, resync):
    """The quick-dump window: word ``dump_index`` of a lane's state vector or RAM."""
    words = -(-states[0].width // 32)
    state_word = Signal(32, name="dump_state_word")
    ram_word = Signal(32, name="dump_ram_word")
    for i, state in enumerate(states):
        padded = Cat(state.state_out, C(0, words * 32 - state.width))
        with m.If(bridge.dump_lane == i):
            m.d.comb += state_word.eq(padded.word_select(bridge.dump_index[:max(1, (words - 1)
                                                                               .bit_length())], 32))
            if ports:
                m.d.comb += ram_word.eq(ports[i].rdata)
    if ports:
        # The RAM is read through the port the resync copies with, while no resync runs.
        abits = len(ports[0].raddr)
        for port in ports:
            with m.If(~resync.busy):
                m.d.comb += port.raddr.eq(bridge.dump_index[:abits])
    m.d.comb += bridge.dump_data.eq(Mux(bridge.dump_memory, ram_word, state_word))


def _check_ports(m, ports, rb):
    """The check-bit members of the lane memory ports: the rollback's (it reads the words
    its lanes read, and puts back the old check bits with the old words)."""
    for i, port in enumerate(ports):
        ours = getattr(rb, f"ram{i}")
        m.d.comb += [ours.rd.eq(port.rd), ours.rd_addr.eq(port.rd_addr),
                     ours.rbad.eq(port.rbad), ours.wr_old_check.eq(port.wr_old_check),
                     port.wcheck.eq(ours.wcheck), port.wcheck_en.eq(ours.wcheck_en)]
        with m.If(rb.restoring):
            m.d.comb += port.raddr.eq(ours.raddr)


class _LaneSide:
    """A lane's bus as the bridge side sees it (``bus``: an initiator interface)."""

    def __init__(self, signature, name):
        self.bus = signature.create(path=(name,))


def _split_path(m, units, bridge, split_bus):
    """Route the split lane's bus to ``split_bus`` (the split path) instead of the bridge;
    return the lanes as the bridge sees them (a split lane presents nothing)."""
    sides = []
    for i, unit in enumerate(units):
        side = _LaneSide(unit.bus.signature, f"lane{i}_side")
        split = bridge.split[i]
        for name, member in unit.bus.signature.members.items():
            ours, theirs = getattr(unit.bus, name), getattr(side.bus, name)
            if member.flow == Out:
                m.d.comb += theirs.eq(Mux(split, 0, ours))
                with m.If(split):
                    m.d.comb += getattr(split_bus, name).eq(ours)
            else:
                m.d.comb += ours.eq(Mux(split, getattr(split_bus, name), theirs))
        sides.append(side)
    return sides
