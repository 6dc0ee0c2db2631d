"""Campaign statistics and the report, from hand-written results."""

import json
import re

import pytest

from ftvoter.analysis.report import write_report
from ftvoter.analysis.stats import (
    campaign_parameters,
    coverage,
    latency,
    load,
    outcome_shares,
    site_group,
    wilson,
)
from ftvoter.sim.cli import main


def result(id_, outcome, detection=None, *, model="flip", register="regfile.r1", lane=0):
    return {"id": id_, "site": f"lane{lane}.{register}[0]", "register": register,
            "lane": lane, "bit": 0, "model": model, "start": 10, "duration": 1,
            "common": False, "outcome": outcome, "detection_latency": detection,
            "propagation_latency": None if detection is None else detection - 1,
            "io_latency": None, "escaped": False, "detected_by": None, "offline": [],
            "end_cycle": 50}


# 20 injections: 6 masked, 2 latent, 5 isolated, 4 halted, 1 sdc, 1 hang, 1 sim_error.
RECORDS = ([result(i, "masked") for i in range(6)] +
           [result(6, "latent", register="scratch.m2"), result(7, "latent", lane=1)] +
           [result(8 + i, "isolated", 2 + i, model="stuck1") for i in range(5)] +
           [result(13 + i, "halted", 10 * (i + 1), register="bus.wdata") for i in range(4)] +
           [result(17, "sdc", register="w_data", lane=None), result(18, "hang"),
            result(19, "sim_error")])


@pytest.fixture
def campaign(tmp_path):
    manifest = {"campaign": {"spec": {"name": "hand", "design": {"lane": "workload",
                                                                 "lanes": 2, "offset": 0,
                                                                 "policy": "halt"}}},
                "seed": 3, "git_revision": "abc", "versions": {"python": "3.11"}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return tmp_path


class TestStats:
    @pytest.mark.parametrize("k, n, low, high", [
        # Newcombe, Statistics in Medicine 17 (1998), table I (Wilson, no correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ])
    def test_wilson_known_values(self, k, n, low, high):
        got = wilson(k, n)
        assert got == pytest.approx((low, high), abs=5e-5)

    def test_wilson_edges(self):
        assert wilson(0, 0) == (0.0, 1.0)
        assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0

    def test_outcome_shares(self):
        shares = outcome_shares(RECORDS)
        assert shares["masked"]["count"] == 6 and shares["masked"]["share"] == 0.3
        assert shares["masked"]["interval"] == wilson(6, 20)

    def test_coverage(self):
        figures = coverage(RECORDS)
        assert figures["injections"] == 19                     # sim_error left out
        # Detected: 5 isolated + 4 halted, of 19 - 6 masked.
        assert figures["diagnostic_coverage"]["value"] == pytest.approx(9 / 13)
        assert figures["diagnostic_coverage"]["interval"] == wilson(9, 13)
        assert figures["latent_share"]["value"] == pytest.approx(2 / 19)
        assert figures["spfm"]["value"] == pytest.approx(1 - 2 / 19)
        assert figures["lfm"]["value"] == pytest.approx(1 - 2 / 17)

    def test_campaign_parameters(self):
        assert campaign_parameters(RECORDS) == pytest.approx(
            {"masked": 8 / 19, "coverage": 9 / 11, "isolation": 5 / 9})

    def test_latency(self):
        stats = latency([None, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        assert (stats["n"], stats["min"], stats["p50"], stats["p90"], stats["max"]) == \
            (10, 1, 5, 9, 10)
        assert sum(stats["histogram"]["counts"]) == 10
        assert stats["cdf"]["p"][-1] == 1.0
        assert latency([None]) is None

    def test_site_group(self):
        assert [site_group(r) for r in RECORDS[5:9]] == ["regfile", "scratch", "regfile",
                                                          "regfile"]
        assert site_group(RECORDS[17]) == "bridge"

    def test_load_rejects_bad_lines(self, tmp_path):
        (tmp_path / "results.jsonl").write_text('{"id": 0, "outcome": "exploded"}\n')
        with pytest.raises(ValueError, match=r"results\.jsonl:1: outcome must be one of"):
            load(tmp_path)
        with pytest.raises(FileNotFoundError):
            load(tmp_path / "none")


class TestReport:
    def test_report_builds(self, campaign):
        page = write_report(campaign)
        text = page.read_text()
        summary = json.loads((campaign / "summary.json").read_text())
        # Five plots, embedded in the page and kept beside it.
        assert text.count("data:image/png;base64,") == 5
        for name in ("latency", "outcomes", "availability_coverage", "availability_mttr",
                     "downtime"):
            assert (campaign / f"{name}.png").stat().st_size > 5000
        # The page shows the figures of summary.json.
        assert summary["injections"] == 20
        for outcome, share in summary["outcomes"].items():
            assert f"<tr><td>{outcome}</td><td>{share['count']}</td>" in text
        dc = summary["coverage"]["diagnostic_coverage"]
        assert f"{100 * dc['value']:.2f}%" in text
        assert summary["measured_parameters"]["isolation"] == pytest.approx(5 / 9)
        for row in summary["availability"]:
            assert f"{100 * row['availability']:.6f}%" in text
        assert summary["detection_latency"]["p50"] == 6.0     # of 2..6, 10..40
        assert re.search(r"<td>detection</td><td>9</td>", text)

    def test_cli(self, campaign, capsys):
        assert main(["report", str(campaign)]) == 0
        assert "index.html" in capsys.readouterr().out

    def test_cli_no_results(self, tmp_path, capsys):
        with pytest.raises(SystemExit) as exit_:
            main(["report", str(tmp_path)])
        assert exit_.value.code == 2
        assert "holds no campaign results" in capsys.readouterr().err


class TestAvailabilityCommand:
    def test_json(self, capsys, tmp_path):
        assert main(["availability", "--json", "--prism", str(tmp_path)]) == 0
        figures = json.loads(capsys.readouterr().out)
        assert set(figures) == {"simplex", "ha_cluster", "dmr_lockstep", "tmr"}
        for row in figures.values():
            assert {"availability", "nines", "downtime_minutes_per_year", "sdc_fit",
                    "parameters"} <= set(row)
        assert 'label "up"' in (tmp_path / "tmr.prism").read_text()

    def test_from_campaign(self, campaign, capsys):
        assert main(["availability", "--campaign", str(campaign)]) == 0
        assert "isolation=0.555556" in capsys.readouterr().out

    def test_bad_config(self, tmp_path, capsys):
        config = tmp_path / "c.toml"
        config.write_text("coverage = 2.0\n")
        with pytest.raises(SystemExit) as exit_:
            main(["availability", "--config", str(config)])
        assert exit_.value.code == 2
        assert capsys.readouterr().err == (f"ftvoter: error: {config}: Parameter coverage "
                                           f"must be a share from 0 to 1, not 2.0\n")
