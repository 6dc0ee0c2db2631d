"""Statistical stopping: sample in rounds, stop once the intervals are within the margin.

A spec with ``faults.margin``, ``faults.confidence`` and ``faults.stop = "interval"``
plans a sample in a random order, at most ``faults.count`` injections or
:data:`~ftvoter.sim.spec.STOP_LIMIT` times the sample size of Leveugle et al. (DATE 2009,
for a share of all injections in its worst case, p = 0.5; the coverage is a share of the
faults not masked, a smaller number), and runs it in rounds, as DAVOS samples: the first
round is ``faults.round`` injections, each next one as many again or a quarter of those
already run, whichever is more (:func:`round_ends`). After each round the
campaign looks at every injection so far (``sim_error`` left out) and stops when both
intervals, Wilson score intervals at the spec's confidence, are within the margin of their
estimate (:func:`decide`):

- the **coverage**: detected in time (:data:`~ftvoter.analysis.stats.COVERED`) over the
  injections that were not masked (the report's diagnostic coverage);
- the **sdc + late share**: wrong output, undetected or detected too late, over all.

"Within the margin" means the interval lies inside estimate ± margin. A round holds the
first injections of the plan by ``id``, so where a campaign stops depends only on the spec
and seed, never on the workers or on an interruption. (The intervals are not widened for
the repeated looks: a campaign may stop on a round that happened to look narrow a little
more often than the confidence says.)

Every finished campaign's manifest gets a ``stop`` object saying which rule ended it:
``interval`` (with the two intervals), ``limit`` (rounds whose intervals were not within
the margin when the most to run had run; with the intervals too), ``sample_size`` (margin
and confidence without ``stop = "interval"``: the sample sized up front ran), ``count``,
``exhaustive`` or ``explicit`` (hand-built injections).
"""

import math
from statistics import NormalDist

from ftvoter.analysis.stats import COVERED, wilson

__all__ = ["sequential", "round_ends", "intervals", "decide", "final_rule"]


def sequential(spec):
    """True if the spec samples in rounds (``faults.stop = "interval"``)."""
    return spec.faults.get("stop") == "interval"


def round_ends(total, first):
    """The plan sizes at which the rounds end: ``first``, then each round
    ``max(first, ceil(done / 4))`` more, the last one ``total``."""
    ends, done = [], 0
    while done < total:
        done = min(total, done + max(first, math.ceil(done / 4)))
        ends.append(done)
    return ends


def _share(successes, trials, z):
    low, high = wilson(successes, trials, z)
    return {"value": successes / trials if trials else None, "interval": [low, high],
            "numerator": successes, "denominator": trials}


def intervals(records, confidence):
    """The coverage and the sdc + late share of ``records``, with their Wilson intervals
    at ``confidence``: dicts of ``value``, ``interval``, ``numerator``, ``denominator``."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ran = [record["outcome"] for record in records if record["outcome"] != "sim_error"]
    covered = sum(outcome in COVERED for outcome in ran)
    effective = len(ran) - ran.count("masked")
    wrong = ran.count("sdc") + ran.count("late")
    return {"coverage": _share(covered, effective, z), "sdc_late": _share(wrong, len(ran), z)}


def _within(share, margin):
    if share["value"] is None:
        return False
    low, high = share["interval"]
    # A hair of slack for the floating point of the interval's ends.
    return max(high - share["value"], share["value"] - low) <= margin + 1e-12


def decide(records, margin, confidence):
    """Return the two :func:`intervals` and whether both are within ``margin``."""
    found = intervals(records, confidence)
    return found, all(_within(share, margin) for share in found.values())


def final_rule(spec, explicit):
    """The rule that ends a campaign that ran its whole plan."""
    if explicit:
        return "explicit"
    count = spec.faults["count"]
    if count == "exhaustive":
        return "exhaustive"
    return "count" if count is not None else "sample_size"
