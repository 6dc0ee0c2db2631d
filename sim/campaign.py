"""The fault-insertion campaign engine behind ``ftvoter campaign``.

A campaign (a :class:`~ftvoter.sim.spec.CampaignSpec`) is run in four steps:

1. **Build** the campaign bench (:class:`~ftvoter.hdl.campaign.CampaignBench`: a golden
   and a faulty copy of the lockstep system, compared in hardware) once, under Verilator,
   with the clock generated inside the model.
2. **Plan** the injections from the spec and its seed: sites and bits, fault models and
   start cycles. The plan depends only on the spec, so it is the same on every run and
   whatever the number of workers.
3. **Run** the plan in shards, one simulator process per worker, each looping over its
   injections with no Python in the per-cycle path (:mod:`ftvoter.sim.shard`). Every
   shard first checks the golden run (no fault: the copies must agree). A shard that
   crashes or hangs is killed; the injection it was running is recorded as
   ``sim_error`` with its log kept, and a new shard takes the rest.
4. **Record** every injection as it completes, classified
   (:func:`~ftvoter.sim.outcomes.classify`), in the append-only result store; a resumed
   campaign runs only what is missing.
"""

import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from .outcomes import OUTCOMES, classify
from .results import ResultStore, ResultStoreError, discard
from .spec import MAX_CYCLE, MAX_DURATION, SpecError, sample_size

__all__ = ["CampaignError", "design_params", "inspect_bench", "plan", "build_bench",
           "run_campaign", "summary", "format_summary"]

_MODELS = {"flip": 0, "stuck0": 1, "stuck1": 2}

#: The most injections one campaign plans (a planned injection costs about 1 kB in
#: memory and in the manifest's process); split a larger study into several campaigns.
MAX_INJECTIONS = 1_000_000


class CampaignError(RuntimeError):
    """The campaign cannot go on; the message is one line."""


def design_params(spec):
    """Return the ``campaign`` design parameters for a spec."""
    return {"lane": spec.design["lane"], "lanes": spec.design["lanes"],
            "offset": spec.design["offset"], "policy": spec.design["policy"],
            "seed": spec.workload["seed"], "faults": list(spec.faults["sites"])}


def inspect_bench(spec):
    """Return a spec's bench layout: ``sites`` (dicts: ``index``, ``name``, ...) and the
    ``injection_fields`` and ``record_fields`` of its packed ports."""
    from amaranth.hdl import UnusedElaboratable

    from .designs import build
    # The bench is only asked for its sites and ports, never elaborated.
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    try:
        bench = build("campaign", design_params(spec))
    except (TypeError, ValueError) as error:
        key = "faults.sites" if str(error).startswith("Faults must") else "design"
        raise SpecError(f"{spec.source}: {key}: {error}") from None
    return {"sites": [{"index": index, **site.as_dict()}
                      for index, site in enumerate(bench.sites)],
            "injection_fields": bench.injection_fields, "record_fields": bench.record_fields}


def plan(spec, sites):
    """Return the injections of a campaign: a list of dicts, ``id`` 0 to N-1.

    Every bit of every site (for a common-cause campaign, lane 0's sites, applied to every
    lane) with every fault model makes the population, with start cycles drawn uniformly
    from ``faults.start``. ``count`` draws that many without replacement; ``exhaustive``
    takes every bit and model once; ``margin`` and ``confidence`` give the count by
    :func:`~ftvoter.sim.spec.sample_size` over bits x models x start cycles.
    """
    faults = spec.faults
    common = faults["common"]
    if not sites:
        raise SpecError(f"{spec.source}: faults.sites: no site matches "
                        f"{', '.join(faults['sites'])}")
    if common:
        sites = [site for site in sites if site["lane"] == 0]
        if not sites:
            raise SpecError(f"{spec.source}: faults.sites: common-cause faults (faults."
                            f"common) hit a lane site in every lane, but "
                            f"{', '.join(faults['sites'])} matches only bridge sites")
    bits = [(site, bit) for site in sites for bit in range(site["width"])]
    models = faults["models"]
    low, high = faults["start"]["min"], faults["start"]["max"]
    span = high - low + 1
    rng = random.Random(spec.seed)
    if faults["count"] == "exhaustive":
        if len(bits) * len(models) > MAX_INJECTIONS:
            raise SpecError(f"{spec.source}: faults.count: exhaustive is "
                            f"{len(bits) * len(models)} injections, more than one campaign "
                            f"plans ({MAX_INJECTIONS}); split it into several")
        choices = [(b, m, None) for b in range(len(bits)) for m in range(len(models))]
    else:
        population = len(bits) * len(models) * span
        if faults["count"] is not None:
            count = faults["count"]
            if count > population:
                raise SpecError(f"{spec.source}: faults.count: {count} is more than the "
                                f"{population} distinct injections (site bits x models x "
                                f"start cycles); ask for at most {population}")
        else:
            count = sample_size(population, margin=faults["margin"],
                                confidence=faults["confidence"])
        if count > MAX_INJECTIONS:
            raise SpecError(f"{spec.source}: faults.count: {count} injections is more than "
                            f"one campaign plans ({MAX_INJECTIONS}); split it into several")
        choices = []
        for index in rng.sample(range(population), count):
            index, start = divmod(index, span)
            b, m = divmod(index, len(models))
            choices.append((b, m, low + start))
    injections = []
    for number, (b, m, start) in enumerate(choices):
        site, bit = bits[b]
        if start is None:
            start = rng.randint(low, high)
        injections.append(_injection(number, site, bit, faults["bits"], models[m], start,
                                     faults["duration"], common))
    return injections


def _injection(number, site, bit, width, model, start, duration, common, name=None):
    """One planned injection: ``width`` adjacent bits of ``site`` from ``bit`` up."""
    top = min(bit + width, site["width"]) - 1
    if name is None:
        name = site["name"] if not common else "lane*." + site["register"]
        name = f"{name}[{bit}]" if top == bit else f"{name}[{top}:{bit}]"
    return {
        "id": number, "site": name, "site_index": site["index"],
        "register": site["register"], "lane": site["lane"], "bit": bit,
        "mask": ((1 << (top - bit + 1)) - 1) << bit, "model": model, "start": start,
        "duration": 1 if model == "flip" else duration, "common": common,
    }


def _explicit(spec, sites, wanted):
    """Turn hand-written injections into planned ones (see :func:`run_campaign`)."""
    by_name = {site["name"]: site for site in sites}
    window = spec.observation["window"]
    injections = []
    for number, item in enumerate(wanted):
        match = re.fullmatch(r"(.+)\[(\d+)\]", item["site"])
        if not match or match[1] not in by_name:
            raise SpecError(f"injection {number}: site: no site {item['site']!r}")
        site, bit = by_name[match[1]], int(match[2])
        width = item.get("bits", 1)
        if not 0 <= bit < site["width"] or width < 1:
            raise SpecError(f"injection {number}: site: no bit {item['site']!r}")
        if item["model"] not in _MODELS:
            raise SpecError(f"injection {number}: model: {item['model']!r}")
        start, duration = item["start"], item.get("duration", spec.faults["duration"])
        if not 0 <= start <= MAX_CYCLE - window:
            raise SpecError(f"injection {number}: start: must be from 0 to "
                            f"{MAX_CYCLE - window} (start + window must fit the bench's "
                            f"32-bit cycle counter), not {start}")
        if not 0 <= duration <= MAX_DURATION:
            raise SpecError(f"injection {number}: duration: must be from 0 to "
                            f"{MAX_DURATION} (the injector's 32-bit field), not {duration}")
        injections.append(_injection(number, site, bit, width, item["model"], start,
                                     duration, bool(item.get("common", False)),
                                     name=item["site"]))
    return injections


def bench_injections(injections):
    """The planned injections as the bench's ``injection`` fields (with their ``id``)."""
    return [{"id": i["id"], "arm": 1, "site": i["site_index"], "mask": i["mask"],
             "model": _MODELS[i["model"]], "start": i["start"], "duration": i["duration"],
             "common": int(i["common"])} for i in injections]


def bench_wrapper(source):
    """Return ``(toplevel, Verilog, ports)``: the bench with a 10 ns clock inside."""
    text = Path(source).read_text()
    begin = text.index("module ftvoter_campaign(")
    text = text[begin:text.index("endmodule", begin)]
    ports = []
    for direction, width, name in re.findall(
            r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(\[\d+:0\]\s+)?(\w+)\s*;", text, re.M):
        if name not in ("clk", "rst"):
            ports.append((direction, (width or "").strip(), name))
    declarations = "".join(f"  {direction} wire {width + ' ' if width else ''}{name};\n"
                           for direction, width, name in ports)
    connections = ",\n".join(f"    .{name}({name})" for _, _, name in ports)
    names = ", ".join(name for _, _, name in ports)
    top = "ftvoter_campaign_top"
    text = ("`timescale 1ns/1ps\n"
            f"module {top}({names});\n{declarations}"
            "  reg clk = 1'b0;\n"
            "  always #5 clk = ~clk;\n"
            f"  ftvoter_campaign bench (\n    .clk(clk),\n    .rst(1'b0),\n{connections}\n"
            "  );\nendmodule\n")
    return top, text, [name for _, _, name in ports]


def build_bench(spec):
    """Build (or reuse) the Verilator model of a spec's campaign bench."""
    from .toolchain import build_simulator
    return build_simulator("campaign", design_params(spec), wrapper=bench_wrapper,
                           build_args=["--timing", "--timescale", "1ns/1ps", "--x-assign",
                                       "fast", "--x-initial", "fast", "-CFLAGS", "-O3"])


def _git_revision():
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def _versions():
    from importlib.metadata import PackageNotFoundError, version
    found = {"python": sys.version.split()[0]}
    for name in ("ftvoter", "amaranth", "cocotb", "verilator"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


class _Shard:
    """One simulator process and the injections it was given."""

    def __init__(self, number, attempt, injections, folder, layout):
        self.number, self.attempt, self.injections = number, attempt, injections
        self.layout = {key: layout[key] for key in ("injection_fields", "record_fields")}
        self.folder = folder / f"shard{number}-{attempt}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.out = self.folder / "records.jsonl"
        self.out.write_text("")
        self.offset = 0
        self.golden = None
        self.recorded = set()       # ids of this shard's injections recorded
        self.next_id = None         # the injection the shard said it runs next
        self.last_progress = time.monotonic()
        self.process = None

    def start(self, simulation, window, golden_cycles, env, reuse=True):
        plan_file = self.folder / "plan.json"
        bench = bench_injections(self.injections)
        write_atomic(plan_file, json.dumps({"window": window, "golden_cycles": golden_cycles,
                                            "injections": bench, "reuse": reuse,
                                            **self.layout}))
        from .toolchain import cocotb_command
        command, environment = cocotb_command(
            simulation, "ftvoter.sim.shard", test_dir=self.folder,
            env={**env, "FTVOTER_SHARD_PLAN": plan_file, "FTVOTER_SHARD_OUT": self.out,
                 "FTVOTER_PARENT": os.getpid()})
        with open(self.folder / "sim.log", "w") as log:
            self.process = subprocess.Popen(command, cwd=self.folder, env=environment,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def read(self):
        """Return the complete new lines of the shard's output, parsed."""
        with open(self.out, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        if end:
            self.last_progress = time.monotonic()     # a record or a heartbeat
        return list(_bench_records(data[:end]))

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


def _bench_records(data):
    """The complete JSON lines a shard wrote (heartbeats and anything torn left out)."""
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "alive" not in record:
            yield record


class _Progress:
    """A one-line progress display: count, share, rate and ETA."""

    def __init__(self, total, done, stream=sys.stderr):
        self.total, self.start_done = total, done
        self.started = time.monotonic()
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def show(self, done, final=False):
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = (done - self.start_done) / elapsed
        left = self.total - done
        eta = left / rate if rate > 0 else math.inf
        eta_text = "--:--" if math.isinf(eta) else f"{int(eta) // 60}:{int(eta) % 60:02d}"
        share = 100 * done / self.total if self.total else 100
        width = 30
        filled = int(width * done / self.total) if self.total else width
        line = (f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                f"{share:5.1f}%  {rate:8.0f} inj/s  ETA {eta_text}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def run_campaign(spec, directory, *, workers=2, resume=False, fresh=False,
                 hang_timeout=120.0, env=None, progress=True, injections=None, reuse=True,
                 say=None):
    """Run (or finish) a campaign into ``directory``; return the figures of this run.

    ``injections``, if given, replaces the spec's sampled plan: dicts with ``site`` (a
    bit-level site name such as ``lane0.bus.awvalid[0]``), ``model``, ``start`` and,
    optionally, ``duration`` (default: the spec's), ``bits`` and ``common``. ``env`` adds
    environment variables to the shard processes (tests use it to make one crash or
    hang); a shard whose simulator makes no progress for ``hang_timeout`` seconds (no
    record, and no heartbeat: a shard sends one every 2**20 simulated cycles) is hung.
    ``fresh`` discards the campaign already in ``directory`` (its own files only; see
    :func:`~ftvoter.sim.results.discard`), but only once the spec, the sites and the plan
    have been checked. ``workers`` more than the injections to run are not started.
    ``say(line)`` is given the one-line notes of this run (workers not started, lines of
    the results file set aside); by default they go to standard error.
    ``reuse`` lets a shard go on from the end of one run to the next by loading the faulty
    copy from the golden one (see :class:`~ftvoter.sim.shard.Schedule`); without it, every
    run starts from reset. Both give the same results.

    Raises :class:`CampaignError`, :class:`~ftvoter.sim.spec.SpecError` or
    :class:`~ftvoter.sim.results.ResultStoreError` (one-line messages) when it cannot run,
    and lets ``KeyboardInterrupt`` through after the shards are stopped and every
    completed injection is recorded.
    """
    if not isinstance(workers, int) or workers < 1:
        raise CampaignError(f"Workers must be a positive integer, not {workers!r}")
    if fresh and resume:
        raise CampaignError("fresh and resume exclude each other")
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    directory = Path(directory).resolve()
    layout = inspect_bench(spec)
    sites = layout["sites"]
    explicit = injections is not None
    injections = plan(spec, sites) if not explicit else _explicit(spec, sites, injections)
    manifest = {
        "campaign": {"spec": spec.as_dict(), "injections": len(injections),
                     **({"explicit": injections} if explicit else {})},
        "spec_file": spec.source,
        "seed": spec.seed,
        "git_revision": _git_revision(),
        "versions": _versions(),
        "sites": sites,
        "bits": sum(site["width"] for site in sites),
        "outcomes": list(OUTCOMES),
    }
    if fresh:
        discard(directory)
    if not resume and any((directory / "shards").glob("shard*-*")):
        raise ResultStoreError(f"{directory / 'shards'} holds shard folders of no campaign "
                               f"in {directory}; move them, or use another folder")
    store = ResultStore(directory).open(manifest, resume=resume)
    if store.repaired:
        say(f"ftvoter campaign: {store.repaired}")
    by_id = {injection["id"]: injection for injection in injections}
    lanes = spec.design["lanes"]
    delayed = spec.design["offset"] > 0
    shard_folder = directory / "shards"
    logs = directory / "logs"
    figures = {"injections": len(injections), "ran": 0, "sim_errors": 0, "cycles": 0}
    try:
        # Records of shards cut off by an earlier interruption are results too.
        if shard_folder.exists():
            recovered = {}
            for records in sorted(shard_folder.glob("shard*-*/records.jsonl")):
                for record in _bench_records(records.read_bytes()):
                    if record.get("id") in by_id and record["id"] not in store.done:
                        recovered.setdefault(record["id"], record)
            store.append([_result(record, by_id[number], lanes, delayed)
                          for number, record in sorted(recovered.items())])
            for folder in shard_folder.glob("shard*-*"):
                shutil.rmtree(folder, ignore_errors=True)
        pending = [injection for injection in injections if injection["id"] not in store.done]
        if not pending:
            return figures
        if workers > len(pending):
            say(f"ftvoter campaign: {len(pending)} injection(s) to run: starting "
                f"{len(pending)} worker(s), not {workers}")
            workers = len(pending)
        figures["workers"] = workers
        simulation = build_bench(spec)
        started = time.monotonic()
        bar = _Progress(len(injections), len(store.done)) if progress else None
        slices = [pending[k::workers] for k in range(workers)]
        shards = [_Shard(k, 0, part, shard_folder, layout) for k, part in enumerate(slices) if part]
        window = spec.observation["window"]
        golden_cycles = spec.workload["cycles"]
        for shard in shards:
            shard.start(simulation, window, golden_cycles, env or {}, reuse)
        running = list(shards)
        failures_in_a_row = 0
        while running:
            time.sleep(0.1)
            for shard in list(running):
                finished = shard.process.poll() is not None
                new = []
                for record in shard.read():
                    shard.next_id = record["next"]
                    if "golden" in record:
                        shard.golden = _check_golden(record["golden"], shard)
                        figures.setdefault("startup_seconds", time.monotonic() - started)
                        continue
                    shard.recorded.add(record["id"])
                    figures["cycles"] += record["run_cycles"]
                    new.append(_result(record, by_id[record["id"]], lanes, delayed))
                store.append(new)
                figures["ran"] += len(new)
                if new:
                    failures_in_a_row = 0
                hung = time.monotonic() - shard.last_progress > hang_timeout
                if not finished and not hung:
                    continue
                running.remove(shard)
                if finished and len(shard.recorded) == len(shard.injections):
                    shutil.rmtree(shard.folder, ignore_errors=True)
                    continue
                shard.kill()
                if shard.golden is None:
                    # It did not even finish the golden run: the tools, not an injection.
                    log = logs / f"shard{shard.number}-startup.log"
                    log.parent.mkdir(parents=True, exist_ok=True)
                    sim_log = shard.folder / "sim.log"
                    shutil.copyfile(sim_log, log) if sim_log.exists() else log.write_text("")
                    raise CampaignError(f"a simulator shard failed before its first "
                                        f"injection; see {log}")
                # The injection in flight failed the simulator: record it, go on.
                failed = by_id[shard.next_id]
                failures_in_a_row += 1
                if failures_in_a_row > 3 * workers:
                    raise CampaignError(f"shards keep failing with no progress; see "
                                        f"{shard.folder / 'sim.log'}")
                log = logs / f"injection{failed['id']}.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                sim_log = shard.folder / "sim.log"
                shutil.copyfile(sim_log, log) if sim_log.exists() else log.write_text("")
                reason = "hang" if hung and not finished else \
                    f"exit status {shard.process.returncode}"
                store.append([_error(failed, f"simulator {reason}", log, directory)])
                figures["ran"] += 1
                figures["sim_errors"] += 1
                rest = [injection for injection in shard.injections
                        if injection["id"] not in shard.recorded and injection is not failed]
                shutil.rmtree(shard.folder, ignore_errors=True)
                if rest:
                    again = _Shard(shard.number, shard.attempt + 1, rest, shard_folder, layout)
                    again.start(simulation, window, golden_cycles, env or {}, reuse)
                    running.append(again)
            if bar is not None:
                bar.show(len(store.done))
        if bar is not None:
            bar.show(len(store.done), final=True)
        figures["seconds"] = time.monotonic() - started
        _remove_empty(shard_folder)
        return figures
    finally:
        for shard in locals().get("running", []):
            shard.kill()
            for record in shard.read():
                if "id" in record and record["id"] not in store.done:
                    store.append([_result(record, by_id[record["id"]], lanes, delayed)])
        store.close()


def _remove_empty(folder):
    """Remove the engine's shard folders and then ``folder``, if nothing else is in it."""
    for path in folder.glob("shard*-*"):
        shutil.rmtree(path, ignore_errors=True)
    try:
        folder.rmdir()
    except OSError:
        pass


def _check_golden(golden, shard):
    bad = [key for key in ("mismatch_at", "self_error_at", "diverged_at", "io_wrong_at")
           if golden[key] != 2**32 - 1]
    if bad or golden["lag"] or golden["golden_requests"] == 0:
        shard.kill()
        raise CampaignError(f"the golden run failed its check ({', '.join(bad) or 'no I/O'}"
                            f"): the two copies of the system disagree with no fault")
    return golden


def _described(injection):
    """The fields of a result line that describe the injection itself."""
    result = {key: injection[key] for key in ("id", "site", "register", "lane", "bit",
                                              "model", "start", "common")}
    result["duration"] = None if injection["duration"] == 0 else injection["duration"]
    return result


def _result(record, injection, lanes, detection_only):
    return {**_described(injection),
            **classify(record, injection, lanes=lanes, detection_only=detection_only)}


def _error(injection, reason, log, directory):
    return {**_described(injection), "outcome": "sim_error", "detection_latency": None,
            "propagation_latency": None, "io_latency": None, "escaped": False,
            "detected_by": None, "offline": [], "end_cycle": None, "error": reason,
            "log": str(log.relative_to(directory))}


def summary(records):
    """Return outcome counts and latency percentiles of a campaign's records."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    latencies = {"detection_latency": [], "propagation_latency": []}
    for record in records:
        counts[record["outcome"]] += 1
        for key, values in latencies.items():
            if record.get(key) is not None:
                values.append(record[key])

    def percentiles(values):
        if not values:
            return None
        values = sorted(values)

        def at(q):
            return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]
        return {"n": len(values), "min": values[0], "p50": at(0.5), "p90": at(0.9),
                "p99": at(0.99), "max": values[-1]}
    return {"injections": len(records), "outcomes": counts,
            "escaped": sum(bool(record.get("escaped")) for record in records),
            **{key: percentiles(values) for key, values in latencies.items()}}


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
    for key in ("detection_latency", "propagation_latency"):
        p = figures[key]
        name = key.replace("_", " ")
        if p is None:
            lines.append(f"  {name}: none")
        else:
            lines.append(f"  {name} (cycles, n={p['n']}): min {p['min']}, p50 {p['p50']}, "
                         f"p90 {p['p90']}, p99 {p['p99']}, max {p['max']}")
    return "\n".join(lines)
