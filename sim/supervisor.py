"""Shard supervision: simulator processes started, watched, killed and recorded.

A :class:`Supervisor` runs a campaign's pending injections in shards, one simulator
process each (the cocotb loop of :mod:`ftvoter.sim.shard`), and keeps the list of the
shards running. Every record a shard writes is classified and appended to the result
store by the :class:`Recorder` as it arrives. A shard whose simulator crashes, or makes no
progress (no record and no heartbeat) for the hang timeout, is killed; the injection it
was running is recorded as ``sim_error`` with the simulator's log, and a new shard takes
the rest. However the run ends, :meth:`Supervisor.run` leaves no shard running and every
completed injection recorded.

Files, in the campaign's folder: ``shards/shard<k>-<attempt>/`` (``plan.json``,
``records.jsonl``, ``sim.log``; removed once its injections are recorded) and
``logs/injection<id>.log`` or ``logs/shard<k>-startup.log`` (the log of a failed shard).
"""

import json
import os
import shutil
import signal
import subprocess
import time

from ftvoter.analysis.files import write_atomic

from .outcomes import NEVER, classify
from .plan import bench_injections

__all__ = ["CampaignError", "Shard", "Recorder", "Supervisor", "bench_records"]

class CampaignError(RuntimeError):
    """The campaign cannot go on; the message is one line."""


def bench_records(data):
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


class Shard:
    """One simulator process and the injections it was given."""

    def __init__(self, number, attempt, injections, folder, layout):
        self.number, self.attempt, self.injections = number, attempt, injections
        self.layout = {key: layout.get(key) for key in ("injection_fields", "record_fields",
                                                         "ckpt_fields")}
        self.folder = folder / f"shard{number}-{attempt}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.out = self.folder / "records.jsonl"
        self.out.write_text("")
        self.offset = 0
        self.golden = None
        self.recorded = set()       # ids of this shard's injections recorded
        self.next_id = None         # the injection the shard said it runs next
        self.flying = None          # with several faulty copies: the injections in flight
        self.copies = None          # faulty copies to use (None: the bench's)
        self.last_progress = time.monotonic()
        self.process = None

    def start(self, simulation, window, golden_cycles, env, reuse=True, checkpoints=None):
        """Write the shard's plan and start its simulator, in a session of its own
        (``checkpoints``: the campaign's checkpoint file, :mod:`ftvoter.sim.checkpoints`)."""
        plan_file = self.folder / "plan.json"
        bench = bench_injections(self.injections)
        copies = {} if self.copies is None else {"copies": self.copies}
        write_atomic(plan_file, json.dumps({"window": window, "golden_cycles": golden_cycles,
                                            "injections": bench, "reuse": reuse,
                                            "checkpoints": checkpoints and str(checkpoints),
                                            **copies, **self.layout}))
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
        return list(bench_records(data[:end]))

    def kill(self):
        """Kill the simulator (its whole session), if it still runs."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


class Recorder:
    """Classify the bench's records and append them, as result lines, to the store."""

    def __init__(self, store, injections, directory, *, lanes, detection_only):
        self.store = store
        self.by_id = {injection["id"]: injection for injection in injections}
        self.directory = directory
        self._lanes, self._detection_only = lanes, detection_only

    def _described(self, injection):
        """The fields of a result line that describe the injection itself."""
        result = {key: injection[key] for key in ("id", "site", "register", "lane", "bit",
                                                  "model", "start", "common")}
        result["duration"] = None if injection["duration"] == 0 else injection["duration"]
        return result

    def _result(self, record):
        injection = self.by_id[record["id"]]
        return {**self._described(injection),
                **classify(record, injection, lanes=self._lanes,
                           detection_only=self._detection_only)}

    def append(self, records):
        """Append the results of bench records (each a new id of the plan)."""
        if records:
            self.store.append([self._result(record) for record in records])

    def append_new(self, records):
        """Append the results of those bench records not recorded yet, in id order (the
        first record of each id; records of no planned injection left out)."""
        new = {}
        for record in records:
            if record.get("id") in self.by_id and record["id"] not in self.store.done:
                new.setdefault(record["id"], record)
        self.append([record for _, record in sorted(new.items())])

    def error(self, injection, reason, log):
        """Append a ``sim_error`` result: ``reason``, and ``log`` (in the folder)."""
        self.store.append([{
            **self._described(injection), "outcome": "sim_error", "detection_latency": None,
            "propagation_latency": None, "io_latency": None, "escaped": False,
            "detected_by": None, "offline": [], "end_cycle": None, "error": reason,
            "log": str(log.relative_to(self.directory))}])


class Supervisor:
    """Run injections in shards and record them; :attr:`running` lists the shards running.

    ``simulation`` is the built bench, ``layout`` its packed fields
    (:func:`~ftvoter.sim.plan.inspect_bench`); results go through ``recorder``, shard
    folders and logs into ``recorder.directory``. ``window``, ``golden_cycles``, ``env``,
    ``reuse`` and ``checkpoints`` are given to every shard (:meth:`Shard.start`); a shard
    with no record and no heartbeat for ``hang_timeout`` seconds is hung.
    """

    def __init__(self, recorder, simulation, layout, *, window, golden_cycles, env,
                 reuse, hang_timeout, checkpoints=None):
        self.running = []
        self._recorder = recorder
        self._simulation, self._layout = simulation, layout
        self._launch = (window, golden_cycles, env, reuse, checkpoints)
        self._hang_timeout = hang_timeout
        self._shards = recorder.directory / "shards"
        self._logs = recorder.directory / "logs"
        self._failures = 0          # shards failed in a row, with no record between
        self._limit = 0
        self._started = None
        self.figures = {"ran": 0, "sim_errors": 0, "cycles": 0}

    def run(self, pending, workers, progress=None):
        """Run ``pending`` in ``workers`` shards until each one is recorded; return the
        figures of this run: ``ran``, ``sim_errors``, ``cycles`` (simulated),
        ``startup_seconds`` (to the first golden check) and ``seconds``. ``progress`` (a
        :class:`~ftvoter.sim.progress.Progress`) is shown as records arrive; its final line
        is the caller's.

        Raises :class:`CampaignError` when the golden run fails its check, a shard fails
        before its first injection, or shards keep failing. On any exit (``KeyboardInterrupt``
        too) every shard still running is killed and its completed injections recorded.
        """
        self._started = time.monotonic()
        self._limit = 3 * workers
        self.figures = {"ran": 0, "sim_errors": 0, "cycles": 0}
        try:
            for number in range(workers):
                if pending[number::workers]:
                    self._start(number, 0, pending[number::workers])
            while self.running:
                time.sleep(0.1)
                for shard in list(self.running):
                    self._poll(shard)
                if progress is not None:
                    progress.show(len(self._recorder.store.done))
        finally:
            self.stop()
        self.figures["seconds"] = time.monotonic() - self._started
        return self.figures

    def stop(self):
        """Kill every shard still running and record the injections it completed."""
        while self.running:
            shard = self.running.pop(0)
            shard.kill()
            self._recorder.append_new(shard.read())

    def _start(self, number, attempt, injections, copies=None):
        shard = Shard(number, attempt, injections, self._shards, self._layout)
        shard.copies = copies
        self.running.append(shard)
        shard.start(self._simulation, *self._launch)

    def _poll(self, shard):
        """Record what ``shard`` wrote; retire it if it finished, crashed or hung."""
        finished = shard.process.poll() is not None
        if self._read(shard):
            self._failures = 0
        hung = time.monotonic() - shard.last_progress > self._hang_timeout
        if not finished and not hung:
            return
        self.running.remove(shard)
        if finished and len(shard.recorded) == len(shard.injections):
            shutil.rmtree(shard.folder, ignore_errors=True)
            return
        shard.kill()
        self._failed(shard, "hang" if hung and not finished else
                     f"exit status {shard.process.returncode}")

    def _read(self, shard):
        """Record the shard's new records; return how many injections they were."""
        new = []
        for record in shard.read():
            shard.next_id = record["next"]
            shard.flying = record.get("flying")
            if "golden" in record:
                shard.golden = _check_golden(record["golden"])
                self.figures.setdefault("startup_seconds", time.monotonic() - self._started)
                continue
            shard.recorded.add(record["id"])
            self.figures["cycles"] += record["run_cycles"]
            new.append(record)
        self._recorder.append(new)
        self.figures["ran"] += len(new)
        return len(new)

    def _failed(self, shard, reason):
        """Record the injection the killed ``shard`` was running; start one for the rest."""
        if shard.golden is None:
            # It did not even finish the golden run: the tools, not an injection.
            log = self._keep_log(shard, f"shard{shard.number}-startup.log")
            raise CampaignError(f"a simulator shard failed before its first injection; "
                                f"see {log}")
        self._failures += 1
        if self._failures > self._limit:
            raise CampaignError(f"shards keep failing with no progress; see "
                                f"{shard.folder / 'sim.log'}")
        suspects = [shard.next_id] if shard.flying is None else shard.flying
        if len(suspects) != 1:
            # Several injections were in flight on as many faulty copies: the rest runs
            # on one copy, which pins the failure on one injection if it comes again.
            rest = [injection for injection in shard.injections
                    if injection["id"] not in shard.recorded]
            shutil.rmtree(shard.folder, ignore_errors=True)
            if rest:
                self._start(shard.number, shard.attempt + 1, rest, copies=1)
            return
        # The injection in flight failed the simulator: record it, go on.
        failed = self._recorder.by_id[suspects[0]]
        log = self._keep_log(shard, f"injection{failed['id']}.log")
        self._recorder.error(failed, f"simulator {reason}", log)
        self.figures["ran"] += 1
        self.figures["sim_errors"] += 1
        rest = [injection for injection in shard.injections
                if injection["id"] not in shard.recorded and injection is not failed]
        shutil.rmtree(shard.folder, ignore_errors=True)
        if rest:
            self._start(shard.number, shard.attempt + 1, rest, shard.copies)

    def _keep_log(self, shard, name):
        """Copy the shard's simulator log to ``logs/<name>``; return its path."""
        log = self._logs / name
        log.parent.mkdir(parents=True, exist_ok=True)
        sim_log = shard.folder / "sim.log"
        shutil.copyfile(sim_log, log) if sim_log.exists() else log.write_text("")
        return log


def _check_golden(golden):
    """Return the golden check's record; :class:`CampaignError` if the copies disagreed."""
    bad = [key for key in ("mismatch_at", "self_error_at", "diverged_at", "io_wrong_at")
           if golden[key] != NEVER]
    if bad or golden["lag"] or golden["golden_requests"] == 0:
        raise CampaignError(f"the golden run failed its check ({', '.join(bad) or 'no I/O'}"
                            f"): the two copies of the system disagree with no fault")
    return golden
