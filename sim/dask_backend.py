"""Campaign shards as tasks on a dask.distributed cluster (``ftvoter campaign --scheduler
ADDRESS`` or ``--cluster local:N``).

The client (this module, in the ``ftvoter campaign`` process) splits the pending
injections into batches, submits them as tasks (:func:`~ftvoter.sim.dask_worker.run_batch`)
and records each batch's results as it completes, through the same
:class:`~ftvoter.sim.supervisor.Recorder` and result store as the local engine; progress,
resume and the ``sim_error`` records of crashed or hung simulators are the same too. A
batch is sized to about :data:`TARGET_SECONDS` of simulation (measured as the campaign
runs: a task costs about 2 ms of Dask's time), and smaller towards the end, so the last
batches share out evenly. Only a completed task's results are recorded, each injection
once: a task whose worker died is run again elsewhere by the scheduler, and a record that
arrives twice is kept once.
"""

import logging
import math
import re
import time
import uuid
from collections import deque

from .plan import bench_injections
from .supervisor import CampaignError

__all__ = ["ClusterError", "DaskRunner", "local_workers", "check_address"]

#: Simulated seconds a batch is sized to, once the speed of an injection is known.
TARGET_SECONDS = 0.3
#: The smallest and largest batch.
MIN_BATCH, MAX_BATCH = 16, 8192
#: Seconds between two looks at the cluster's size (workers may come and go).
THREADS_EVERY = 2.0
#: Seconds to reach a scheduler, and to wait for its first worker.
CONNECT_TIMEOUT, WORKER_TIMEOUT = 10, 120

_ADDRESS = re.compile(r"((tcp|tls|ws|wss|ucx)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)"
                      r":(\d{1,5})")


class ClusterError(RuntimeError):
    """The cluster cannot be used as asked (a bad address, no scheduler there, no worker):
    bad usage; the message is one line."""


def local_workers(text):
    """The N of ``local:N`` (1 or more); ``ValueError`` with the reason otherwise."""
    match = re.fullmatch(r"local:(\d+)", text)
    if not match:
        raise ValueError(f"expected local:N (N worker processes on this machine), not "
                         f"{text!r}")
    if int(match[1]) < 1:
        raise ValueError(f"a local cluster needs at least 1 worker, not {text!r}")
    return int(match[1])


def check_address(text):
    """A scheduler address (``tcp://host:port`` or ``host:port``); ``ValueError`` if it is
    not one."""
    match = _ADDRESS.fullmatch(text)
    if not match or not 0 < int(match[4]) < 65536:
        raise ValueError(f"expected a Dask scheduler address such as tcp://host:8786, not "
                         f"{text!r}")
    return text if match[1] else f"tcp://{text}"


class DaskRunner:
    """A connection to a Dask cluster that runs a campaign's injections.

    ``scheduler`` is the address of a running scheduler; ``local`` a number of worker
    processes for a :class:`distributed.LocalCluster` started here (one thread each),
    closed with the runner. ``batch`` fixes the injections per task (default: sized by
    time). Raises :class:`ClusterError` if no scheduler answers within ``connect_timeout``
    seconds, or no worker joins it within ``worker_timeout`` (default:
    :data:`CONNECT_TIMEOUT`, :data:`WORKER_TIMEOUT`).
    """

    def __init__(self, *, scheduler=None, local=None, batch=None,
                 connect_timeout=None, worker_timeout=None):
        if (scheduler is None) == (local is None):
            raise ValueError("Give either a scheduler address or a local worker count")
        try:
            import distributed
        except ImportError:
            raise ClusterError("the Dask backend needs dask.distributed: pip install "
                               "distributed") from None
        connect_timeout = connect_timeout or CONNECT_TIMEOUT
        worker_timeout = worker_timeout or WORKER_TIMEOUT
        self._cluster = None
        self._batch = batch
        self._per_injection = None      # simulated seconds per injection, measured
        self.description = f"local cluster of {local} workers" if local else scheduler
        if local is not None:
            import dask
            try:
                # Workers that only wait for their simulators need no statistical profiler
                # (it samples every thread's stack every 10 ms).
                with dask.config.set({"distributed.worker.profile.enabled": False}):
                    self._cluster = distributed.LocalCluster(
                        n_workers=local, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR)
            except Exception as error:      # Dask raises many kinds
                raise ClusterError(f"cannot start a local Dask cluster: {error}") from None
            scheduler = self._cluster.scheduler_address
        try:
            self.client = distributed.Client(scheduler, timeout=connect_timeout,
                                             set_as_default=False)
        except (OSError, TimeoutError) as error:
            self.close()
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ClusterError(f"cannot reach a Dask scheduler at {scheduler} ({reason})"
                               ) from None
        try:
            self.client.wait_for_workers(1, timeout=worker_timeout)
        except TimeoutError:
            self.close()
            raise ClusterError(f"no worker joined the Dask scheduler at {scheduler} within "
                               f"{worker_timeout} s") from None
        from .dask_worker import warm
        try:
            self.client.run(warm)
        except Exception:           # a worker that cannot even import: its tasks will say
            pass

    def threads(self):
        """The worker threads the cluster has now (each runs one simulator)."""
        return sum(self.client.nthreads().values())

    def close(self):
        """Stop the simulators the workers keep, disconnect, close a local cluster."""
        client = getattr(self, "client", None)
        if client is not None:
            from .dask_worker import close_simulators
            try:
                if self._cluster is None:
                    client.run(close_simulators, wait=True)
            except Exception:       # a worker gone: its simulators are too
                pass
            client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _size(self, left, threads):
        if self._batch is not None:
            return self._batch
        # Before any batch is timed: a quarter of each thread's share (not a small probe:
        # every batch costs a task and a new schedule of its own in the simulator).
        size = math.ceil(left / (4 * threads)) if self._per_injection is None else \
            round(TARGET_SECONDS / max(self._per_injection, 1e-6))
        # Near the end, smaller batches: the last ones share out over every thread.
        size = min(size, math.ceil(left / (4 * threads)))
        return max(MIN_BATCH, min(MAX_BATCH, size))

    def run(self, job, pending, recorder, progress=None):
        """Run ``pending`` (planned injections) as tasks of ``job``
        (:class:`~ftvoter.sim.dask_worker.Job`) and record every one; return the figures
        ``ran``, ``sim_errors``, ``cycles``, ``startup_seconds`` (to the first golden check
        passed on a worker) and ``seconds``, as :meth:`Supervisor.run
        <ftvoter.sim.supervisor.Supervisor.run>` does, and ``submitted`` (injections sent
        to the workers; a task the scheduler runs again after its worker died counts once).

        Raises :class:`CampaignError` when a task fails (a simulator that fails before its
        first injection or keeps failing, a task that kills its workers); on any exit
        (``KeyboardInterrupt`` too) the tasks in flight are cancelled, and every result that
        arrived is recorded.
        """
        import distributed

        from .dask_worker import prestart, run_batch
        figures = {"ran": 0, "sim_errors": 0, "cycles": 0, "submitted": 0}
        started, wall = time.monotonic(), time.time()
        self._prestart(prestart, job)
        queue = deque(pending)
        flying = {}
        finished = distributed.as_completed(loop=self.client.loop)
        name = f"ftvoter-{job.key}-{uuid.uuid4().hex[:8]}"
        threads, asked = 1, -math.inf
        try:
            while queue or flying:
                if time.monotonic() - asked > THREADS_EVERY:    # a round trip: not often
                    threads, asked = max(1, self.threads()), time.monotonic()
                while queue and len(flying) < 2 * threads + 1:
                    size = self._size(len(queue), threads)
                    batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                    future = self.client.submit(run_batch, job, bench_injections(batch),
                                                pure=False, key=f"{name}-{batch[0]['id']}")
                    flying[future] = batch
                    finished.add(future)
                    figures["submitted"] += len(batch)
                done = finished.next_batch(block=False)
                if not done:
                    time.sleep(0.01)
                for future in done:
                    batch = flying.pop(future)
                    self._record(_result(future), batch, recorder, figures, wall)
                if progress is not None:
                    progress.show(len(recorder.store.done))
        finally:
            for future in flying:
                future.cancel()
        figures["seconds"] = time.monotonic() - started
        return figures

    def _prestart(self, prestart, job):
        """Start every worker's simulators side by side, before the first task."""
        try:
            self.client.run(prestart, job)
        except Exception:       # a worker that cannot start one: its tasks will say why
            pass

    def _record(self, result, batch, recorder, figures, wall):
        done = recorder.store.done
        new = [record for record in result["records"] if record["id"] not in done]
        recorder.append_new(new)
        figures["ran"] += len({record["id"] for record in new})
        figures["cycles"] += result["cycles"]
        for failure in result["failures"]:
            if failure["id"] in recorder.store.done:
                continue
            log = recorder.directory / "logs" / f"injection{failure['id']}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(failure["log"])
            recorder.error(recorder.by_id[failure["id"]], failure["reason"], log)
            figures["ran"] += 1
            figures["sim_errors"] += 1
        if result["golden_at"]:
            figures.setdefault("startup_seconds", max(0.0, min(result["golden_at"]) - wall))
        if result["records"] and result["seconds"] > 0:
            each = result["seconds"] / len(result["records"])
            self._per_injection = each if self._per_injection is None else \
                0.5 * (self._per_injection + each)


def _result(future):
    """A finished task's result; :class:`CampaignError` (one line) if it failed."""
    try:
        return future.result()
    except CampaignError:
        raise
    except Exception as error:      # whatever the task or Dask raised
        from distributed import KilledWorker
        if isinstance(error, KilledWorker):
            raise CampaignError(f"a Dask task of the campaign killed every worker it ran "
                                f"on ({error})") from None
        reason = str(error).splitlines()[0] if str(error) else ""
        raise CampaignError(f"a Dask task of the campaign failed: {type(error).__name__}"
                            f"{': ' + reason if reason else ''}") from None
