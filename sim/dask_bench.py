"""Campaign throughput on Dask against the local engine, for ``ftvoter bench-dask``.

The same campaign (spec and seed, so the same injections) runs on the local engine with
``workers`` processes, on a Dask LocalCluster of as many workers, and on one of a single
worker, each ``repeat`` times, every run from a fresh start (new shard processes, a new
cluster with cold simulators). Each run is timed as :mod:`ftvoter.sim.throughput` times
the engine: "inj/s" from the first golden check passed (the steady state), "whole run"
from the start of the shards (the cluster's start and the build excepted). The median run
of each way is the figure; the ratios compare those, and every run's results are checked
against the local engine's first (the same records, id by id).
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .campaign import CampaignError, run_campaign
from .plan import inspect_bench
from .results import ResultStore

__all__ = ["dask_throughput", "print_dask_throughput"]


def _lines(folder):
    """The results file's lines by id (the JSON text itself: bit for bit)."""
    import json
    text = (Path(folder) / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["id"]: line for line in text}


def _run(spec, folder, **how):
    began = time.monotonic()
    figures = run_campaign(spec, folder, progress=False, **how)
    total = time.monotonic() - began
    records = len(ResultStore(folder).records())
    steady = figures["seconds"] - figures.get("startup_seconds", 0.0)
    return {"injections": records, "seconds": steady, "seconds_whole_run": figures["seconds"],
            "seconds_with_cluster": total, "cycles": figures["cycles"]}


def dask_throughput(spec, *, workers=2, repeat=3, batch=None):
    """Measure the three ways on ``spec``; return the rows (median runs) and the ratios."""
    from .bench_top import build_bench
    inspect_bench(spec)
    build_bench(spec)           # once, before any timing
    ways = [("local engine", workers, {"workers": workers}),
            ("dask LocalCluster", workers, {"cluster": workers, "batch": batch}),
            ("dask LocalCluster", 1, {"cluster": 1, "batch": batch})]
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="ftvoter-bench-dask-"))
    reference = None
    try:
        for method, count, how in ways:
            runs = []
            for attempt in range(repeat):
                out = folder / f"{method.split()[0]}{count}-{attempt}"
                runs.append(_run(spec, out, **how))
                lines = _lines(out)
                if reference is None:
                    reference = lines
                elif lines != reference:
                    raise CampaignError(f"{method} with {count} worker(s) gave other results "
                                        f"than the local engine")
                shutil.rmtree(out, ignore_errors=True)
            for run in runs:
                run["injections_per_second"] = run["injections"] / run["seconds"]
                run["injections_per_second_whole_run"] = (run["injections"] /
                                                          run["seconds_whole_run"])
            median = statistics.median_low(run["injections_per_second"] for run in runs)
            row = next(run for run in runs if run["injections_per_second"] == median)
            rows.append({"method": method, "workers": count, **row,
                         "runs_injections_per_second": [run["injections_per_second"]
                                                        for run in runs]})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    local, dask, one = rows

    def ratio(a, b, key):
        return a[key] / b[key]
    ratios = {
        "dask_share_of_local": ratio(dask, local, "injections_per_second"),
        "dask_share_of_local_whole_run": ratio(dask, local, "injections_per_second_whole_run"),
        "dask_scaling_1_to_n": ratio(dask, one, "injections_per_second"),
        "dask_scaling_1_to_n_whole_run": ratio(dask, one, "injections_per_second_whole_run"),
    }
    return rows, ratios


def print_dask_throughput(spec, rows, ratios, workers, load=None):
    """Print the rows and ratios of :func:`dask_throughput` as a table."""
    import os
    print(f"ftvoter bench-dask: campaign throughput, {spec.name} ({spec.source}): "
          f"{rows[0]['injections']} injections, {os.cpu_count()} CPUs"
          + ("" if load is None else f", load average {load:.2f} before"))
    print(f"  {'method':<18} {'workers':>7} {'inj/s':>8} {'whole run inj/s':>16}  "
          f"runs (inj/s)")
    for row in rows:
        runs = ", ".join(f"{value:,.0f}" for value in row["runs_injections_per_second"])
        print(f"  {row['method']:<18} {row['workers']:>7} {row['injections_per_second']:>8,.0f}"
              f" {row['injections_per_second_whole_run']:>16,.0f}  {runs}")
    print(f"  Dask ({workers} workers) against the local engine: "
          f"{100 * ratios['dask_share_of_local']:.0f}% (whole run "
          f"{100 * ratios['dask_share_of_local_whole_run']:.0f}%; goal: at least 90%)")
    print(f"  Dask from 1 to {workers} workers: {ratios['dask_scaling_1_to_n']:.2f}x (whole "
          f"run {ratios['dask_scaling_1_to_n_whole_run']:.2f}x; goal: at least 1.8x)")
    print("  (median of the runs; inj/s from the first golden check passed, 'whole run' from "
          "the start of the shards or tasks: the cluster's start and the build excepted; "
          "every run's results equal the local engine's)")
