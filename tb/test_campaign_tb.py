"""The campaign engine under Verilator, DMR: classification of hand-built injections, and
robustness (resume after a kill or Ctrl-C, worker count, crashed and hung shards).

All tests here use one bench build (DMR, halt, every lane site and every flip-flop of the
bridge, ``bridge.*``), made once by the ``built`` fixture.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ftvoter.sim.campaign import build_bench, run_campaign
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

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
count = {count}
start = {{ min = 0, max = 199 }}
duration = 0

[observation]
window = 200
"""


def write_spec(folder, count):
    path = folder / f"dmr{count}.toml"
    path.write_text(SPEC.format(count=count))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The spec files, with the bench built once for all of them."""
    folder = tmp_path_factory.mktemp("campaign")
    specs = {"small": write_spec(folder, 600), "large": write_spec(folder, 6000)}
    build_bench(load_spec(specs["small"]))
    return specs


@pytest.fixture(scope="module")
def reference(built, tmp_path_factory):
    """The small campaign run with one worker: the results others must equal."""
    folder = tmp_path_factory.mktemp("reference")
    run_campaign(load_spec(built["small"]), folder, workers=1, progress=False)
    return by_id(folder)


@pytest.fixture(scope="module")
def reference_large(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference_large")
    run_campaign(load_spec(built["large"]), folder, workers=2, progress=False)
    return by_id(folder)


def by_id(folder):
    records = ResultStore(folder).records()
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "an injection is recorded twice"
    return {record["id"]: record for record in records}


def hand_built(built, tmp_path, injections):
    run_campaign(load_spec(built["small"]), tmp_path, workers=1, progress=False,
                 injections=injections)
    return [record for _, record in sorted(by_id(tmp_path).items())]


@pytest.mark.tb
class TestClassification:
    """Hand-built cases, each with the outcome and latencies the design documents."""

    def test_unused_bit_is_masked(self, built, tmp_path):
        # The workload's I/O window is 0x000-0x3ff: address bit 15 is never 1.
        [result] = hand_built(built, tmp_path, [
            {"site": "lane0.bus.awaddr[15]", "model": "stuck0", "start": 10}])
        assert result["outcome"] == "masked"
        assert result["detection_latency"] is None
        assert result["propagation_latency"] is None

    def test_flipped_output_register_halts_dmr(self, built, tmp_path):
        # awvalid flipped at the edge ending cycle 50 is wrong in cycle 51 (propagation
        # 1); the bridge's mismatch is registered, one cycle later (detection 2); with
        # neither lane reporting itself broken, the halt policy stops the bridge.
        [result] = hand_built(built, tmp_path, [
            {"site": "lane0.bus.awvalid[0]", "model": "flip", "start": 50}])
        assert result["outcome"] == "halted"
        assert result["propagation_latency"] == 1
        assert result["detection_latency"] == 2
        assert result["detected_by"] == "mismatch"
        assert result["offline"] == []
        assert result["escaped"] is False

    def test_fault_after_the_comparator_is_sdc(self, built, tmp_path):
        # Forwarded write data (the bridge's register after the comparison; the netlist
        # names it by the port it drives, csr_data), stuck at 1 in bit 0: no lane output
        # differs, nothing detects it, and the first even word written is wrong. The lanes
        # may diverge later, alike, when they read the corrupted word back. (A
        # self-checking bridge stops it: tb/test_campaign_checked_tb.py.)
        [result] = hand_built(built, tmp_path, [
            {"site": "bridge.csr_data[0]", "model": "stuck1", "start": 0}])
        assert result["outcome"] == "sdc"
        assert result["detection_latency"] is None
        assert result["io_latency"] is not None
        assert (result["propagation_latency"] is None or
                result["propagation_latency"] > result["io_latency"])
        assert result["escaped"] is True

    def test_stuck_mismatch_is_found_by_the_self_test(self, built, tmp_path):
        # The blame policy's registered mismatch stuck at 0 from cycle 10 would hide every
        # later divergence. The comparator's self-test sequence after the one at reset
        # (SELFTEST.PERIOD, 1024 cycles by default, later) forces a mismatch and does not
        # see it: a checker error (ERROR_CAUSE.SELFTEST) at most PERIOD + 1 cycles after
        # the fault, with no lane output diverged and no wrong I/O.
        spec = built["small"].with_name("window.toml")
        spec.write_text(built["small"].read_text().replace("window = 200",
                                                           "window = 1100"))
        run_campaign(load_spec(spec), tmp_path, workers=1, progress=False, injections=[
            {"site": "bridge.policy.mismatch[0]", "model": "stuck0", "start": 10}])
        [result] = by_id(tmp_path).values()
        assert result["detected_by"] == "checker"
        assert 1000 < result["detection_latency"] <= 1024 + 1
        assert result["outcome"] == "false_alarm"
        assert result["io_latency"] is None

    def test_parity_error_isolates_the_lane(self, built, tmp_path):
        # A permanent parity-bit fault: the lane's own check reports it, and the bridge
        # takes that lane out; the other finishes the work (same I/O as the golden run).
        [result] = hand_built(built, tmp_path, [
            {"site": "lane1.regfile.parity[3]", "model": "stuck1", "start": 5}])
        assert result["outcome"] == "isolated"
        assert result["detected_by"] == "self_error"
        assert result["offline"] == [1]

    def test_unknown_site_is_rejected(self, built, tmp_path):
        from ftvoter.sim.spec import SpecError
        with pytest.raises(SpecError, match=r"^injection 0: site: no site 'lane9.x\[0\]'$"):
            hand_built(built, tmp_path, [{"site": "lane9.x[0]", "model": "flip",
                                          "start": 1}])


@pytest.mark.tb
class TestCampaign:
    def test_detects_and_contains(self, reference):
        outcomes = [record["outcome"] for record in reference.values()]
        assert len(outcomes) == 600
        # A campaign with no detection at all would mean a blind checker.
        assert outcomes.count("halted") + outcomes.count("isolated") > 100
        # Faults in the lanes never escape DMR; the bridge's test-only site may.
        lane_sdc = [r for r in reference.values()
                    if r["outcome"] == "sdc" and r["lane"] is not None]
        assert lane_sdc == []

    def test_two_workers_give_the_same_results(self, built, reference, tmp_path):
        run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False)
        assert by_id(tmp_path) == reference

    def test_reuse_gives_the_same_results_as_restarts(self, built, reference, tmp_path):
        # The reference (one worker) goes on from run to run by loading the faulty copy
        # from the golden one; here every run starts from reset instead.
        run_campaign(load_spec(built["small"]), tmp_path, workers=1, progress=False,
                     reuse=False)
        assert by_id(tmp_path) == reference

    def test_crashed_shard_is_recorded(self, built, reference, tmp_path):
        run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False,
                     env={"FTVOTER_SHARD_CRASH": "37"})
        results = by_id(tmp_path)
        assert results[37]["outcome"] == "sim_error"
        assert results[37]["error"].startswith("simulator exit status")
        assert (tmp_path / results[37]["log"]).is_file()
        del results[37]
        assert results == {k: v for k, v in reference.items() if k != 37}

    @pytest.mark.long     # make test-long: make test's time budget

    def test_hung_shard_is_recorded(self, built, reference, tmp_path):
        run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False,
                     env={"FTVOTER_SHARD_HANG": "41"}, hang_timeout=3)
        results = by_id(tmp_path)
        assert results[41]["outcome"] == "sim_error"
        assert results[41]["error"] == "simulator hang"
        del results[41]
        assert results == {k: v for k, v in reference.items() if k != 41}

    @pytest.mark.long     # make test-long: make test's time budget

    def test_existing_folder_needs_resume(self, built, tmp_path):
        from ftvoter.sim.results import ResultStoreError
        run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False)
        with pytest.raises(ResultStoreError, match="--resume"):
            run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False)
        # A finished campaign resumed runs nothing.
        assert run_campaign(load_spec(built["small"]), tmp_path, workers=2, resume=True,
                            progress=False)["ran"] == 0

    @pytest.mark.long     # both in make test-long: make test's time budget
    @pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
    def test_resume_after_interruption(self, built, reference_large, tmp_path, how):
        spec = built["large"]
        command = [sys.executable, "-m", "ftvoter.sim", "campaign", str(spec), "-o",
                   str(tmp_path), "--workers", "2", "--quiet"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        results = tmp_path / "results.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 300:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the campaign ended before it could be interrupted"
        process.send_signal(how)
        out, err = process.communicate(timeout=60)
        if how == signal.SIGINT:
            assert process.returncode == 130
            assert "--resume" in err
        before = len(by_id(tmp_path))
        assert 0 < before < 6000
        resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                                 timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        results = by_id(tmp_path)
        assert sorted(results) == list(range(6000))
        assert results == reference_large
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert manifest["campaign"]["injections"] == 6000
        assert os.listdir(tmp_path) and not (tmp_path / "shards").exists()


@pytest.mark.tb
class TestResultStoreOnResume:
    @pytest.mark.long     # make test-long: make test's time budget
    def test_garbage_line_loses_no_record(self, built, reference, tmp_path):
        # A finished campaign with a garbage line in the middle, a line without an id and
        # a duplicated id: --resume keeps every good record (runs nothing again), counts
        # each id once and moves the bad lines, with their numbers, to quarantine.jsonl.
        run_campaign(load_spec(built["small"]), tmp_path, workers=2, progress=False)
        results = tmp_path / "results.jsonl"
        lines = results.read_text().splitlines(keepends=True)
        lines[300:300] = ["{garbage\n", '{"outcome": "masked"}\n', lines[10]]
        results.write_text("".join(lines))
        said = []
        figures = run_campaign(load_spec(built["small"]), tmp_path, workers=2, resume=True,
                               progress=False, say=said.append)
        assert figures["ran"] == 0
        assert by_id(tmp_path) == reference
        assert len(said) == 1 and "line 301, 302" in said[0] and "1 duplicated id" in said[0]
        quarantined = [json.loads(line) for line in
                       (tmp_path / "quarantine.jsonl").read_text().splitlines()]
        assert [q["line"] for q in quarantined] == [301, 302, 303]


@pytest.mark.tb
@pytest.mark.long     # make test-long: make test's time budget
def test_long_golden_run_is_not_a_hang(built, tmp_path):
    # The golden check of a long workload (1M cycles, about 13 s with make test's -O0
    # model) records nothing for longer than the hang timer (2 s); the shard's heartbeats
    # show it is making progress, so it is not killed as hung.
    spec = tmp_path / "long.toml"
    spec.write_text(built["small"].read_text().replace("cycles = 200", "cycles = 1000000")
                    .replace("count = 600", "count = 4"))
    figures = run_campaign(load_spec(spec), tmp_path / "out", workers=1, progress=False,
                           hang_timeout=2.0, env={"FTVOTER_SHARD_HEARTBEAT": "20000"})
    assert figures["ran"] == 4 and figures["sim_errors"] == 0
