"""Early against late injections on a long workload, for ``make bench``
(``ftvoter bench-checkpoint``).

With checkpoints (:mod:`ftvoter.sim.checkpoints`) an injection costs its window, not its
start cycle, so a campaign runs at the same rate whether its injections fall early or
late in the workload. The benchmark takes the first ``count`` injections of a spec's plan
(sites, bits and models as planned), puts their starts into the first 1% of the workload
and, the same way, into the last 1%, runs both as campaigns on the same bench (the
checkpoints made once before, and timed apart) and gives injections per second of each,
in the steady state (from the first shard's golden check on) and for the whole run, and
their ratios.
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .campaign import build_bench, run_campaign
from .checkpoints import checkpoint_interval, make_checkpoints
from .plan import inspect_bench, plan
from .spec import SpecError

__all__ = ["checkpoint_throughput", "print_checkpoint_throughput"]


def _placed(injections, spec, where):
    """The injections with their starts moved into the first (``where`` 0) or the last
    (1) hundredth of the workload, each at the same relative place."""
    cycles = spec.workload["cycles"]
    low, high = spec.faults["start"]["min"], spec.faults["start"]["max"]
    share = cycles // 100
    placed = []
    for injection in injections:
        offset = (injection["start"] - low) * share // (high - low + 1)
        placed.append({"site": injection["site"], "model": injection["model"],
                       "duration": injection["duration"],
                       "start": offset if where == 0 else cycles - share + offset})
    return placed


def checkpoint_throughput(spec, *, count=400, workers=1, repeat=1, without=0, say=None):
    """Run the early and the late campaigns (``repeat`` times each, alternately), and
    ``without`` of the late injections with no checkpoints; return ``(rows, figures)``: a
    row per run, and the medians, ratios and checkpoint timing."""
    interval = checkpoint_interval(spec)
    if not interval:
        raise SpecError(f"{spec.source}: workload.checkpoint: the spec has no checkpoints "
                        f"(a CPU workload of at least 1,000,000 cycles has them by default)")
    layout = inspect_bench(spec)
    planned = plan(spec, layout["sites"])[:count]
    began = time.monotonic()
    simulation = build_bench(spec)
    built = time.monotonic()
    path = make_checkpoints(spec, simulation, layout, say=say)
    made = time.monotonic()
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="ftvoter-bench-ckpt-"))
    try:
        for number in range(repeat):
            for where, name in ((0, "first 1%"), (1, "last 1%")):
                injections = _placed(planned, spec, where)
                out = folder / f"{where}-{number}"
                figures = run_campaign(spec, out, workers=workers, progress=False,
                                       injections=injections, say=say)
                steady = figures["seconds"] - figures["startup_seconds"]
                rows.append({"starts": name, "run": number + 1, "injections": len(planned),
                             "first_start": min(i["start"] for i in injections),
                             "last_start": max(i["start"] for i in injections),
                             "seconds": steady, "seconds_whole_run": figures["seconds"],
                             "cycles": figures["cycles"],
                             "injections_per_second": len(planned) / steady,
                             "injections_per_second_whole_run":
                                 len(planned) / figures["seconds"]})
                shutil.rmtree(out, ignore_errors=True)
        if without:
            rows.append(_without(spec, _placed(planned, spec, 1)[:without], workers,
                                 folder / "without", say))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median = {}
    for name in ("first 1%", "last 1%"):
        mine = [row for row in rows if row["starts"] == name]
        median[name] = {key: statistics.median(row[key] for row in mine)
                        for key in ("injections_per_second",
                                    "injections_per_second_whole_run")}
    early, late = median["first 1%"], median["last 1%"]
    plain = [row for row in rows if row["starts"] == "last 1%, none"]
    figures = {
        "spec": spec.source, "workload_cycles": spec.workload["cycles"],
        "interval": interval, "checkpoints": len(range(interval, spec.workload["cycles"],
                                                       interval)),
        "checkpoint_file": str(path), "workers": workers, "window":
            spec.observation["window"],
        "build_seconds": built - began, "checkpoint_seconds": made - built,
        "median": median,
        "late_vs_early": late["injections_per_second"] / early["injections_per_second"],
        "late_vs_early_whole_run": late["injections_per_second_whole_run"] /
        early["injections_per_second_whole_run"],
        "seconds": time.monotonic() - began,
    }
    if plain:
        figures["late_vs_without"] = (late["injections_per_second_whole_run"] /
                                      plain[0]["injections_per_second_whole_run"])
    return rows, figures


def _without(spec, injections, workers, out, say):
    """Run the late ``injections`` with no checkpoints (every restart from reset, every
    shard's golden check the whole workload); return their row."""
    import dataclasses
    plain = dataclasses.replace(spec, workload={**spec.workload, "checkpoint": 0})
    figures = run_campaign(plain, out, workers=workers, progress=False,
                           injections=injections, say=say)
    steady = figures["seconds"] - figures["startup_seconds"]
    return {"starts": "last 1%, none", "run": 1, "injections": len(injections),
            "first_start": min(i["start"] for i in injections),
            "last_start": max(i["start"] for i in injections), "seconds": steady,
            "seconds_whole_run": figures["seconds"], "cycles": figures["cycles"],
            "injections_per_second": len(injections) / steady,
            "injections_per_second_whole_run": len(injections) / figures["seconds"]}


def print_checkpoint_throughput(spec, rows, figures):
    """Print :func:`checkpoint_throughput`'s rows and ratios."""
    print(f"ftvoter bench-checkpoint: {spec.name} ({spec.source}): "
          f"{spec.design['lanes']} '{spec.design['lane']}' lanes, "
          f"{figures['workload_cycles']:,}-cycle workload, a checkpoint every "
          f"{figures['interval']:,} cycles ({figures['checkpoints']:,}), "
          f"{figures['window']:,}-cycle window, {figures['workers']} worker(s)")
    print(f"  checkpoints ready in {figures['checkpoint_seconds']:.1f} s (one golden run, "
          f"cached: {figures['checkpoint_file']}); bench build or check "
          f"{figures['build_seconds']:.1f} s")
    print(f"  {'starts':<13} {'run':>3} {'injections':>10} {'cycles from':>12} "
          f"{'to':>11} {'inj/s':>8} {'whole run inj/s':>16} {'bench cycles':>13}")
    for row in rows:
        print(f"  {row['starts']:<13} {row['run']:>3} {row['injections']:>10} "
              f"{row['first_start']:>12,} {row['last_start']:>11,} "
              f"{row['injections_per_second']:>8.1f} "
              f"{row['injections_per_second_whole_run']:>16.1f} {row['cycles']:>13,}")
    print(f"  late/early: {figures['late_vs_early']:.2f} (steady state), "
          f"{figures['late_vs_early_whole_run']:.2f} (whole run); goal: within 20% "
          f"(0.80-1.25)")
    if "late_vs_without" in figures:
        print(f"  late with checkpoints: {figures['late_vs_without']:.1f}x the whole-run "
              f"inj/s of the same late injections without ('last 1%, none': every restart "
              f"from reset, and the golden check of the whole workload)")
    print(f"  ({figures['seconds']:.0f} s in all; inj/s from the first shard's golden "
          f"check on, whole run from the shards' start)")
