"""The voting bridge's side of rollback (:mod:`ftvoter.hdl.rollback`): its members and
their connections to the blame policy, the engines and the registers."""

from amaranth.hdl import Cat
from amaranth.lib.wiring import In, Out

from .encodings import EVENT_KINDS

__all__ = ["rollback_members", "connect_rollback", "resync_members", "connect_resync"]


def rollback_members():
    """The members a bridge built with ``rollback`` adds.

    rollback_ok : In(1)
        A rollback is possible (:attr:`Rollback.ok`).
    state_diverged : In(1)
        The online lanes' states differ while they present a request: a divergence.
    hold : In(1)
        A rollback is under way: compare nothing, accept nothing, offer no response.
    rollback : Out(1)
        Roll back now (a divergence without blame, while ``rollback_ok``).
    complete, partial : Out(1)
        A transaction completes at this edge (its response taken by every online lane);
        a response has been taken by some online lanes, not all.
    """
    return {"rollback_ok": In(1), "state_diverged": In(1), "hold": In(1),
            "rollback": Out(1), "complete": Out(1), "partial": Out(1)}


def connect_rollback(m, bridge, *, policy, fanouts, regs, manager):
    """Wire a bridge's rollback members (``bridge.rollback_ok`` ...)."""
    first = Cat(*(manager.online[i] & ~manager.online[:i].any() if i else manager.online[0]
                  for i in range(bridge.lanes)))
    first_lane = sum(i * first[i] for i in range(bridge.lanes))
    m.d.comb += [
        policy.rollback_ok.eq(bridge.rollback_ok),
        policy.state_diverged.eq(bridge.state_diverged),
        bridge.rollback.eq(policy.rollback),
        bridge.complete.eq(Cat(*(fanout.complete for fanout in fanouts)).any()),
        bridge.partial.eq(Cat(*(fanout.partial for fanout in fanouts)).any()),
        regs.rollback.eq(policy.rollback),
    ]
    # A rollback is an event of its own, unless the lane manager logs one in that cycle
    # (a rollback never comes with an isolation: it is the case without blame).
    with m.If(policy.rollback & ~manager.event_valid):
        m.d.comb += [regs.event_valid.eq(1), regs.event_lane.eq(first_lane),
                     regs.event_kind.eq(EVENT_KINDS["ROLLBACK"])]



def resync_members(lanes):
    """The members a bridge built with ``live_resync`` adds.

    present : In(lanes)
        Each lane's presence input (high: plugged in); a drop removes the lane at once.
    hold : In(1)
        A resync (or rollback) holds the bridge: nothing new accepted, no response.
    drain : In(1)
        A resync waits for a transaction boundary: no new transaction is accepted (the
        missing half of a write begun still is), responses and the comparison go on.
    idle : Out(1)
        No transaction in flight.
    resync_start : Out(1), resync_lane : Out(2), resync_rapid : Out(1)
        LANE_CMD INSERT: start a live resync of the lane (rapid: only what it missed).
    resync_done : In(1)
        The resync is over: the lane is in lockstep (ONLINE) from this clock edge.
    mark : Out(1)
        A lane left the vote in this cycle.
    dump_lane : Out(2), dump_memory : Out(1), dump_index : Out(24), dump_data : In(32)
        The quick-dump window (DUMP_SELECT, DUMP_DATA): the word to read, and its value.
    lane_states : Out(6)
        Each lane's state (LANE_STATE's encoding, two bits a lane), for observation.
    split : Out(lanes)
        The lane split off (LANE_CMD SPLIT): its bus goes to the split path, not here.
    hw_cmd : In(1), hw_cmd_lane : In(2), hw_cmd_op : In(3)
        A lane command from hardware (a bench, a board's button), as LANE_CMD would give it
        (``LANE_OPS``), for one cycle; a LANE_CMD write in the same cycle wins.
    """
    return {"present": In(lanes, init=(1 << lanes) - 1), "hold": In(1), "drain": In(1),
            "idle": Out(1),
            "resync_start": Out(1), "resync_lane": Out(2), "resync_rapid": Out(1),
            "resync_done": In(1), "mark": Out(1), "dump_lane": Out(2),
            "dump_memory": Out(1), "dump_index": Out(24), "dump_data": In(32),
            "lane_states": Out(6), "split": Out(lanes), "hw_cmd": In(1), "hw_cmd_lane": In(2),
            "hw_cmd_op": In(3)}


def connect_resync(m, bridge, *, write, read, manager, regs):
    """Wire a bridge's live-resync members."""
    m.d.comb += [
        bridge.dump_lane.eq(regs.dump_lane), bridge.dump_memory.eq(regs.dump_memory),
        bridge.dump_index.eq(regs.dump_index), regs.dump_data.eq(bridge.dump_data),
        manager.absent.eq(~bridge.present),
        bridge.idle.eq(write.idle & read.idle),
        bridge.resync_start.eq(manager.resync_start),
        bridge.resync_lane.eq(manager.resync_lane),
        bridge.resync_rapid.eq(manager.resync_rapid),
        manager.resync_done.eq(bridge.resync_done),
        bridge.mark.eq(manager.mark),
        bridge.lane_states.eq(manager.state),
        bridge.split.eq(manager.split),
    ]
