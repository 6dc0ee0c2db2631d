"""Campaign throughput for ``make bench``: the engine, the naive way, and a plain C++ loop.

Three ways to run the same injections of a spec on the same Verilated campaign bench:

- the **campaign** engine (:func:`~ftvoter.sim.campaign.run_campaign`: clock inside the
  model, cocotb woken once per injection), with all workers and with one;
- the **naive** way (:mod:`ftvoter.sim.naive`), a plain cocotb testbench: it drives the
  clock, awaits every edge, samples the outputs each cycle and runs every injection to
  the end of its window (on a sample of the injections);
- a **plain C++ loop** (``data/campaign_loop.cpp``) on the same model, without cocotb or
  VPI: the physical limit of this model;

and, with ``copies``, the engine again (one worker) on benches of K faulty copies sharing
the golden one. Speeds are given as injections per second and as bench cycles per second
(with one faulty copy a bench cycle simulates the golden and the faulty copy).

The **limit** of an injection is its settle time (cycles from its start until its outcome
is final: the record's end) on one faulty copy, at the plain speed of that copy alone
(:class:`~ftvoter.hdl.campaign_copy.PlainCopy` in ``data/copy_loop.cpp``): the limit in
injections per second is that speed over the mean settle time, and each one-worker row is
given as a share of it.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .bench_top import BUILD_ARGS, bench_wrapper
from .campaign import run_campaign
from .plan import bench_injections, design_params, inspect_bench, make_bench, plan
from .results import ResultStore
from .shard import pack
from .toolchain import ToolchainError, build_root, build_simulator, design_key, run_cocotb

__all__ = ["campaign_throughput", "print_throughput"]

_LOOP = Path(__file__).resolve().parent / "data" / "campaign_loop.cpp"
_COPY_LOOP = Path(__file__).resolve().parent / "data" / "copy_loop.cpp"
#: Cycles the plain copy is timed over.
COPY_CYCLES = 2_000_000


def _bench_plan(spec, injections, layout, window):
    return {"window": window, "injections": bench_injections(injections),
            "injection_fields": layout["injection_fields"],
            "record_fields": layout["record_fields"]}


def _naive(spec, bench_plan, folder):
    # The bench with ``clk`` as an input, for cocotb to drive.
    signature = make_bench(spec).signature
    simulation = build_simulator("campaign", design_params(spec),
                                 wrapper=lambda source: bench_wrapper(signature,
                                                                      clock_port=True),
                                 build_args=BUILD_ARGS)
    plan_file, out = folder / "naive-plan.json", folder / "naive.json"
    plan_file.write_text(json.dumps(bench_plan))
    tests, failed = run_cocotb(simulation, "ftvoter.sim.naive", test_dir=folder / "naive",
                               quiet=True, env={"FTVOTER_SHARD_PLAN": plan_file,
                                                "FTVOTER_SHARD_OUT": out})
    if (tests, failed) != (1, 0):
        raise ToolchainError(f"the naive campaign loop failed; see {folder / 'naive'}")
    return json.loads(out.read_text())


def _loop_build(name, sources, loop, top):
    """Build (or reuse) a Verilated model with a C++ loop as its main; return the
    executable."""
    from .toolchain import write_atomic
    digest = hashlib.sha256(loop.read_bytes()).hexdigest()[:8]
    build = build_root() / "native" / f"{name}-{digest}"
    executable = build / f"V{top}"
    if not executable.exists():
        build.mkdir(parents=True, exist_ok=True)
        files = []
        for source in sources:
            if isinstance(source, tuple):       # (file name, text): written here
                write_atomic(build / source[0], source[1])
                source = build / source[0]
            files.append(str(source))
        environment = {**os.environ, "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include "
                                                  "CFG_CXXFLAGS_COROUTINES=-fcoroutines"}
        result = subprocess.run(
            ["verilator", "--cc", "--exe", "--build", "--timing", "-O3", "-Wno-fatal",
             *BUILD_ARGS, "--top-module", top, "-Mdir", str(build), "-j", "2",
             *files, str(loop)],
            capture_output=True, text=True, env=environment)
        (build / "build.log").write_text(result.stdout + result.stderr)
        if result.returncode or not executable.exists():
            raise ToolchainError(f"building the C++ loop {loop.name} failed; see "
                                 f"{build / 'build.log'}")
    return executable


def _native(spec, bench_plan, folder):
    from .toolchain import export_verilog, setup_environment
    setup_environment()
    params = design_params(spec)
    source = export_verilog("campaign", params)
    top, text, _ = bench_wrapper(make_bench(spec).signature)
    executable = _loop_build(f"campaign-{design_key('campaign', params)}", [
        source, (f"{top}.v", text)], _LOOP, top)
    fields = {name: (offset, width) for name, offset, width in bench_plan["injection_fields"]}
    words = (max(offset + width for offset, width in fields.values()) + 31) // 32
    lines = []
    for injection in bench_plan["injections"]:
        value = pack(bench_plan["injection_fields"], {**injection, "restart": 0,
                                                       "window": bench_plan["window"]})
        lines.append(" ".join([str(injection["start"])] + [
            f"{value >> (32 * k) & 0xffffffff:x}" for k in range(words)]))
    (folder / "native.txt").write_text("\n".join(lines) + "\n")
    result = subprocess.run([str(executable), str(folder / "native.txt"),
                             str(fields["restart"][0])],
                            capture_output=True, text=True)
    if result.returncode:
        raise ToolchainError(f"the C++ campaign loop failed: {result.stderr.strip()[:200]}")
    return json.loads(result.stdout)


def _plain_copy(spec):
    """The plain simulation speed of one faulty copy of the spec's system, alone."""
    from .toolchain import export_verilog, setup_environment
    setup_environment()
    params = design_params(spec)
    params.pop("copies", None)
    source = export_verilog("campaign_copy", params)
    executable = _loop_build(f"copy-{design_key('campaign_copy', params)}", [source],
                             _COPY_LOOP, "ftvoter_campaign_copy")
    result = subprocess.run([str(executable), str(COPY_CYCLES)], capture_output=True,
                            text=True)
    if result.returncode:
        raise ToolchainError(f"the plain copy's C++ loop failed: {result.stderr.strip()[:200]}")
    figures = json.loads(result.stdout)
    return figures["cycles"] / figures["seconds"]


def _engine_row(spec, folder, workers, copies):
    """Run the campaign engine; return its row and its records."""
    spec = dataclasses.replace(spec, bench={**spec.bench, "copies": copies})
    out = folder / f"campaign{workers}-{copies}"
    began = time.monotonic()
    figures = run_campaign(spec, out, workers=workers, progress=False)
    total = time.monotonic() - began
    records = ResultStore(out).records()
    # Steady state: from the first shard's golden run on (the naive loop and the C++ loop
    # time themselves after their start-up too).
    return {"method": "campaign", "workers": workers, "copies": copies,
            "injections": len(records),
            "seconds": figures["seconds"] - figures["startup_seconds"],
            "cycles": figures["cycles"], "seconds_whole_run": figures["seconds"],
            "seconds_with_build_check": total}, records


def campaign_throughput(spec, *, workers=2, naive=200, copies=()):
    """Measure the three ways on ``spec`` (and the engine with each number of ``copies``);
    return a list of rows and a dict of ratios."""
    spec = dataclasses.replace(spec, bench={**spec.bench, "copies": 1})   # the loops' bench
    layout = inspect_bench(spec)
    injections = plan(spec, layout["sites"])
    window = spec.observation["window"]
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="ftvoter-bench-"))
    try:
        for count in sorted({workers, 1}, reverse=True):
            row, records = _engine_row(spec, folder, count, 1)
            rows.append(row)
        for k in sorted(set(copies) - {1}):
            rows.append(_engine_row(spec, folder, 1, k)[0])
        bench_plan = _bench_plan(spec, injections, layout, window)
        native = _native(spec, bench_plan, folder)
        rows.append({"method": "plain C++ loop", "workers": 1, **native})
        sample = {**bench_plan, "injections": bench_plan["injections"][:naive]}
        rows.append({"method": "naive cocotb", "workers": 1, **_naive(spec, sample, folder)})
        plain = _plain_copy(spec)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    settles = [r["end_cycle"] - r["start"] for r in records if r.get("end_cycle") is not None]
    settle = sum(settles) / len(settles)
    limit = plain / settle
    for row in rows:
        row["injections_per_second"] = row["injections"] / row["seconds"]
        # With several faulty copies the runs overlap: their cycles are not the bench's.
        row["cycles_per_second"] = (row["cycles"] / row["seconds"]
                                    if row.get("copies", 1) == 1 else None)
        if "seconds_whole_run" in row:
            row["injections_per_second_whole_run"] = (row["injections"] /
                                                      row["seconds_whole_run"])
        if row["method"] == "campaign" and row["workers"] == 1:
            row["share_of_limit"] = row["injections_per_second"] / limit
    by = {(row["method"], row["workers"]): row for row in rows if row.get("copies", 1) == 1}
    one = by[("campaign", 1)]
    best = by[("campaign", workers)]
    native = by[("plain C++ loop", 1)]
    ratios = {
        "campaign_vs_naive": one["injections_per_second"] /
        by[("naive cocotb", 1)]["injections_per_second"],
        "campaign_share_of_cpp_one_process": one["cycles_per_second"] /
        native["cycles_per_second"],
        "campaign_share_of_cpp_all_cores": best["cycles_per_second"] /
        (native["cycles_per_second"] * workers),
        "limit": {"injections_per_second": limit, "mean_settle_cycles": settle,
                  "copy_cycles_per_second": plain},
        "share_of_limit": {row.get("copies", 1): row["share_of_limit"] for row in rows
                           if "share_of_limit" in row},
    }
    return rows, ratios


def print_throughput(spec, rows, ratios, workers):
    """Print the rows and ratios of :func:`campaign_throughput` as a table."""
    print(f"ftvoter bench: campaign throughput, {spec.name} ({spec.source}): "
          f"{spec.design['lanes']} '{spec.design['lane']}' lanes, "
          f"{rows[0]['injections']} injections, {os.cpu_count()} CPUs")
    print(f"  {'method':<15} {'workers':>7} {'copies':>6} {'injections':>10} {'inj/s':>8} "
          f"{'bench cycles/s':>15} {'whole run inj/s':>16} {'of limit':>8}")
    for row in rows:
        whole = row.get("injections_per_second_whole_run")
        share = row.get("share_of_limit")
        cps = row["cycles_per_second"]
        print(f"  {row['method']:<15} {row['workers']:>7} {row.get('copies', ''):>6} "
              f"{row['injections']:>10} "
              f"{row['injections_per_second']:>8,.0f} "
              f"{'' if cps is None else f'{cps:,.0f}':>15} "
              f"{'' if whole is None else f'{whole:,.0f}':>16} "
              f"{'' if share is None else f'{100 * share:.0f}%':>8}")
    print(f"  campaign is {ratios['campaign_vs_naive']:.1f}x the naive way (one process "
          f"each)")
    print(f"  campaign cycles/s are {100 * ratios['campaign_share_of_cpp_one_process']:.0f}% "
          f"of the plain C++ loop's (one process), "
          f"{100 * ratios['campaign_share_of_cpp_all_cores']:.0f}% of {workers} C++ loops "
          f"on {workers} cores")
    limit = ratios["limit"]
    shares = ", ".join(f"{100 * share:.0f}% with {k} cop{'y' if k == 1 else 'ies'}"
                       for k, share in sorted(ratios["share_of_limit"].items()))
    print(f"  limit: {limit['injections_per_second']:,.0f} inj/s per core (the mean settle "
          f"time, {limit['mean_settle_cycles']:,.1f} cycles, on one faulty copy alone at its "
          f"plain C++ speed, {limit['copy_cycles_per_second']:,.0f} cycles/s); the engine "
          f"in one process reaches {shares} (goal: at least 60%)")
    print("  (a bench cycle simulates the golden and the faulty copies of the system; inj/s "
          "and cycles/s count from the end of start-up, as the other loops time "
          "themselves; 'whole run' from the start of the shards, build excepted)")
