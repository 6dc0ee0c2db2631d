"""The Dask workers' side of a campaign: long-lived simulators that run batches of injections.

A task is :func:`run_batch`: a :class:`Job` (the campaign's bench and settings, the same for
every task) and a batch of injections (the bench's fields, with ``id``). Each worker
process keeps its simulators between tasks (one per thread running a task: a
:class:`Simulator`, the cocotb loop of :mod:`ftvoter.sim.shard_server`), so the bench is
built or found in the build cache (:func:`~ftvoter.sim.bench_top.build_bench`: on one
machine every worker shares one build), started and golden-checked once per worker, not
per task.

Crash handling is the local engine's (:mod:`ftvoter.sim.supervisor`): a simulator that
crashes, or makes no progress (no record, no heartbeat) for the job's hang timeout, is
killed; the injection it was running comes back as a failure (with the simulator's log),
a new simulator takes the rest of the batch. A batch returns its bench records, failures,
simulated cycles and the moment its simulator's golden check passed.
"""

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .supervisor import CampaignError, _check_golden

__all__ = ["Job", "Simulator", "run_batch", "close_simulators", "warm", "prestart"]

#: A worker gives up on a batch after this many simulator failures in a row.
FAILURE_LIMIT = 3
#: The most of a failed simulator's log sent back to the client (its end).
LOG_BYTES = 1 << 20


@dataclass(frozen=True)
class Job:
    """What every task of one campaign shares: the spec (to build the bench), the bench's
    packed fields, the run settings, and ``env`` for the simulators."""
    spec: object
    injection_fields: list
    record_fields: list
    window: int
    golden_cycles: int
    reuse: bool = True
    hang_timeout: float = 120.0
    env: dict = field(default_factory=dict)
    #: The client's build of the bench (a :class:`~ftvoter.sim.toolchain.Simulation`), for
    #: workers on its machine; a worker that does not find it builds its own.
    simulation: object = None
    #: The campaign's checkpoint file (:mod:`ftvoter.sim.checkpoints`) and the bench's
    #: ``ckpt_ctl`` fields; a worker that does not find the file runs without them.
    checkpoints: str = None
    ckpt_fields: list = None

    @property
    def key(self):
        """A name for the job: the same for the same campaign and settings."""
        text = json.dumps([self.spec.as_dict(), self.injection_fields, self.record_fields,
                           self.window, self.golden_cycles, self.reuse, self.hang_timeout,
                           sorted(self.env.items())], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Failed(Exception):
    """The simulator stopped (``reason``) before the batch was through, having written
    ``lines``."""

    def __init__(self, reason, lines):
        super().__init__(reason)
        self.reason, self.lines = reason, lines


class Simulator:
    """One long-lived simulator process (:mod:`ftvoter.sim.shard_server`) of a job."""

    def __init__(self, job):
        self.job = job
        _remove_orphans()
        self.folder = Path(tempfile.mkdtemp(prefix=f"ftvoter-worker-{os.getpid()}-"))
        self.process = None
        self.golden_at = None       # time.time() when the golden check passed
        self._batch = 0

    def start(self):
        """Start the simulator and wait for its golden check; :class:`CampaignError` if it
        fails before (the tools or the design, not an injection)."""
        from .toolchain import ToolchainError, cocotb_command
        try:
            simulation = _simulation(self.job, _build)
            in_read, self._in = os.pipe()
            self._out, out_write = os.pipe()
            command, environment = cocotb_command(
                simulation, "ftvoter.sim.shard_server", test_dir=self.folder,
                env={**self.job.env, "FTVOTER_SERVE_IN": in_read,
                     "FTVOTER_SERVE_OUT": out_write, "FTVOTER_PARENT": os.getpid()})
        except ToolchainError as error:
            raise CampaignError(f"worker {_host()}: {error}") from None
        self._records = self.folder / "records.jsonl"
        self._records.write_bytes(b"")
        environment["FTVOTER_SERVE_RECORDS"] = str(self._records)
        with open(self.folder / "sim.log", "wb") as log:
            self.process = subprocess.Popen(command, cwd=self.folder, env=environment,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            pass_fds=(in_read, out_write),
                                            start_new_session=True)
        os.close(in_read)
        os.close(out_write)
        self._offset, self._next, self._flying, self._lines = 0, None, None, []
        self._send({"injection_fields": self.job.injection_fields,
                    "record_fields": self.job.record_fields, "window": self.job.window,
                    "golden_cycles": self.job.golden_cycles, "reuse": self.job.reuse,
                    "checkpoints": self.job.checkpoints,
                    "ckpt_fields": self.job.ckpt_fields})
        try:
            [golden] = [line for line in self._wait() if "golden" in line]
            _check_golden(golden["golden"])
            self.golden_at = time.time()
        except CampaignError:
            self.close()
            raise
        except _Failed:
            log = self.log()[-2000:].decode("utf-8", "replace").strip().splitlines()
            self.close()
            raise CampaignError(f"a simulator failed before its first injection on worker "
                                f"{_host()}: {log[-1] if log else 'no output'}") from None

    @property
    def fresh(self):
        """True until the simulator has been given its first batch."""
        return self._batch == 0

    def run(self, injections, copies=None):
        """Run a batch (on ``copies`` faulty copies of the bench: None for all); return
        ``(records, failure)``: the bench records of the injections that ran, and ``None``
        or ``(injection id or None, reason)`` if the simulator stopped (it is then closed;
        its log is :meth:`log`). The id is None when no one injection can be blamed: none,
        or several, were in flight."""
        self._batch += 1
        # The simulator is idle and appends: the last batch's lines can go.
        os.truncate(self._records, 0)
        self._offset = 0
        self._send({"batch": self._batch, "injections": injections,
                    **({} if copies is None else {"copies": copies})})
        try:
            lines = self._wait()
            failure = None
        except _Failed as failed:
            suspects = [self._next] if self._flying is None else self._flying
            lines = failed.lines
            failure = (suspects[0] if len(suspects) == 1 else None, failed.reason)
        return [line for line in lines if "id" in line], failure

    def _send(self, message):
        try:
            os.write(self._in, (json.dumps(message) + "\n").encode())
        except OSError:
            pass        # the simulator is gone: waiting says how

    def _wait(self):
        """Wait for the simulator's notice (on the pipe) that a golden check or a batch is
        through; return the lines it wrote (to its records file) meanwhile, heartbeats
        left out. :class:`_Failed`, with the lines, when the simulator exits or makes no
        progress (no line) for the hang timeout. The records go through a file, not the
        pipe, so that the simulator's every line costs the worker nothing."""
        progress = time.monotonic()
        while True:
            ready, _, _ = select.select([self._out], [], [], min(1.0, self.job.hang_timeout))
            if ready:
                notice = os.read(self._out, 1 << 12)
                self._read()
                if not notice:
                    self.process.wait()
                    raise _Failed(f"exit status {self.process.returncode}", self._take())
                return self._take()
            if self._read():
                progress = time.monotonic()
            elif time.monotonic() - progress > self.job.hang_timeout:
                self.kill()
                self._read()
                raise _Failed("hang", self._take())

    def _read(self):
        """Parse the new complete lines of the records file; return how many."""
        with open(self._records, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        count = 0
        for line in data[:end].splitlines():
            message = json.loads(line)
            count += 1
            if "next" in message:
                self._next = message["next"]
                self._flying = message.get("flying")
            if "alive" not in message:
                self._lines.append(message)
        return count

    def _take(self):
        lines, self._lines = self._lines, []
        return lines

    def log(self):
        """The end of the simulator's log (bytes)."""
        path = self.folder / "sim.log"
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_BYTES))
            return handle.read()

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def close(self):
        """Stop the simulator (end of its input, then a kill) and remove its folder."""
        for fd in ("_in", "_out"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


# Per worker process: the simulators not running a task, by job key, and the benches built.
_lock = threading.Lock()
_idle = {}
_simulations = {}


def _simulation(job, build):
    """The job's built bench: the client's, if this machine has it; else built (or found
    in the build cache) once per process."""
    given = job.simulation
    if given is not None and (Path(given.build_dir) / "ftvoter.stamp").is_file():
        return given
    key = json.dumps(job.spec.as_dict(), sort_keys=True)
    with _lock:
        if key not in _simulations:
            _simulations[key] = build(job.spec)
        return _simulations[key]


def _remove_orphans():
    """Remove the simulator folders of worker processes that died (killed, say)."""
    for folder in Path(tempfile.gettempdir()).glob("ftvoter-worker-*-*"):
        pid = folder.name.split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:     # someone else's process
            pass


def _build(spec):
    from .bench_top import build_bench
    return build_bench(spec)


def _take(job):
    """An idle simulator of ``job``, or a new one; simulators of other jobs are closed."""
    with _lock:
        stale = [sim for key, sims in _idle.items() if key != job.key for sim in sims]
        for key in [key for key in _idle if key != job.key]:
            del _idle[key]
        simulator = _idle.get(job.key, []).pop() if _idle.get(job.key) else None
    for sim in stale:
        sim.close()
    if simulator is None:
        simulator = Simulator(job)
        simulator.start()
    return simulator


def _give_back(simulator):
    with _lock:
        _idle.setdefault(simulator.job.key, []).append(simulator)


def close_simulators():
    """Close every idle simulator of this worker process (the end of a campaign)."""
    with _lock:
        sims = [sim for sims in _idle.values() for sim in sims]
        _idle.clear()
    for sim in sims:
        sim.close()
    return len(sims)


def warm():
    """Import what a task needs (run on every worker when the client connects)."""
    import cocotb_tools.runner  # noqa: F401 (imported for its import time)

    from . import toolchain  # noqa: F401 (imported for its import time)
    return os.getpid()


def prestart(job, dask_worker=None):
    """Start one simulator of ``job`` per thread of this worker (``dask_worker``, given by
    ``Client.run``) and keep them idle (run on
    every worker at once before the first task, so that they start side by side, not each
    at its worker's first task); return how many are idle. A simulator that fails to start
    is left to the tasks, which report it."""
    threads = getattr(dask_worker, "nthreads", 1) if dask_worker is not None else 1
    with _lock:
        have = len(_idle.get(job.key, []))
    started = []
    try:
        for _ in range(max(0, threads - have)):
            started.append(_take(job))
    except CampaignError:
        pass
    for simulator in started:
        _give_back(simulator)
    with _lock:
        return len(_idle.get(job.key, []))


def _host():
    import socket
    return f"{socket.gethostname()}:{os.getpid()}"


def run_batch(job, injections):
    """Run a batch of injections on this worker; return a dict: ``records`` (the bench
    records), ``failures`` (``{"id", "reason", "log"}``: an injection that stopped its
    simulator, and the end of the simulator's log as text), ``cycles``, ``seconds`` (of
    simulation) and ``golden_at`` (when a simulator started for it passed its golden check).
    """
    records, failures, golden_at = [], [], []
    rest = list(injections)
    in_a_row = 0
    simulated = 0.0
    copies = None       # after a failure with several injections in flight: 1
    while rest:
        simulator = _take(job)
        if simulator.fresh:
            golden_at.append(simulator.golden_at)
        began = time.monotonic()
        try:
            done, failure = simulator.run(rest, copies)
            simulated += time.monotonic() - began
        except BaseException:
            simulator.close()
            raise
        records.extend(done)
        if done:
            in_a_row = 0
        finished = {record["id"] for record in done}
        if failure is None:
            _give_back(simulator)
            break
        failed, reason = failure
        log = simulator.log().decode("utf-8", "replace")
        simulator.close()
        in_a_row += 1
        if in_a_row > FAILURE_LIMIT:
            raise CampaignError(f"simulators keep failing with no progress on worker "
                                f"{_host()} ({reason})")
        if failed is not None:
            failures.append({"id": failed, "reason": f"simulator {reason}", "log": log})
            finished.add(failed)
        else:
            copies = 1
        rest = [injection for injection in rest if injection["id"] not in finished]
    return {"records": records, "failures": failures, "golden_at": golden_at,
            "cycles": sum(record["run_cycles"] for record in records),
            "seconds": simulated, "worker": _host()}
