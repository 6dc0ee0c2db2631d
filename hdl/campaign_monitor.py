"""The campaign bench's monitors of one faulty copy: what a classification needs, online.

Each faulty copy of a :class:`~ftvoter.hdl.campaign.CampaignBench` is compared with the
one golden copy every cycle by its own monitors: first detection, first divergence of a
lane output, first wrong request on a path, the state still differing, the faulty copy's
reaction, and the end of the run (``done``). The monitors live in a module (``run``) that
the bench clears at the start of the copy's run.
"""

from amaranth.hdl import Cat, Signal

from .campaign_lane_faults import drive_lane_faults
from .campaign_lanes import Events, StreamCheck, ram_differs
from .campaign_lanes import first_cycle as _first
from .campaign_lanes import lane_outputs as _outputs
from .encodings import NEVER
from .inject import FaultModel

__all__ = ["monitor_copy"]


def monitor_copy(m, run, golden, faulty, layout, *, q, cycle, paths, bridge_differs, seen,
                 done, done_seq, name):
    """Build the monitors of ``faulty`` against ``golden``; return the record's fields.

    ``m`` is the bench's module, ``run`` the copy's module cleared at each run's start,
    ``layout`` the record's :class:`~amaranth.lib.data.StructLayout`, ``q`` the run's
    latched injection fields, ``cycle`` the bench's cycle counter, ``seen`` the run's
    ``seq``; ``done`` and ``done_seq`` are driven here (in ``run``). The record's ``cycle``
    field is left to the bench to drive. Also return "the run ends at the next edge" (if
    ``run`` is neither held nor cleared).
    """
    r = {field: Signal(f.shape, name=f"{name}_{field}",
                       init=NEVER if field.endswith("_at") else 0)
         for field, f in layout}
    detected = _monitor_detection(m, run, faulty, r, cycle)
    _monitor_lanes(run, golden, faulty, r, cycle, bridge_differs)
    _monitor_paths(m, run, golden, faulty, r, cycle, paths)
    settled = drive_lane_faults(m, run, faulty, q, r, cycle)
    ending = _end_run(m, run, faulty, q, r, cycle, detected, settled, seen, done, done_seq)
    return r, ending


def _monitor_detection(m, run, faulty, r, cycle):
    """Record the first ``mismatch`` and ``self_error``; return "the fault was detected"."""
    detected = Signal()
    _first(run, r["mismatch_at"], faulty.mismatch, cycle)
    if "rollback" in faulty.signature.members:
        with run.If(faulty.rollback & ~r["rollbacks"].all()):
            run.d.sync += r["rollbacks"].eq(r["rollbacks"] + 1)
        m.d.comb += r["rollback_cycles"].eq(faulty.rollback_cycles)
    _first(run, r["self_error_at"], faulty.self_error.any(), cycle)
    checker = faulty.checker_error if "checker_error" in faulty.signature.members else 0
    _first(run, r["checker_at"], checker, cycle)
    m.d.comb += detected.eq((r["mismatch_at"] != NEVER) | (r["self_error_at"] != NEVER) |
                            (r["checker_at"] != NEVER))
    return detected


def _monitor_lanes(run, golden, faulty, r, cycle, bridge_differs):
    """Compare each lane's outputs and state with the golden copy's same lane."""
    differs = Signal(golden.lanes)
    for i, (g, f) in enumerate(zip(golden.units, faulty.units, strict=True)):
        raw = faulty.bridge is None
        run.d.comb += differs[i].eq(_outputs(g.bus, g.self_error, raw) !=
                                    _outputs(f.bus, f.self_error, raw))
        g_state = Cat(*(register for _, register in g.site_registers()))
        f_state = Cat(*(register for _, register in f.site_registers()))
        ram_differs_ = ram_differs(run, i, g, f)
        run.d.comb += r["state_differs"][i].eq((g_state != f_state) | ram_differs_)
    run.d.comb += r["bridge_differs"].eq(bridge_differs)
    with run.If(differs.any() & (r["diverged_at"] == NEVER)):
        run.d.sync += [r["diverged_at"].eq(cycle), r["diverged"].eq(differs)]


def _monitor_paths(m, run, golden, faulty, r, cycle, paths):
    """Compare the requests on the paths with the golden copy's, in order; report status."""
    # A system that rolls back re-executes, one that resyncs a lane stops for it: it
    # falls behind by what it redid, or by the stop.
    deep = any(name in faulty.signature.members for name in ("rollback", "lane_cmd"))
    wrong, overflow, lag = [], [], []
    for j in range(paths):
        g = Events(run, getattr(golden, f"path{j}_bus"), f"golden{j}")
        f = Events(run, getattr(faulty, f"path{j}_bus"), f"faulty{j}")
        for kind in ("write", "read"):
            check = StreamCheck(run, f"{kind}{j}", getattr(g, f"{kind}_valid"),
                                getattr(g, kind), getattr(f, f"{kind}_valid"),
                                getattr(f, kind), depth=64 if deep else 8)
            wrong.append(check.wrong)
            overflow.append(check.overflow)
            lag.append(check.lag)
        with run.If((g.write_valid | g.read_valid) & ~r["golden_requests"].all()):
            run.d.sync += r["golden_requests"].eq(r["golden_requests"] + 1)
    _first(run, r["io_wrong_at"], Cat(*wrong).any(), cycle)
    m.d.comb += [
        r["lag"].eq(sum(lag)),
        r["lag_overflow"].eq(Cat(*overflow).any()),
        r["online"].eq(faulty.online),
    ]
    if faulty.bridge is not None:
        m.d.comb += r["halted"].eq(faulty.halted)


def _end_run(m, run, faulty, q, r, cycle, detected, settled, seen, done, done_seq):
    """Raise ``done`` once the outcome is settled or the window is over."""
    start, window = q["start"], q["window"]
    over = Signal()
    with m.If(~q["arm"]):
        m.d.comb += over.eq(1)
    with m.Elif(q["model"] == FaultModel.FLIP):
        m.d.comb += over.eq(cycle > start)
    with m.Elif(q["duration"] != 0):
        m.d.comb += over.eq(cycle > start + q["duration"])
    converged = Signal()
    m.d.comb += converged.eq(over & settled & (r["diverged_at"] == NEVER) & ~detected &
                             (r["io_wrong_at"] == NEVER) & ~r["state_differs"].any() &
                             ~r["bridge_differs"])
    reacted = Signal()
    if faulty.bridge is not None:
        m.d.comb += reacted.eq(detected & (faulty.halted | ~faulty.online.all()))
    else:
        m.d.comb += reacted.eq(detected)
    end = Signal()
    m.d.comb += end.eq((cycle >= start + window) | converged | reacted)
    ending = Signal()
    m.d.comb += ending.eq(end & ~done)
    with run.If(ending):
        run.d.sync += [done.eq(1), done_seq.eq(seen)]
    return ending
