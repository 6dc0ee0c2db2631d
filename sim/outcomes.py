"""Outcome classes of an injection (DESIGN.md §4), from the campaign bench's record.

The bench (:class:`ftvoter.hdl.campaign.CampaignBench`) compares a faulty copy of the
system with a golden copy every cycle and records first-event cycles; this module turns
one record into an outcome. It is pure Python, so the rules are tested on hand-made
records as well as on simulations.
"""

from ftvoter.analysis.files import OUTCOMES
from ftvoter.hdl.encodings import LANE_FAULTS, NEVER  # NEVER: "did not happen"

__all__ = ["OUTCOMES", "NEVER", "classify"]

#: A faulty system this many requests behind the golden one, undetected, is hung.
HANG_LAG = 2


def _at(record, key):
    value = record[key]
    return None if value == NEVER else value


def classify(record, injection, *, lanes, detection_only=False):
    """Return the result line of one injection: its outcome and latencies.

    ``record`` is the bench's record (``*_at`` cycles, lane masks), ``injection`` the
    injection (``start``, ``lane`` or ``None`` for a bridge site, ``common``).

    Rules, in order:

    - detected (``mismatch``, a lane's ``self_error``, or the checker's own
      ``checker_error``: a failed self-test, a self-checking bridge's copies disagreeing;
      ``detected_by`` says which came first): a wrong request had already
      reached a path before the detection → ``late`` (decided first: whatever the
      bridge did next, the wrong output is out); the system rolled back (a design built
      with rollback), kept every lane online and did not halt, no wrong request reached
      a path and it is not hung (it may lag behind the golden run by what it
      re-executed, but not by more than the bench's monitors hold) → ``recovered`` (its
      detection may be a state comparison, with no lane output diverged); no lane
      output diverged from the
      golden run → ``false_alarm``; a lane was taken out that the fault did not hit →
      ``wrong_lane``; the faulty lane was taken out →
      ``corrected`` (three lanes, outvoted) or ``isolated``; the bridge halted, or the
      design only detects (``detection_only``: delayed lockstep, whose ``mismatch`` is
      the system's signal to stop) → ``halted``; a detection nothing acted on is
      classified as if undetected;
    - not detected: a request differed from the golden run's → ``sdc``; the system fell
      behind (stalled) → ``hang``; a lane output or the lanes' state still differs →
      ``latent`` (for a bridge site: the bridge's state); otherwise ``masked``.

    Lane faults (``remove-insert``, ``unplug``: a lane out for the duration, then inserted
    by a live resync) are not detected by a comparison; undetected, they end ``sdc`` (a
    wrong request), ``hang`` (the system fell more behind than the monitors hold: the
    survivors' stop makes them lag a little), ``recovered`` (every lane online again: the
    lane came back without a restart) or ``isolated`` (it did not come back in the
    window). Their results also give ``resync_stop`` (the survivors' stop in cycles, of
    the last resync) and ``resync_words``.

    ``escaped`` is true when a wrong request reached a path before the detection (only
    delayed lockstep, which checks after the fact, and faults beyond the checks can).
    Latencies are in cycles from the injection's ``start``: detection to the first
    ``mismatch`` or ``self_error``, propagation to the first lane output that differs
    from the golden run, ``io_latency`` to the first wrong request.
    """
    start = injection["start"]
    mismatch, self_error = _at(record, "mismatch_at"), _at(record, "self_error_at")
    checker = _at(record, "checker_at") if "checker_at" in record else None
    detected_at = min((c for c in (mismatch, self_error, checker) if c is not None),
                      default=None)
    diverged_at, io_wrong_at = _at(record, "diverged_at"), _at(record, "io_wrong_at")
    everyone = (1 << lanes) - 1
    if injection.get("common"):
        hit = everyone
    elif injection.get("lane") is None:
        hit = 0
    else:
        hit = 1 << injection["lane"]
    offline = everyone & ~record["online"]

    outcome = None
    escaped = io_wrong_at is not None and (detected_at is None or io_wrong_at < detected_at)
    if detected_at is not None:
        if escaped:
            outcome = "late"
        elif (record.get("rollbacks") and not record["halted"] and not offline and
              io_wrong_at is None and not record["lag_overflow"]):
            outcome = "recovered"
        elif diverged_at is None:
            outcome = "false_alarm"
        elif offline & ~hit:
            outcome = "wrong_lane"
        elif offline:
            outcome = "corrected" if lanes == 3 and mismatch is not None else "isolated"
        elif record["halted"] or detection_only:
            outcome = "halted"
    lane_fault = injection.get("model") in LANE_FAULTS
    if outcome is None and lane_fault:
        if io_wrong_at is not None:
            outcome = "sdc"
        elif record["lag_overflow"]:
            outcome = "hang"
        elif record["halted"]:
            outcome = "halted"
        else:
            outcome = "isolated" if offline else "recovered"
    if outcome is None:     # undetected, or detected and nothing acted on it
        if io_wrong_at is not None:
            outcome = "sdc"
        elif record["lag_overflow"] or record["lag"] >= HANG_LAG:
            outcome = "hang"
        elif diverged_at is not None or record["state_differs"] or \
                record.get("bridge_differs"):
            outcome = "latent"
        else:
            outcome = "masked"

    def latency(cycle):
        return None if cycle is None else cycle - start

    return {
        "outcome": outcome,
        "detection_latency": latency(detected_at),
        "propagation_latency": latency(diverged_at),
        "io_latency": latency(io_wrong_at),
        "escaped": escaped,
        "detected_by": (None if detected_at is None else
                        "mismatch" if detected_at == mismatch else
                        "self_error" if detected_at == self_error else "checker"),
        "offline": [i for i in range(lanes) if offline >> i & 1],
        "end_cycle": record["cycle"],
        "rollbacks": record.get("rollbacks", 0),
        "rollback_cycles": record.get("rollback_cycles") if record.get("rollbacks") else None,
        **({"resync_stop": record["resync_stop"] if record.get("resyncs") else None,
            "resync_words": record["resync_words"] if record.get("resyncs") else None}
           if lane_fault else {}),
    }
