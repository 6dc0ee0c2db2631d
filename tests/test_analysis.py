"""Campaign statistics and the report, from hand-written results."""

import json
import re

import pytest

from ftvoter.analysis import files
from ftvoter.analysis.files import OutputError
from ftvoter.analysis.report import write_report
from ftvoter.analysis.stats import (
    COVERED,
    DETECTED,
    OUTCOMES,
    campaign_parameters,
    coverage,
    latency,
    load,
    load_campaign,
    outcome_shares,
    site_group,
    wilson,
)
from ftvoter.sim.cli import main


def result(id_, outcome, detection=None, *, model="flip", register="regfile.r1", lane=0,
           escaped=False):
    return {"id": id_, "site": f"lane{lane}.{register}[0]", "register": register,
            "lane": lane, "bit": 0, "model": model, "start": 10, "duration": 1,
            "common": False, "outcome": outcome, "detection_latency": detection,
            "propagation_latency": None if detection is None else detection - 1,
            "io_latency": None, "escaped": escaped, "detected_by": None, "offline": [],
            "end_cycle": 50}


# 20 injections: 6 masked, 2 latent, 5 isolated, 4 halted, 1 sdc, 1 hang, 1 sim_error.
RECORDS = ([result(i, "masked") for i in range(6)] +
           [result(6, "latent", register="scratch.m2"), result(7, "latent", lane=1)] +
           [result(8 + i, "isolated", 2 + i, model="stuck1") for i in range(5)] +
           [result(13 + i, "halted", 10 * (i + 1), register="bus.wdata") for i in range(4)] +
           [result(17, "sdc", register="w_data", lane=None), result(18, "hang"),
            result(19, "sim_error")])


# RECORDS and two injections detected too late (a wrong request reached a path first).
WITH_LATE = RECORDS + [result(20, "late", 30, escaped=True),
                       result(21, "late", 40, register="bus.wdata", escaped=True)]


def line(record):
    return json.dumps(record) + "\n"


def write_campaign(folder, records, *, planned=None, text=None):
    """A campaign folder: a manifest (``planned`` injections, if given) and results."""
    campaign = {"spec": {"name": "hand", "design": {"lane": "workload", "lanes": 2,
                                                    "offset": 0, "policy": "halt"}}}
    if planned is not None:
        campaign["injections"] = planned
    manifest = {"campaign": campaign, "seed": 3, "git_revision": "abc",
                "versions": {"python": "3.11"}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "results.jsonl").write_text(text if text is not None else
                                          "".join(line(r) for r in records))
    return folder


@pytest.fixture
def campaign(tmp_path):
    return write_campaign(tmp_path, RECORDS)


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
            {"masked": 8 / 19, "coverage": 9 / 11, "isolation": 5 / 9, "recovery": 0})

    def test_recovered_is_its_own_share(self):
        # A rolled-back injection is covered, and neither isolated nor halted.
        records = [{"outcome": "recovered"}] * 3 + [{"outcome": "isolated"}] + \
                  [{"outcome": "halted"}] + [{"outcome": "masked"}] * 5
        assert campaign_parameters(records) == pytest.approx(
            {"masked": 0.5, "coverage": 1.0, "isolation": 0.2, "recovery": 0.6})

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

    @pytest.mark.parametrize("register, group", [
        # PicoRV32 (names as the instrumented netlist gives them).
        ("picorv32_core.cpuregs[10]", "regfile"), ("picorv32_core.cpuregs[0]", "regfile"),
        ("picorv32_core.reg_pc", "pc"), ("picorv32_core.reg_next_pc", "pc"),
        ("picorv32_core.count_instr", "csr"), ("picorv32_core.count_cycle", "csr"),
        ("picorv32_core.mem_wdata", "bus"), ("axi_adapter.ack_awvalid", "bus"),
        ("picorv32_core.cpu_state", "control"), ("picorv32_core.decoded_rd", "control"),
        ("picorv32_core.reg_op1", "control"),
        # Sentinel: x0-x31 in words 0-31 of its register file RAM, the CSRs from 32.
        ("cpu.datapath.regfile.mem[0]", "regfile"), ("cpu.datapath.regfile.mem[31]", "regfile"),
        ("cpu.datapath.regfile.mem[32]", "csr"), ("cpu.datapath.regfile.mem[63]", "csr"),
        ("cpu.datapath.csrfile.pub__mie_r", "csr"), ("cpu.exception_router.out__mcause", "csr"),
        ("cpu.datapath.pc_mod.dat_r", "pc"), ("adapter.bus__wdata", "bus"),
        ("cpu.data_adr", "bus"), ("cpu.control.sequencer.next_adr", "control"),
        ("cpu.decode.imm_gen.imm", "control"),
    ])
    def test_cpu_site_group(self, register, group):
        assert site_group({"lane": 1, "register": register}) == group

    def test_cpu_groups_leave_the_workload_lane_alone(self):
        for register in ("regfile.r3", "scratch.m1", "lfsr.state", "ctrl.phase", "bus.awaddr"):
            assert site_group({"lane": 0, "register": register}) == register.split(".")[0]

    def test_outcomes_are_the_files_ones(self):
        # One definition of the outcome classes: the results reader's.
        assert OUTCOMES is files.OUTCOMES and "late" in OUTCOMES
        assert set(DETECTED) <= set(OUTCOMES) and set(COVERED) <= set(DETECTED)
        # `late` is detected (its latency is a detection latency), but not in time.
        assert "late" in DETECTED and "late" not in COVERED

    def test_late_counts_against_the_metrics(self):
        figures = coverage(WITH_LATE)
        assert figures["injections"] == 21
        # Covered (in time): 5 isolated + 4 halted, of 21 - 6 masked; late is not covered.
        assert figures["diagnostic_coverage"]["numerator"] == 9
        assert figures["diagnostic_coverage"]["value"] == pytest.approx(9 / 15)
        # SPFM = 1 - (sdc + late + hang) / all, LFM = 1 - latent / (all - those).
        assert figures["spfm"]["value"] == pytest.approx(1 - (1 + 2 + 1) / 21)
        assert figures["lfm"]["value"] == pytest.approx(1 - 2 / 17)
        assert figures["lfm"]["denominator"] == 17

    def test_late_lowers_coverage_not_isolation(self):
        # Effective: 21 - 8 quiet = 13, of which 9 covered in time; isolation of those 9.
        assert campaign_parameters(WITH_LATE) == pytest.approx(
            {"masked": 8 / 21, "coverage": 9 / 13, "isolation": 5 / 9, "recovery": 0})

    def test_load_sets_bad_lines_aside(self, tmp_path):
        # Garbage, an unknown outcome, an id out of the plan, a duplicate, a torn last
        # line: every good id counted once, nothing raised, everything named.
        text = (line(RECORDS[0]) + "not json at all\n" + line(RECORDS[1])
                + '{"id": 2, "outcome": "exploded"}\n' + line(result(40, "masked"))
                + line(RECORDS[0]) + line(RECORDS[2]) + line(RECORDS[3])[:25])
        write_campaign(tmp_path, None, planned=20, text=text)
        manifest, records = load(tmp_path)
        assert manifest["campaign"]["injections"] == 20
        assert [r["id"] for r in records] == [0, 1, 2]
        found = load_campaign(tmp_path)
        assert found.planned == 20 and found.records == records and not found.complete
        assert [number for number, _, _ in found.results.bad] == [2, 4, 5]
        assert found.results.duplicates == 1 and found.results.torn
        problems = found.problems()
        assert "\n" not in problems
        assert "3 line(s) that are not result records (line 2, 4, 5" in problems
        assert "1 duplicated id(s)" in problems and "torn last line" in problems
        assert problems.endswith("; incomplete: 3 of 20 planned injections")

    def test_load_campaign_clean(self, campaign):
        found = load_campaign(campaign)
        assert found.planned is None and found.complete and found.problems() == ""
        assert len(found.records) == 20 and found.manifest["seed"] == 3
        write_campaign(campaign, RECORDS, planned=20)
        found = load_campaign(campaign)
        assert found.planned == 20 and found.complete and found.problems() == ""

    def test_load_without_manifest(self, tmp_path):
        (tmp_path / "results.jsonl").write_text(line(RECORDS[0]))
        found = load_campaign(tmp_path)
        assert found.manifest == {} and found.planned is None and len(found.records) == 1

    @pytest.mark.parametrize("text, reason", [
        ("{not json", r"Expecting property name .*: line 1 column 2 \(char 1\)"),
        ("[1, 2]", r"a JSON list, not an object"),
        ('{"campaign": 3}', r"campaign must be an object, not 3"),
        ('{"campaign": {"injections": "ten"}}',
         r"campaign\.injections must be a non-negative integer, not 'ten'"),
        (b"\xff\xfe\x00{", r".+"),
    ])
    def test_load_rejects_a_bad_manifest(self, tmp_path, text, reason):
        (tmp_path / "results.jsonl").write_text(line(RECORDS[0]))
        path = tmp_path / "manifest.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: not a valid "
                                             rf"manifest \({reason}\)$"):
            load_campaign(tmp_path)
        with pytest.raises(ValueError, match=r"not a valid manifest"):
            load(tmp_path)

    def test_load_without_results(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"holds no campaign results"):
            load(tmp_path / "none")
        with pytest.raises(FileNotFoundError, match=r"holds no campaign results"):
            load_campaign(tmp_path)


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

    def test_report_clean_has_no_warning(self, campaign):
        text = write_report(campaign).read_text()
        summary = json.loads((campaign / "summary.json").read_text())
        assert (summary["planned"], summary["complete"], summary["problems"]) == \
            (None, True, "")
        assert 'class="warning"' not in text
        assert (summary["escaped"]["count"], summary["escaped"]["share"]) == (0, 0.0)
        # No temporary file is left beside the outputs.
        assert not list(campaign.glob(".*"))

    def test_report_late_and_escaped(self, tmp_path):
        folder = write_campaign(tmp_path / "late", WITH_LATE, planned=22)
        text = write_report(folder).read_text()
        summary = json.loads((folder / "summary.json").read_text())
        assert "<tr><td>late</td><td>2</td>" in text
        assert summary["outcomes"]["late"]["count"] == 2
        assert set(summary["outcomes"]) == set(OUTCOMES)
        assert text.index("<tr><td>halted</td>") < text.index("<tr><td>late</td>") < \
            text.index("<tr><td>false_alarm</td>")
        assert summary["escaped"]["count"] == 2
        assert summary["escaped"]["share"] == pytest.approx(2 / 22)
        assert summary["escaped"]["interval"] == pytest.approx(list(wilson(2, 22)))
        assert '<span id="escaped">2</span> injections, 9.09%' in text
        assert "single-point fault metric (1 − (sdc + late + hang) / all)" in text
        assert "latent fault metric (1 − latent / (all − sdc − late − hang))" in text
        assert "late counts as not covered" in text
        assert summary["coverage"]["spfm"]["value"] == pytest.approx(1 - 4 / 21)
        assert summary["measured_parameters"]["coverage"] == pytest.approx(9 / 13)
        # Late detections are detections: their latencies are in the detection figures.
        assert re.search(r"<td>detection</td><td>11</td>", text)
        assert (summary["planned"], summary["complete"], summary["problems"]) == \
            (22, True, "")

    def test_report_warns(self, tmp_path):
        # A garbage line, a duplicate and a torn last line, in a campaign of 25 planned
        # injections of which 20 were read: the page says so, summary.json too.
        good = [line(r) for r in RECORDS]
        text = "".join(good[:7] + ["\x00garbage\n"] + good[7:] + [good[3], good[4][:30]])
        folder = write_campaign(tmp_path / "bad", None, planned=25, text=text)
        page = write_report(folder).read_text()
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["injections"] == 20
        assert (summary["planned"], summary["complete"]) == (25, False)
        assert summary["problems"] == load_campaign(folder).problems()
        problems = summary["problems"]
        assert "1 line(s) that are not result records (line 8: not valid JSON)" in problems
        assert "1 duplicated id(s), each counted once" in problems
        assert "a torn last line (an interrupted write), left out" in problems
        assert problems.endswith("incomplete: 20 of 25 planned injections")
        warning = re.search(r'<p class="warning">Warning: (.*?)</p>', page, re.S)
        assert warning and "incomplete: 20 of 25 planned injections" in warning[1]
        assert "line 8" in warning[1] and "torn last line" in warning[1]
        assert "20 injections (of 25 planned)" in page

    def test_report_incomplete_only(self, tmp_path):
        folder = write_campaign(tmp_path / "short", RECORDS[:10], planned=20)
        page = write_report(folder).read_text()
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["problems"] == "incomplete: 10 of 20 planned injections"
        assert summary["complete"] is False
        assert ('<p class="warning">Warning: incomplete: 10 of 20 planned injections.'
                in page)

    @pytest.mark.parametrize("name", ["latency.png", "downtime.png", "summary.json",
                                      "index.html"])
    def test_report_writes_atomically(self, campaign, name):
        # A file that cannot be written (here: a folder in its place) gives OutputError,
        # naming it, and leaves no temporary file behind: plots included.
        (campaign / name).mkdir()
        with pytest.raises(OutputError, match=rf"^cannot write {re.escape(str(campaign))}/"
                                              rf"{re.escape(name)}: "):
            write_report(campaign)
        assert not [p for p in campaign.iterdir() if p.name.endswith(".tmp")]

    def test_plots_are_complete_pngs(self, campaign):
        write_report(campaign)
        for png in campaign.glob("*.png"):
            data = png.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")

    def test_report_of_a_campaign_where_nothing_fails(self, tmp_path, capsys):
        # Every injection masked: every architecture is always up (infinite nines); the
        # report is still written (it once failed in the log-scaled MTTR plot).
        records = [{**RECORDS[0], "id": i, "outcome": "masked"} for i in range(5)]
        folder = write_campaign(tmp_path / "calm", records, planned=5)
        assert main(["report", str(folder)]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "index.html" in out
        summary = json.loads((folder / "summary.json").read_text())
        assert all(r["availability"] == 1 for r in summary["availability"])

    def test_manifest_that_is_a_folder(self, tmp_path):
        folder = write_campaign(tmp_path / "odd", RECORDS[:2])
        (folder / "manifest.json").unlink(missing_ok=True)
        (folder / "manifest.json").mkdir()
        with pytest.raises(ValueError, match=r"manifest.json: not a valid manifest \(cannot "
                                             r"be read: Is a directory\)$"):
            load_campaign(folder)

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
