"""The Dask backend's options and its parts that need no simulator: bad input gives one line
and exit 2 before anything is written; batches are sized by time and share out the end.

tb/test_campaign_dask_tb.py runs campaigns on a LocalCluster against the local engine.
"""

import socket

import pytest

from ftvoter.sim import dask_backend
from ftvoter.sim.cli import main
from ftvoter.sim.dask_backend import DaskRunner, check_address, local_workers
from ftvoter.sim.dask_worker import Job
from ftvoter.sim.spec import parse_spec

SPEC = """\
name = "dask_input"

[workload]
cycles = 100

[faults]
sites = ["lane*.regfile.r1"]
models = ["flip"]
count = 5

[observation]
window = 50
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.setenv("FTVOTER_BUILD_DIR", str(tmp_path / "build"))
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path


def run(argv, capsys):
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err.strip()


@pytest.mark.parametrize("args, message", [
    (["--cluster", "local:0"], "argument --cluster: a local cluster needs at least 1 worker, "
                               "not 'local:0'"),
    (["--cluster", "4"], "argument --cluster: expected local:N (N worker processes on this "
                         "machine), not '4'"),
    (["--cluster", "local:99999"], "argument --cluster: expected local:1 to local:"),
    (["--scheduler", "tcp://nowhere"], "argument --scheduler: expected a Dask scheduler "
                                       "address such as tcp://host:8786, not 'tcp://nowhere'"),
    (["--scheduler", "host:99999"], "argument --scheduler: expected a Dask scheduler address"),
    (["--scheduler", "a:1", "--cluster", "local:1"], "argument --cluster: not allowed with "
                                                     "argument --scheduler"),
    (["--cluster", "local:2", "--workers", "2"], "--workers is the local engine's; with "
                                                 "--scheduler or --cluster the cluster's "
                                                 "workers run the shards"),
    (["--batch", "10"], "--batch is the injections per Dask task: give it with --scheduler "
                        "or --cluster"),
    (["--cluster", "local:1", "--batch", "0"], "argument --batch: expected an integer from 1"),
])
def test_bad_options(spec, tmp_path, capsys, args, message):
    code, _, err = run(["campaign", spec, "-o", tmp_path / "out", *args], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_no_scheduler_there(spec, tmp_path, capsys, monkeypatch):
    # A port nothing listens on: one line once the connection times out, nothing written.
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT", 1)
    code, _, err = run(["campaign", spec, "-o", tmp_path / "out", "--scheduler",
                        f"127.0.0.1:{port}"], capsys)
    assert code == 2
    assert err.startswith(f"ftvoter: error: cannot reach a Dask scheduler at "
                          f"tcp://127.0.0.1:{port} (") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_bench_dask_bad_input(capsys, tmp_path):
    code, _, err = run(["bench-dask", tmp_path / "none.toml"], capsys)
    assert code == 2 and err.startswith("ftvoter: error: ") and "cannot be read" in err
    code, _, err = run(["bench-dask", "--workers", "1"], capsys)
    assert code == 2 and "argument --workers: expected an integer from 2" in err


class TestParts:
    def test_addresses(self):
        assert check_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
        assert check_address("sched.example:8786") == "tcp://sched.example:8786"
        assert check_address("tls://[::1]:8786") == "tls://[::1]:8786"
        assert local_workers("local:3") == 3

    def test_batches_are_sized_by_time(self):
        runner = DaskRunner.__new__(DaskRunner)
        runner._batch, runner._per_injection = None, None
        assert runner._size(10_000, 2) == 1250     # not timed yet: a quarter of a share
        runner._per_injection = 0.001                   # 1 ms an injection: 0.3 s batches
        assert runner._size(10_000, 2) == 300
        assert runner._size(800, 2) == 100              # the end shared out: left / 4 threads
        assert runner._size(10, 2) == dask_backend.MIN_BATCH
        runner._per_injection = 1e-7
        assert runner._size(10**7, 1) == dask_backend.MAX_BATCH
        runner._batch = 7
        assert runner._size(10_000, 2) == 7

    def test_job_key(self):
        spec = parse_spec({"faults": {"count": 5}})
        job = Job(spec, [["a", 0, 1]], [["b", 0, 1]], window=10, golden_cycles=20)
        assert job.key == Job(spec, [["a", 0, 1]], [["b", 0, 1]], window=10,
                              golden_cycles=20).key
        assert job.key != Job(spec, [["a", 0, 1]], [["b", 0, 1]], window=10,
                              golden_cycles=20, env={"FTVOTER_SHARD_CRASH": "3"}).key
