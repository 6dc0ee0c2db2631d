"""Statistical stopping (faults.stop = "interval"): the campaign samples in rounds and stops
at the first round whose intervals, computed here in closed form from the results file,
are within the margin; the manifest, summary and report say which rule stopped it.

The simulator is replaced by a runner that records a fixed outcome per injection id, so
these tests need no Verilator (tb/test_campaign_dask_tb.py runs the rule on the bench).
"""

import json
import math
import re
from statistics import NormalDist

import pytest

from ftvoter.sim import campaign
from ftvoter.sim.cli import main
from ftvoter.sim.spec import SpecError, load_spec, parse_spec, sample_size
from ftvoter.sim.stopping import decide, intervals, round_ends

SPEC = """\
name = "stopping"
seed = 5

[design]
lanes = 2

[workload]
cycles = 100

[faults]
sites = ["lane*.regfile.r1"]
models = ["flip", "stuck0"]
margin = {margin}
confidence = {confidence}
stop = "interval"
round = {round}
{extra}
start = {{ min = 0, max = 99 }}

[observation]
window = 50
"""

COVERED = {"corrected", "isolated", "wrong_lane", "recovered", "halted", "false_alarm"}


def spec_file(tmp_path, margin=0.05, confidence=0.9, round=40, extra=""):
    path = tmp_path / "stop.toml"
    path.write_text(SPEC.format(margin=margin, confidence=confidence, round=round,
                                extra=extra))
    return path


def outcome(number):
    """A fixed outcome per id: about 30% masked, 60% halted, 5% latent, 3% sdc, 2% late."""
    share = number * 2654435761 % 1000 / 1000
    for limit, name in ((0.3, "masked"), (0.9, "halted"), (0.95, "latent"), (0.98, "sdc")):
        if share < limit:
            return name
    return "late"


class FakeRunner:
    """Records :func:`outcome` for each pending injection, as a shard would."""
    workers = 2

    def __init__(self):
        self.rounds = []

    def run(self, job, pending, recorder, progress):
        self.rounds.append([injection["id"] for injection in pending])
        recorder.store.append([{**recorder._described(i), "outcome": outcome(i["id"]),
                                "detection_latency": None, "propagation_latency": None,
                                "io_latency": None, "detected_by": None, "offline": [],
                                "escaped": outcome(i["id"]) in ("sdc", "late"),
                                "end_cycle": i["start"]} for i in pending])
        return {"ran": len(pending), "sim_errors": 0, "cycles": 0, "seconds": 0.01}

    def threads(self):
        return self.workers

    def close(self):
        pass


@pytest.fixture
def fake(monkeypatch):
    runner = FakeRunner()
    monkeypatch.setattr(campaign, "_local_runner", lambda *args: runner)
    return runner


def wilson(k, n, confidence):
    """Wilson's score interval in closed form: (k + z²/2 ± z √(k(n-k)/n + z²/4)) / (n + z²)."""
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def narrow(records, margin, confidence):
    """Both shares' intervals inside estimate ± margin; and the shares."""
    ran = [r["outcome"] for r in records]
    effective = [o for o in ran if o != "masked"]
    shares = {"coverage": (sum(o in COVERED for o in effective), len(effective)),
              "sdc_late": (ran.count("sdc") + ran.count("late"), len(ran))}
    ok = True
    for k, n in shares.values():
        low, high = wilson(k, n, confidence)
        ok &= max(high - k / n, k / n - low) <= margin + 1e-12
    return ok, shares


def results(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


class TestRounds:
    def test_round_ends(self):
        # 100 each until a quarter of those run is more, then a quarter, the last one short.
        assert round_ends(1000, 100) == [100, 200, 300, 400, 500, 625, 782, 978, 1000]
        assert round_ends(50, 100) == [50]
        assert round_ends(3, 1) == [1, 2, 3]

    def test_intervals_in_closed_form(self):
        records = [{"outcome": o} for o in ["masked"] * 30 + ["halted"] * 60 +
                   ["latent"] * 6 + ["sdc"] * 3 + ["late"] * 1 + ["sim_error"] * 4]
        found = intervals(records, 0.9)
        assert found["coverage"]["numerator"] == 60 and found["coverage"]["denominator"] == 70
        assert found["sdc_late"]["numerator"] == 4 and found["sdc_late"]["denominator"] == 100
        assert found["coverage"]["interval"] == pytest.approx(wilson(60, 70, 0.9), abs=1e-12)
        assert found["sdc_late"]["interval"] == pytest.approx(wilson(4, 100, 0.9), abs=1e-12)

    def test_no_effective_fault_is_never_narrow(self):
        found, ok = decide([{"outcome": "masked"}] * 1000, 0.5, 0.9)
        assert found["coverage"]["value"] is None and not ok


class TestCampaign:
    def test_stops_where_the_interval_says(self, tmp_path, fake):
        spec = load_spec(spec_file(tmp_path))
        figures = campaign.run_campaign(spec, tmp_path / "out", progress=False)
        stop = figures["stop"]
        records = results(tmp_path / "out")
        ids = sorted(r["id"] for r in records)
        # The plan is the sample sized up front, four times over (the most it may run).
        planned = json.loads((tmp_path / "out" / "manifest.json").read_text())
        population = planned["bits"] * 2 * 100      # site bits x models x start cycles
        assert planned["bits"] == 64                # r1 of two lanes
        assert planned["campaign"]["injections"] == 4 * sample_size(
            population, margin=0.05, confidence=0.9)
        # Expected: the first round end (40, 80, 120, 160, 200, 250, ...) whose records
        # give both intervals within the margin.
        ends = [40, 80, 120, 160, 200, 250, 313, 392, 490]
        by_id = {r["id"]: r for r in records}
        expected = None
        for number, end in enumerate(ends, 1):
            if end > len(records):
                break
            ok, shares = narrow([by_id[i] for i in range(end)], 0.05, 0.9)
            if ok:
                expected = (number, end, shares)
                break
        assert expected is not None and expected[0] > 1, "the rule should need a few rounds"
        number, end, shares = expected
        assert ids == list(range(end))
        starts = [0, *ends[:number - 1]]
        assert fake.rounds == [list(range(a, b))
                               for a, b in zip(starts, ends[:number], strict=True)]
        assert stop["rule"] == "interval" and stop["injections"] == end
        assert stop["rounds"] == number
        assert (stop["coverage"]["numerator"], stop["coverage"]["denominator"]) == \
            shares["coverage"]
        assert stop["coverage"]["interval"] == pytest.approx(wilson(*shares["coverage"], 0.9))
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        assert manifest["stop"] == json.loads(json.dumps(stop))

    def test_limit_when_the_intervals_stay_wide(self, tmp_path, fake):
        # count is the most to run: 100 injections cannot give a 1% margin.
        spec = load_spec(spec_file(tmp_path, margin=0.01, round=30, extra="count = 100"))
        figures = campaign.run_campaign(spec, tmp_path / "out", progress=False)
        assert [len(r) for r in fake.rounds] == [30, 30, 30, 10]
        assert figures["stop"]["rule"] == "limit" and figures["stop"]["injections"] == 100
        assert not narrow(results(tmp_path / "out"), 0.01, 0.9)[0]

    def test_resume_after_the_stop_runs_nothing(self, tmp_path, fake):
        spec = load_spec(spec_file(tmp_path))
        first = campaign.run_campaign(spec, tmp_path / "out", progress=False)
        before = (tmp_path / "out" / "results.jsonl").read_bytes()
        again = campaign.run_campaign(spec, tmp_path / "out", resume=True, progress=False)
        assert again["ran"] == 0 and again["stop"] == first["stop"]
        assert (tmp_path / "out" / "results.jsonl").read_bytes() == before

    def test_resume_an_interrupted_round(self, tmp_path, fake, monkeypatch):
        # Cut off in its second round, the campaign resumed runs the rest of that round
        # and stops where an uninterrupted one does.
        spec = load_spec(spec_file(tmp_path))
        whole = campaign.run_campaign(spec, tmp_path / "whole", progress=False)
        run = FakeRunner.run

        def cut(self, job, pending, recorder, progress):
            if self.rounds:
                run(self, job, pending[:7], recorder, progress)
                raise KeyboardInterrupt
            return run(self, job, pending, recorder, progress)
        monkeypatch.setattr(FakeRunner, "run", cut)
        fake.rounds.clear()
        with pytest.raises(KeyboardInterrupt):
            campaign.run_campaign(spec, tmp_path / "cut", progress=False)
        assert len(results(tmp_path / "cut")) == 47
        assert "stop" not in json.loads((tmp_path / "cut" / "manifest.json").read_text())
        monkeypatch.setattr(FakeRunner, "run", run)
        fake.rounds.clear()
        resumed = campaign.run_campaign(spec, tmp_path / "cut", resume=True, progress=False)
        assert fake.rounds[0] == list(range(47, 80))
        assert resumed["stop"] == whole["stop"]
        assert results(tmp_path / "cut") == sorted(results(tmp_path / "whole"),
                                                   key=lambda r: r["id"])

    def test_summary_and_report_say_why(self, tmp_path, fake, capsys):
        from ftvoter.analysis.report import write_report
        spec = load_spec(spec_file(tmp_path))
        stop = campaign.run_campaign(spec, tmp_path / "out", progress=False)["stop"]
        assert main(["summary", str(tmp_path / "out")]) == 0
        out, err = capsys.readouterr()
        assert err == ""                    # stopped early is not "incomplete"
        line = next(line for line in out.splitlines() if "stopped by" in line)
        assert line.split(None, 2)[2].startswith(
            f"interval: coverage {100 * stop['coverage']['value']:.2f}%")
        assert f"within ±5% at 90% after {stop['injections']} injections" in line
        page = write_report(tmp_path / "out").read_text()
        assert '<p id="stop">Stopped by interval: ' in page
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["stop"]["rule"] == "interval" and summary["complete"]
        assert summary["planned"] == stop["injections"]

    def test_every_campaign_records_its_rule(self, tmp_path, fake):
        path = spec_file(tmp_path)
        path.write_text(path.read_text().replace('stop = "interval"\nround = 40\n', "")
                        .replace("margin = 0.05\nconfidence = 0.9", "count = 30"))
        figures = campaign.run_campaign(load_spec(path), tmp_path / "out", progress=False)
        assert figures["stop"] == {"rule": "count", "injections": 30}


class TestSpec:
    FAULTS = {"margin": 0.05, "confidence": 0.9, "stop": "interval"}

    def test_defaults(self):
        spec = parse_spec({"faults": dict(self.FAULTS)})
        assert spec.faults["stop"] == "interval" and spec.faults["round"] == 100
        # Without stop the faults table has the keys it always had.
        assert "stop" not in parse_spec({"faults": {"count": 5}}).faults

    @pytest.mark.parametrize("faults, key, reason", [
        ({"margin": 0.05}, "faults.confidence",
         "is required with faults.margin (a number between 0 and 1)"),
        ({"confidence": 0.9}, "faults.margin",
         "is required with faults.confidence (a number between 0 and 1)"),
        ({"count": 10, "stop": "interval"}, "faults.stop",
         "needs faults.margin and faults.confidence (the interval's margin and confidence "
         "level)"),
        ({**FAULTS, "stop": "soon"}, "faults.stop",
         "must be one of sample_size, interval, not 'soon'"),
        ({"count": 10, "round": 5}, "faults.round",
         'is the size of a round of statistical stopping: give it with faults.stop = '
         '"interval"'),
        ({**FAULTS, "round": 0}, "faults.round", "must be at least 1, not 0"),
        ({**FAULTS, "count": "exhaustive"}, "faults.count",
         "is the most to run with faults.stop = \"interval\": a number, not 'exhaustive'"),
        ({"margin": 0.05, "confidence": 0.9, "count": 5}, "faults.count",
         "give either count or margin and confidence, not both"),
    ])
    def test_rejected(self, faults, key, reason):
        with pytest.raises(SpecError, match=rf"^<spec>: {key}: {re.escape(reason)}$"):
            parse_spec({"faults": faults})

    def test_cli_says_it_in_one_line(self, tmp_path, capsys):
        path = spec_file(tmp_path)
        path.write_text(path.read_text().replace("confidence = 0.9\n", ""))
        with pytest.raises(SystemExit) as exit:
            main(["campaign", str(path), "-o", str(tmp_path / "out")])
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert err == (f"ftvoter: error: {path}: faults.confidence: is required with "
                       f"faults.margin (a number between 0 and 1)\n")
        assert not (tmp_path / "out").exists()
