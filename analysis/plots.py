"""The report's plots (PNG), with matplotlib's non-interactive backend.

Each plot is rendered in memory and written with
:func:`~ftvoter.analysis.files.write_atomic`, so an interruption never leaves a
half-written PNG.
"""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from .availability import ARCHITECTURES, evaluate, nines  # noqa: E402
from .files import OUTCOMES, write_atomic  # noqa: E402

__all__ = ["latency_plot", "outcome_plot", "sweep", "coverage_plot", "mttr_plot",
           "downtime_plot"]

COLOURS = {"masked": "#9e9e9e", "latent": "#c7b29b", "corrected": "#2e7d32",
           "isolated": "#66bb6a", "wrong_lane": "#ff9800", "recovered": "#26a69a",
           "halted": "#42a5f5",
           "late": "#f06292", "false_alarm": "#ab47bc", "sdc": "#d32f2f", "hang": "#6d4c41",
           "sim_error": "#000000"}
ARCH_LABELS = {"simplex": "simplex", "ha_cluster": "HA cluster (active/standby)",
               "dmr_lockstep": "DMR lockstep", "tmr": "TMR"}
NINES = ((4, "99.99%"), (5, "99.999%"), (6, "99.9999%"))


def _save(figure, path):
    """Render ``figure`` as PNG and write it atomically to ``path``; return ``path``."""
    figure.tight_layout()
    data = io.BytesIO()
    try:
        figure.savefig(data, format="png", dpi=110)
    finally:
        plt.close(figure)
    write_atomic(path, data.getvalue())
    return path


def latency_plot(groups, path, title, what="Detection latency", xlabel="cycles from injection",
                 share="share detected within"):
    """Detection-latency histogram and CDF, one series per group (e.g. fault model); or,
    with ``what``, ``xlabel`` and ``share``, of another duration in cycles."""
    figure, (hist, cdf) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, stats in groups.items():
        if stats is None:
            continue
        edges = np.asarray(stats["histogram"]["edges"])
        counts = np.asarray(stats["histogram"]["counts"])
        hist.stairs(counts, edges, label=f"{name} (n={stats['n']})")
        cdf.step(stats["cdf"]["x"], stats["cdf"]["p"], where="post",
                 label=f"{name}: p50 {stats['p50']:.0f}, p99 {stats['p99']:.0f}")
    hist.set(title=f"{what}: histogram", xlabel=xlabel, ylabel="injections")
    cdf.set(title=f"{what}: CDF", xlabel=xlabel, ylabel=share, ylim=(0, 1.02))
    cdf.set_xscale("symlog", linthresh=10)
    for axes in (hist, cdf):
        axes.grid(alpha=0.3)
        _legend(axes)
    figure.suptitle(title)
    return _save(figure, path)


def outcome_plot(shares_by_group, path, title):
    """Outcome breakdown per site group, as stacked horizontal bars of shares."""
    groups = list(shares_by_group)
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(groups) + 1.8))
    left = np.zeros(len(groups))
    for outcome in OUTCOMES:
        values = np.array([shares_by_group[g][outcome]["share"] for g in groups])
        if not values.any():
            continue
        axes.barh(groups, values, left=left, color=COLOURS.get(outcome), label=outcome)
        left += values
    axes.set(title=title, xlabel="share of injections", xlim=(0, 1))
    _legend(axes, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    axes.invert_yaxis()
    return _save(figure, path)


def _nines_lines(axes):
    for value, label in NINES:
        axes.axhline(value, color="grey", lw=0.8, ls="--")
        axes.annotate(label, (1, value), xycoords=("axes fraction", "data"),
                      xytext=(-4, 2), textcoords="offset points", ha="right",
                      fontsize=8, color="grey")


def sweep(parameters, name, values):
    """Availability (nines) of every architecture as parameter ``name`` takes ``values``."""
    from dataclasses import replace
    return {"parameter": name, "values": [float(v) for v in values],
            "nines": {a: [nines(evaluate(a, replace(parameters, **{name: float(v)}))
                                ["availability"]) for v in values]
                      for a in ARCHITECTURES}}


def _legend(axes, **options):
    """A legend, if anything on ``axes`` has a label (an empty one only warns)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, **options)


def _sweep_plot(data, path, title, xlabel, log=False):
    figure, axes = plt.subplots(figsize=(8, 4.5))
    perfect = []
    for architecture, values in data["nines"].items():
        values = np.asarray(values, dtype=float)
        if not np.isfinite(values).any():     # availability 1 everywhere: no finite nines
            perfect.append(ARCH_LABELS[architecture])
            continue
        axes.plot(data["values"], np.where(np.isfinite(values), values, np.nan),
                  label=ARCH_LABELS[architecture])
    _nines_lines(axes)
    if log:
        axes.set_xscale("log")
    axes.set_xlim(min(data["values"]), max(data["values"]))
    if perfect:
        axes.annotate(f"never down with these parameters: {', '.join(perfect)}",
                      (0.5, 0.5), xycoords="axes fraction", ha="center", fontsize=9)
    axes.set(title=title, xlabel=xlabel, ylabel="availability (nines)")
    axes.grid(alpha=0.3, which="both")
    _legend(axes)
    return _save(figure, path)


def coverage_plot(data, path):
    """Availability (in nines) against coverage, from :func:`sweep` data."""
    return _sweep_plot(data, path, "Availability against fault coverage",
                       "coverage (share of effective faults detected)")


def mttr_plot(data, path):
    """Availability (in nines) against the repair time, from :func:`sweep` data."""
    return _sweep_plot(data, path, "Availability against repair time", "MTTR (hours)",
                       log=True)


def downtime_plot(results, path):
    """Downtime per year (minutes) and silent corruption (FIT), per architecture."""
    names = [ARCH_LABELS[r["architecture"]] for r in results]
    figure, (down, sdc) = plt.subplots(1, 2, figsize=(11, 4))
    bars = down.bar(names, [r["downtime_minutes_per_year"] for r in results],
                    color="#42a5f5")
    down.bar_label(bars, fmt="%.3g", fontsize=8)
    down.set(title="Downtime per year", ylabel="minutes per year")
    bars = sdc.bar(names, [r["sdc_fit"] for r in results], color="#d32f2f")
    sdc.bar_label(bars, fmt="%.3g", fontsize=8)
    sdc.set(title="Silent data corruption", ylabel="FIT (per 10⁹ hours)")
    for axes in (down, sdc):
        axes.tick_params(axis="x", labelsize=8, rotation=15)
        axes.grid(alpha=0.3, axis="y")
    return _save(figure, path)
