"""The campaign bench's lane faults: a lane of the faulty copy removed and inserted again,
or unplugged and plugged in again (:data:`~ftvoter.hdl.encodings.LANE_FAULTS`), on a
system built with live resync.

An injection with ``lane_op`` set arms the fault injector with an empty mask (it changes
nothing; its ``duration`` is the time the lane is out, so the run is not over before the
lane is back). At cycle ``start`` the bench gives the faulty copy LANE_CMD REMOVE of lane
``lane_index`` (through its hardware command port), or drops the lane's presence input;
at ``start + duration`` it gives INSERT (after raising the presence input again, for an
unplug): a live resync. The record then tells the last resync's stop and words, and how
many resyncs ended in the run.
"""

from amaranth.hdl import Const, Mux, Signal

from .encodings import LANE_FAULTS, LANE_OPS

__all__ = ["lane_fault_fields", "lane_fault_record", "drive_lane_faults"]


def _live(faulty):
    return "lane_cmd" in faulty.signature.members


def lane_fault_fields(faulty):
    """The bench's injection fields for lane faults (none without live resync)."""
    return {"lane_op": 2, "lane_index": 2} if _live(faulty) else {}


def lane_fault_record(faulty):
    """The bench's record fields for lane faults (none without live resync)."""
    return {"resync_stop": 16, "resync_words": 32, "resyncs": 4} if _live(faulty) else {}


def drive_lane_faults(m, run, faulty, q, r, cycle):
    """Drive the faulty copy's lane command and presence inputs from the run's fault ``q``,
    and fill the record ``r`` (``run``: the module cleared at each run's start). Return
    "settled": no lane fault, or its lane is back online (a lane out may run on exactly
    as the golden one does, when it makes no I/O: the run must not end as converged
    before the lane is inserted)."""
    if not _live(faulty):
        return Const(1)
    lanes = len(faulty.present)
    everyone = Const((1 << lanes) - 1, lanes)
    op, lane, start = q["lane_op"], q["lane_index"], q["start"]
    back = Signal(32, name="lane_back")
    m.d.comb += back.eq(start + q["duration"])
    unplug = op == LANE_FAULTS["unplug"]
    out = (cycle >= start) & (cycle < back)
    m.d.comb += faulty.present.eq(Mux(unplug & out, everyone & ~(1 << lane), everyone))
    remove = (op == LANE_FAULTS["remove-insert"]) & (cycle == start)
    # An unplugged lane is inserted in the cycle after its presence is back.
    insert = (op != 0) & (cycle == back + unplug)
    m.d.comb += [
        faulty.lane_cmd.eq(remove | insert),
        faulty.lane_cmd_lane.eq(lane),
        faulty.lane_cmd_op.eq(Mux(remove, LANE_OPS["REMOVE"], LANE_OPS["INSERT"])),
        r["resync_stop"].eq(faulty.resync_stop),
        r["resync_words"].eq(faulty.resync_words),
    ]
    busy = Signal(name="resync_was_busy")
    run.d.sync += busy.eq(faulty.resync_busy)
    with run.If(busy & ~faulty.resync_busy & ~r["resyncs"].all()):
        run.d.sync += r["resyncs"].eq(r["resyncs"] + 1)
    settled = Signal(name="lane_settled")
    m.d.comb += settled.eq((op == 0) | ((cycle > back + 1) & faulty.online.all() &
                                        ~faulty.resync_busy))
    return settled
