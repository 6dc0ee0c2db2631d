"""A campaign's outcome table: counts per outcome and latency percentiles.

The percentiles are :func:`ftvoter.analysis.stats.latency`'s (nearest rank, the one
implementation the report uses too), given in the latencies' own type: cycles stay
integers.
"""

from ftvoter.analysis.stats import describe_stop, latency

from .outcomes import OUTCOMES

__all__ = ["summary", "format_summary"]

_LATENCIES = ("detection_latency", "propagation_latency")
_FIGURES = ("min", "p50", "p90", "p99", "max")


def _percentiles(values):
    """``n``, ``min``, ``p50``, ``p90``, ``p99`` and ``max`` of ``values``, or ``None``."""
    figures = latency(values)
    if figures is None:
        return None
    kind = int if all(isinstance(value, int) for value in values) else float
    return {"n": figures["n"], **{key: kind(figures[key]) for key in _FIGURES}}


def summary(records):
    """Return outcome counts and latency percentiles of a campaign's records."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    latencies = {key: [] for key in _LATENCIES}
    for record in records:
        counts[record["outcome"]] += 1
        for key, values in latencies.items():
            if record.get(key) is not None:
                values.append(record[key])
    stops = [r["resync_stop"] for r in records if r.get("resync_stop") is not None]
    return {"injections": len(records), "outcomes": counts,
            "escaped": sum(bool(record.get("escaped")) for record in records),
            **{key: _percentiles(values) for key, values in latencies.items()},
            # Lane faults only: the survivors' stop of each live resync.
            **({"resync_stop": _percentiles(stops)} if stops else {})}


def format_summary(figures, title):
    """Return a text table of :func:`summary` figures."""
    total = figures["injections"] or 1
    lines = [title, f"  {'outcome':<12} {'count':>7} {'share':>7}"]
    for outcome, count in figures["outcomes"].items():
        lines.append(f"  {outcome:<12} {count:>7} {100 * count / total:>6.1f}%")
    planned = figures.get("planned")
    lines.append(f"  {'total':<12} {figures['injections']:>7}"
                 + (f" of {planned} planned (incomplete)"
                    if planned is not None and figures["injections"] < planned else ""))
    if "escaped" in figures:
        escaped = figures["escaped"]
        lines.append(f"  {'escaped':<12} {escaped:>7} {100 * escaped / total:>6.1f}%  (a "
                     f"wrong request reached a path before any detection: sdc, late)")
    stop = figures.get("stop")
    if stop and stop.get("rule") in ("interval", "limit", "sample_size"):
        lines.append(f"  {'stopped by':<12} {describe_stop(stop)}")
    for key in (*_LATENCIES, *(["resync_stop"] if "resync_stop" in figures else [])):
        p = figures[key]
        name = key.replace("_", " ")
        if p is None:
            lines.append(f"  {name}: none")
        else:
            lines.append(f"  {name} (cycles, n={p['n']}): min {p['min']}, p50 {p['p50']}, "
                         f"p90 {p['p90']}, p99 {p['p99']}, max {p['max']}")
    return "\n".join(lines)

