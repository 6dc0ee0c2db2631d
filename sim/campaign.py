"""The fault-insertion campaign engine behind ``ftvoter campaign``.

A campaign (a :class:`~ftvoter.sim.spec.CampaignSpec`) is run in four steps, one module
each, which :func:`run_campaign` puts together:

1. **Plan** the injections from the spec and its seed (:mod:`ftvoter.sim.plan`): sites and
   bits, fault models and start cycles. The plan depends only on the spec, so it is the
   same on every run and whatever the number of workers.
2. **Build** the campaign bench (:class:`~ftvoter.hdl.campaign.CampaignBench`: a golden
   and a faulty copy of the lockstep system, compared in hardware) once, under Verilator,
   with the clock generated inside the model (:mod:`ftvoter.sim.bench_top`).
3. **Run** the plan in shards, one simulator process per worker, each looping over its
   injections with no Python in the per-cycle path (:mod:`ftvoter.sim.shard`), watched by
   a :class:`~ftvoter.sim.supervisor.Supervisor`. Every shard first checks the golden run
   (no fault: the copies must agree). A shard that crashes or hangs is killed; the
   injection it was running is recorded as ``sim_error`` with its log kept, and a new
   shard takes the rest. Progress goes to standard error (:mod:`ftvoter.sim.progress`).
4. **Record** every injection as it completes, classified
   (:func:`~ftvoter.sim.outcomes.classify`), in the append-only result store; a resumed
   campaign runs only what is missing. :mod:`ftvoter.sim.summary` makes the outcome table.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from .bench_top import bench_wrapper, build_bench
from .outcomes import OUTCOMES
from .plan import (
    MAX_INJECTIONS,
    bench_injections,
    design_params,
    explicit,
    inspect_bench,
    plan,
)
from .progress import Progress
from .results import ResultStore, ResultStoreError, discard
from .stopping import decide, final_rule, round_ends, sequential
from .summary import format_summary, summary
from .supervisor import CampaignError, Recorder, Shard, Supervisor, bench_records

__all__ = ["CampaignError", "design_params", "inspect_bench", "plan", "build_bench",
           "run_campaign", "summary", "format_summary", "bench_injections", "bench_wrapper",
           "MAX_INJECTIONS"]

# The shard class, by the name tests patch (tests/test_bad_input.py).
_Shard = Shard


def run_campaign(spec, directory, *, workers=2, resume=False, fresh=False,
                 hang_timeout=120.0, env=None, progress=True, injections=None, reuse=True,
                 say=None, scheduler=None, cluster=None, batch=None):
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
    copy from the golden one (see :mod:`~ftvoter.sim.slots`); without it, every
    run starts from reset. Both give the same results.

    ``scheduler`` (an address) or ``cluster`` (a number of local worker processes) run the
    shards as tasks on a Dask cluster instead (:mod:`ftvoter.sim.dask_backend`; ``batch``
    fixes the injections per task), with the same results. A spec with ``faults.stop =
    "interval"`` runs in rounds and stops as soon as its intervals are within the margin
    (:mod:`ftvoter.sim.stopping`); the manifest's ``stop`` says which rule ended a
    campaign, and so does the ``stop`` of the figures returned.

    Raises :class:`CampaignError`, :class:`~ftvoter.sim.spec.SpecError`,
    :class:`~ftvoter.sim.results.ResultStoreError` or
    :class:`~ftvoter.sim.dask_backend.ClusterError` (one-line messages) when it cannot run,
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
    explicitly = injections is not None
    injections = explicit(spec, sites, injections) if explicitly else plan(spec, sites)
    runner = simulation = None
    if scheduler is not None or cluster is not None:
        from .dask_backend import DaskRunner
        if cluster is not None:
            simulation = build_bench(spec)      # here, once: the local workers are given it
        runner = DaskRunner(scheduler=scheduler, local=cluster, batch=batch)
    try:
        store = _open_store(directory, _manifest(spec, sites, injections, explicitly),
                            fresh=fresh, resume=resume, say=say)
    except BaseException:
        if runner is not None:
            runner.close()
        raise
    recorder = Recorder(store, injections, directory, lanes=spec.design["lanes"],
                        detection_only=spec.design["offset"] > 0)
    figures = {"injections": len(injections), "ran": 0, "sim_errors": 0, "cycles": 0}
    try:
        checkpoints = _checkpoints(spec, layout, say)
        _recover(directory / "shards", recorder)
        bar = None
        in_rounds = sequential(spec) and not explicitly
        rounds = (round_ends(len(injections), spec.faults["round"]) if in_rounds
                  else [len(injections)])
        for number, end in enumerate(rounds, 1):
            pending = [i for i in injections[:end] if i["id"] not in store.done]
            if pending:
                if runner is None:
                    runner = _local_runner(spec, layout, recorder, pending, workers, env,
                                           reuse, hang_timeout, say, checkpoints)
                    figures["workers"] = runner.workers
                else:
                    figures["workers"] = runner.threads()
                if bar is None and progress:
                    bar = Progress(len(injections), len(store.done))
                _add(figures, runner.run(_job(spec, layout, env, reuse, hang_timeout,
                                              simulation, checkpoints),
                                         pending, recorder, bar))
            if in_rounds:
                found, narrow = decide([r for r in store.records() if r["id"] < end],
                                       spec.faults["margin"], spec.faults["confidence"])
                if narrow or end == len(injections):
                    figures["stop"] = {"rule": "interval" if narrow else "limit",
                                       "injections": end, "rounds": number,
                                       "margin": spec.faults["margin"],
                                       "confidence": spec.faults["confidence"], **found}
                    break
        else:
            figures["stop"] = {"rule": final_rule(spec, explicitly),
                               "injections": len(injections)}
        if bar is not None:
            bar.show(len(store.done), final=True)
        store.update_manifest(stop=figures["stop"])
        _remove_empty(directory / "shards")
        return figures
    finally:
        store.close()
        if runner is not None:
            runner.close()


class _LocalRunner:
    """The local engine as a runner of rounds: one :class:`Supervisor`, shards in
    processes of this machine."""

    def __init__(self, supervisor, workers):
        self.supervisor, self.workers = supervisor, workers

    def run(self, job, pending, recorder, progress):
        return self.supervisor.run(pending, min(self.workers, len(pending)), progress)

    def threads(self):
        return self.workers

    def close(self):
        pass


def _checkpoints(spec, layout, say):
    """The campaign's checkpoint file, made once (cached) if the spec has checkpoints."""
    from .checkpoints import CheckpointError, checkpoint_interval, make_checkpoints
    if not checkpoint_interval(spec):
        return None
    try:
        return make_checkpoints(spec, build_bench(spec), layout, say=say)
    except CheckpointError as error:
        raise CampaignError(str(error)) from None


def _local_runner(spec, layout, recorder, pending, workers, env, reuse, hang_timeout, say,
                  checkpoints=None):
    if workers > len(pending):
        say(f"ftvoter campaign: {len(pending)} injection(s) to run: starting "
            f"{len(pending)} worker(s), not {workers}")
        workers = len(pending)
    supervisor = Supervisor(recorder, build_bench(spec), layout,
                            window=spec.observation["window"],
                            golden_cycles=spec.workload["cycles"], env=env or {},
                            reuse=reuse, hang_timeout=hang_timeout, checkpoints=checkpoints)
    return _LocalRunner(supervisor, workers)


def _job(spec, layout, env, reuse, hang_timeout, simulation, checkpoints=None):
    from .dask_worker import Job
    return Job(spec, layout["injection_fields"], layout["record_fields"],
               window=spec.observation["window"], golden_cycles=spec.workload["cycles"],
               reuse=reuse, hang_timeout=hang_timeout, env=dict(env or {}),
               simulation=simulation, checkpoints=checkpoints and str(checkpoints),
               ckpt_fields=layout.get("ckpt_fields"))


def _add(figures, run):
    """Add one run's (one round's) figures to the campaign's."""
    for key in ("ran", "sim_errors", "cycles"):
        figures[key] += run[key]
    if "submitted" in run:
        figures["submitted"] = figures.get("submitted", 0) + run["submitted"]
    figures["seconds"] = figures.get("seconds", 0.0) + run["seconds"]
    if "startup_seconds" in run:
        figures.setdefault("startup_seconds", run["startup_seconds"])


def _manifest(spec, sites, injections, explicitly):
    """The campaign's manifest: spec, plan size, seed, versions and sites."""
    return {
        # What the campaign is (a resumed one must be the same); not how it is run.
        "campaign": {"spec": {key: value for key, value in spec.as_dict().items()
                              if key != "bench"}, "injections": len(injections),
                     **({"explicit": injections} if explicitly else {})},
        "bench": spec.bench,
        "spec_file": spec.source,
        "seed": spec.seed,
        "git_revision": _git_revision(),
        "versions": _versions(),
        "sites": sites,
        "bits": sum(site["width"] for site in sites),
        "outcomes": list(OUTCOMES),
    }


def _open_store(directory, manifest, *, fresh, resume, say):
    """Discard (``fresh``) or check the folder, and open its result store."""
    if fresh:
        discard(directory)
    if not resume and any((directory / "shards").glob("shard*-*")):
        raise ResultStoreError(f"{directory / 'shards'} holds shard folders of no campaign "
                               f"in {directory}; move them, or use another folder")
    store = ResultStore(directory).open(manifest, resume=resume)
    if store.repaired:
        say(f"ftvoter campaign: {store.repaired}")
    return store


def _recover(folder, recorder):
    """Record what shards cut off by an earlier interruption had completed (results too),
    then remove their folders."""
    if not folder.exists():
        return
    records = [record for path in sorted(folder.glob("shard*-*/records.jsonl"))
               for record in bench_records(path.read_bytes())]
    recorder.append_new(records)
    for path in folder.glob("shard*-*"):
        shutil.rmtree(path, ignore_errors=True)


def _remove_empty(folder):
    """Remove the engine's shard folders and then ``folder``, if nothing else is in it."""
    for path in folder.glob("shard*-*"):
        shutil.rmtree(path, ignore_errors=True)
    try:
        folder.rmdir()
    except OSError:
        pass


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
