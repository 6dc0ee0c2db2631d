"""The campaign engine's Dask backend on a LocalCluster, against the local engine.

The bench is tb/test_campaign_tb.py's (DMR, halt, every lane and bridge site: the same
design, so the same build in the cache). The reference is the local engine's results
file; each Dask run must give the same lines, id for id, byte for byte: with a worker
killed mid-run, after the client is killed and the campaign resumed, with a crashed and a
hung simulator recorded as ``sim_error``, and with statistical stopping, which must stop
where the closed-form intervals of the reference say.
"""

import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from statistics import NormalDist

import pytest

from ftvoter.sim.campaign import build_bench, run_campaign
from ftvoter.sim.spec import load_spec

pytestmark = pytest.mark.tb

SPEC = """\
name = "tb_dmr"
seed = 7

[design]
lanes = 2
policy = "halt"

[workload]
cycles = 200

[faults]
sites = ["*", "bridge.*"]
count = 600
{stop}
start = {{ min = 0, max = 199 }}
duration = 0

[observation]
window = 200
"""


def lines(folder):
    """The results file's lines by id, to compare; fails if an id is there twice."""
    text = (folder / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in text]
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "an injection is recorded twice"
    return {record["id"]: line for record, line in zip(records, text, strict=True)}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "dmr.toml"
    path.write_text(SPEC.format(stop=""))
    build_bench(load_spec(path))
    return path


@pytest.fixture(scope="module")
def reference(spec, tmp_path_factory):
    """The local engine's results (two workers)."""
    folder = tmp_path_factory.mktemp("reference")
    run_campaign(load_spec(spec), folder, workers=2, progress=False)
    return lines(folder)


@pytest.fixture(scope="module")
def cluster(spec):
    """A LocalCluster of two worker processes, shared by the tests here."""
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                      silence_logs=logging.ERROR) as local, Client(local) as client:
        yield local.scheduler_address, client


def test_a_run_does_not_depend_on_the_one_before(spec, tmp_path):
    # What the engines rely on (DESIGN.md §5: results depend only on the spec and seed):
    # an injection's record is the same whatever ran before it. Every run here starts
    # from reset (reuse=False), after the golden check alone or after another injection.
    # (A stuck-at on an instrumented flip-flop used to be applied in the reset cycle, the
    # injector's cycle count being still the last run's: it beat the reset folded into D.)
    target = {"site": "bridge.policy.mismatch[0]", "model": "stuck1", "start": 131}
    before = {"site": "lane0.bus.awaddr[15]", "model": "flip", "start": 5}
    found = []
    for number, injections in enumerate(([target], [before, target])):
        run_campaign(load_spec(spec), tmp_path / str(number), workers=1, progress=False,
                     injections=injections, reuse=False)
        found.append(json.loads((tmp_path / str(number) / "results.jsonl").read_text()
                                .splitlines()[-1]))
    del found[0]["id"], found[1]["id"]
    assert found[0] == found[1]


def test_same_results_as_the_local_engine(spec, reference, cluster, tmp_path):
    address, client = cluster
    figures = run_campaign(load_spec(spec), tmp_path, scheduler=address, progress=False)
    assert lines(tmp_path) == reference
    assert figures["ran"] == 600 and figures["workers"] == 2
    assert not (tmp_path / "shards").exists()


@pytest.mark.long     # make test-long: make test's time budget
def test_crashed_and_hung_simulators_are_recorded(spec, reference, cluster, tmp_path):
    address, _ = cluster
    run_campaign(load_spec(spec), tmp_path, scheduler=address, progress=False,
                 env={"FTVOTER_SHARD_CRASH": "37", "FTVOTER_SHARD_HANG": "41"},
                 hang_timeout=3)
    results = lines(tmp_path)
    for number, error in ((37, "simulator exit status -11"), (41, "simulator hang")):
        record = json.loads(results.pop(number))
        assert record["outcome"] == "sim_error" and record["error"] == error
        assert (tmp_path / record["log"]).read_text()      # the simulator's log, kept
    assert results == {k: v for k, v in reference.items() if k not in (37, 41)}


def wilson_within(k, n, margin, confidence):
    """Wilson's interval in closed form lies within k/n ± margin."""
    if n == 0:
        return False
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return max(centre + half - k / n, k / n - (centre - half)) <= margin + 1e-12


def narrow(outcomes, margin, confidence):
    """Both intervals (coverage, sdc + late share) within the margin, in closed form."""
    effective = [o for o in outcomes if o != "masked"]
    covered = sum(o in ("isolated", "halted", "corrected", "wrong_lane", "false_alarm",
                        "recovered") for o in effective)
    wrong = outcomes.count("sdc") + outcomes.count("late")
    return (wilson_within(covered, len(effective), margin, confidence) and
            wilson_within(wrong, len(outcomes), margin, confidence))


@pytest.mark.long     # make test-long: make test's time budget
def test_statistical_stopping(spec, reference, cluster, tmp_path):
    # count = 600 is the most to run, so the plan is the reference's. The campaign must
    # stop at the first round end (50, 100, 150, 200, 250, 313, ...) at which the closed-
    # form intervals of its records are within the margin, with the reference's records.
    address, _ = cluster
    path = tmp_path / "stop.toml"
    path.write_text(SPEC.format(stop='margin = 0.05\nconfidence = 0.9\nstop = "interval"\n'
                                     'round = 50'))
    figures = run_campaign(load_spec(path), tmp_path / "out", scheduler=address,
                           progress=False)
    stop = figures["stop"]["injections"]
    found = {record["id"]: record["outcome"] for record in
             map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())}
    assert sorted(found) == list(range(stop))
    ends = [end for end in (50, 100, 150, 200, 250, 313, 392, 490, 600) if end <= stop]
    assert ends[-1] == stop and 1 < len(ends) < 9
    assert [narrow([found[i] for i in range(end)], 0.05, 0.9) for end in ends] == \
        [False] * (len(ends) - 1) + [True]
    assert figures["stop"]["rule"] == "interval"
    assert lines(tmp_path / "out") == {k: v for k, v in reference.items() if k < stop}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["stop"]["injections"] == stop


@pytest.mark.long     # make test-long: make test's time budget
def test_client_killed_then_resumed(spec, reference, cluster, tmp_path):
    # The client (ftvoter campaign --cluster local:2) killed with SIGKILL mid-run: its
    # local cluster goes with it, no simulator is left, and a resume finishes the campaign.
    command = [sys.executable, "-m", "ftvoter.sim", "campaign", str(spec), "-o",
               str(tmp_path), "--quiet", "--batch", "16", "--cluster", "local:2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = tmp_path / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 100:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the campaign ended before it could be killed"
    process.kill()
    process.communicate(timeout=30)
    before = len(lines(tmp_path))
    assert 0 < before < 600
    build = str(build_bench(load_spec(spec)).build_dir)
    address, client = cluster
    ours = set(client.run(os.getpid).values())
    deadline = time.monotonic() + 20
    while _simulators(build, ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _simulators(build, ours) == [], "simulators outlived their client"
    # Only the missing injections are sent to the workers.
    figures = run_campaign(load_spec(spec), tmp_path, scheduler=address, resume=True,
                           progress=False)
    assert figures["ran"] == figures["submitted"] == 600 - before
    assert lines(tmp_path) == reference


def _simulators(build, ours):
    """Processes running a simulator of the build folder ``build`` for a worker not in
    ``ours`` (pids)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = dict(item.split(b"=", 1) for item in handle.read().split(b"\0")
                               if b"=" in item)
        except OSError:
            continue
        if argv[0].decode(errors="replace").startswith(build) and \
                b"FTVOTER_SERVE_IN" in environ and \
                int(environ.get(b"FTVOTER_PARENT", b"0")) not in ours:
            found.append(int(pid))
    return found


@pytest.mark.long     # make test-long: make test's time budget
def test_worker_killed_mid_run_loses_nothing(spec, reference, cluster, tmp_path):
    # Small tasks, a worker killed with SIGKILL once 100 injections are recorded: its
    # tasks run again elsewhere, nothing is lost or recorded twice.
    address, client = cluster
    victim = next(iter(client.run(os.getpid).values()))
    killed = []

    def kill():
        results = tmp_path / "results.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if results.exists() and results.read_bytes().count(b"\n") >= 100:
                killed.append(results.read_bytes().count(b"\n"))
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.005)
    killer = threading.Thread(target=kill)
    killer.start()
    run_campaign(load_spec(spec), tmp_path, scheduler=address, progress=False, batch=16)
    killer.join()
    assert killed and killed[0] < 600, "the campaign ended before the worker was killed"
    assert victim not in client.run(os.getpid).values()
    assert lines(tmp_path) == reference
