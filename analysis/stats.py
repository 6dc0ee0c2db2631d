"""Campaign statistics: outcome shares with confidence intervals, coverage, latency.

Reads a campaign folder (``results.jsonl``, ``manifest.json``) as written by
``ftvoter campaign``; needs numpy only.
"""

import json
import math
from pathlib import Path

import numpy as np

__all__ = ["OUTCOMES", "DETECTED", "load", "wilson", "outcome_shares", "coverage",
           "latency", "site_group", "by_group", "campaign_parameters", "Z95"]

#: The outcome classes (DESIGN.md §4), in report order.
OUTCOMES = ("masked", "latent", "corrected", "isolated", "wrong_lane", "halted",
            "false_alarm", "sdc", "hang", "sim_error")
#: Outcomes in which the fault was detected.
DETECTED = ("corrected", "isolated", "wrong_lane", "halted", "false_alarm")
#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def load(directory):
    """Return ``(manifest, records)`` of a campaign folder.

    Raises ``FileNotFoundError`` if the folder holds no ``results.jsonl``, ``ValueError``
    if a line is not a result.
    """
    directory = Path(directory)
    results = directory / "results.jsonl"
    if not results.is_file():
        raise FileNotFoundError(f"{directory} holds no campaign results (results.jsonl)")
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    records = []
    for number, line in enumerate(results.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{results}:{number}: not a JSON line") from None
        if record.get("outcome") not in OUTCOMES:
            raise ValueError(f"{results}:{number}: outcome must be one of "
                             f"{', '.join(OUTCOMES)}, not {record.get('outcome')!r}")
        records.append(record)
    return manifest, records


def wilson(successes, trials, z=Z95):
    """Return the Wilson score interval ``(low, high)`` of a binomial share.

    With no trials the interval is ``(0, 1)``.
    """
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def outcome_shares(records):
    """Return, per outcome, its count, share and 95% Wilson interval (of all records)."""
    total = len(records)
    counts = {outcome: 0 for outcome in OUTCOMES}
    for record in records:
        counts[record["outcome"]] += 1
    return {outcome: {"count": count, "share": count / total if total else 0.0,
                      "interval": wilson(count, total)}
            for outcome, count in counts.items()}


def _share(k, n):
    return {"value": k / n if n else None, "interval": wilson(k, n), "numerator": k,
            "denominator": n}


def coverage(records):
    """Diagnostic coverage and the ISO 26262-style metrics, with 95% intervals.

    Over the injections that ran (``sim_error`` excluded):

    - diagnostic coverage = detected / not masked;
    - latent share = latent / all;
    - single-point fault metric SPFM = 1 - (sdc + hang) / all (faults that violate the
      goal, wrong output or no progress, undetected);
    - latent fault metric LFM = 1 - latent / (all - sdc - hang).
    """
    ran = [record for record in records if record["outcome"] != "sim_error"]
    n = len(ran)
    count = {outcome: sum(r["outcome"] == outcome for r in ran) for outcome in OUTCOMES}
    detected = sum(count[outcome] for outcome in DETECTED)
    effective = n - count["masked"]
    violating = count["sdc"] + count["hang"]
    spfm = _share(n - violating, n)
    lfm = _share(n - violating - count["latent"], n - violating)
    return {
        "injections": n,
        "diagnostic_coverage": _share(detected, effective),
        "latent_share": _share(count["latent"], n),
        "spfm": spfm,
        "lfm": lfm,
    }


def latency(values):
    """Percentiles (nearest rank), mean, a histogram and the CDF of latencies in cycles."""
    values = np.sort(np.asarray([v for v in values if v is not None], dtype=float))
    if not len(values):
        return None

    def at(q):
        return float(values[max(0, math.ceil(q * len(values)) - 1)])
    edges = np.histogram_bin_edges(values, bins=min(40, max(1, len(np.unique(values)))))
    counts, edges = np.histogram(values, bins=edges)
    return {"n": int(len(values)), "min": float(values[0]), "p50": at(0.5), "p90": at(0.9),
            "p99": at(0.99), "max": float(values[-1]), "mean": float(values.mean()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "cdf": {"x": values.tolist(),
                    "p": (np.arange(1, len(values) + 1) / len(values)).tolist()}}


def site_group(record):
    """The site group of a result: the part of the lane (``regfile``, ``scratch``,
    ``lfsr``, ``ctrl``, ``bus``) or ``bridge``."""
    if record.get("lane") is None and not record.get("common"):
        return "bridge"
    return str(record.get("register", "")).split(".")[0] or "other"


def by_group(records, key):
    """Split records by ``key(record)`` into a dict of lists, keys sorted."""
    groups = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return dict(sorted(groups.items()))


def campaign_parameters(records):
    """The availability models' shares, measured by a campaign.

    ``masked``: masked and latent (no effect in the window); ``coverage``: detected /
    effective; ``isolation``: of the detected, those after which the system went on
    (corrected or isolated). Returned as a dict for
    :class:`~ftvoter.analysis.availability.Parameters`.
    """
    ran = [record for record in records if record["outcome"] != "sim_error"]
    n = len(ran)
    if not n:
        raise ValueError("No injection ran: the campaign gives no parameters")
    count = {outcome: sum(r["outcome"] == outcome for r in ran) for outcome in OUTCOMES}
    quiet = count["masked"] + count["latent"]
    detected = sum(count[outcome] for outcome in DETECTED)
    went_on = count["corrected"] + count["isolated"]
    return {"masked": quiet / n,
            "coverage": detected / (n - quiet) if n > quiet else 1.0,
            "isolation": went_on / detected if detected else 0.0}
