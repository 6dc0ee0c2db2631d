"""Bad input, as a new user gives it: one line on standard error, exit 2 for bad usage (1
for a failed run), no traceback, and nothing that was there before removed or overwritten.

Each case here was a data loss, a wrong figure or a traceback once (issue 10).
"""

import errno
import json
import os
import re
import signal

import pytest

from ftvoter.sim.cli import main
from ftvoter.sim.results import ResultStore

SPEC = """\
name = "bad_input"
seed = 3

[design]
lanes = 2

[workload]
cycles = 100

[faults]
sites = ["lane*.regfile.r1"]
models = ["flip"]
count = 5
start = { min = 0, max = 99 }

[observation]
window = 50
"""


@pytest.fixture(autouse=True)
def build_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FTVOTER_BUILD_DIR", str(tmp_path / "build"))


def run(argv, capsys):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    """The one error line; fails if there is more, or a traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def spec_file(tmp_path, text=SPEC, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def campaign_folder(folder, records=3):
    """A folder holding a campaign (manifest and results) and someone else's files."""
    with ResultStore(folder).open({"campaign": {"spec": {"name": "old"}}}) as store:
        store.append([{"id": i, "outcome": "masked"} for i in range(records)])
    for name in ("logs/notes.log", "shards/keep/data.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("not the campaign's")
    return snapshot(folder)


class TestFresh:
    def test_validates_before_it_deletes(self, tmp_path, capsys):
        # A spec whose sites match nothing: refused, and the old results stay.
        out = tmp_path / "out"
        before = campaign_folder(out)
        spec = spec_file(tmp_path, SPEC.replace('"lane*.regfile.r1"', '"lane9.*"'))
        code, _, err = run(["campaign", spec, "-o", out, "--fresh"], capsys)
        assert code == 2
        assert one_line(err) == (f"ftvoter: error: {spec}: faults.sites: Faults must match "
                                 f"at least one site, not ['lane9.*']")
        assert snapshot(out) == before

    def test_removes_only_the_campaigns_files(self, tmp_path, capsys, monkeypatch):
        # Everything checked, the old campaign is discarded (its own files only); the run
        # then stops at the build, so the test needs no simulator.
        from ftvoter.sim import campaign
        out = tmp_path / "out"
        campaign_folder(out)

        def no_build(spec):
            raise campaign.CampaignError("stopped at the build")
        monkeypatch.setattr(campaign, "build_bench", no_build)
        code, _, err = run(["campaign", spec_file(tmp_path), "-o", out, "--fresh"], capsys)
        assert code == 1 and one_line(err) == "ftvoter: stopped at the build"
        left = snapshot(out)
        assert left["logs/notes.log"] == left["shards/keep/data.txt"] == b"not the campaign's"
        assert left["results.jsonl"] == b""                       # the new, empty store
        assert json.loads(left["manifest.json"])["campaign"]["spec"]["name"] == "bad_input"

    def test_folder_that_holds_no_campaign(self, tmp_path, capsys, monkeypatch):
        from ftvoter.sim import campaign
        out = tmp_path / "out"
        (out / "logs").mkdir(parents=True)
        (out / "logs" / "injection3.log").write_text("someone else's")
        (out / "shards" / "shard0-0").mkdir(parents=True)
        monkeypatch.setattr(campaign, "build_bench",
                            lambda spec: (_ for _ in ()).throw(campaign.CampaignError("x")))
        code, _, err = run(["campaign", spec_file(tmp_path), "-o", out, "--fresh"], capsys)
        assert code == 2
        assert one_line(err) == (f"ftvoter: error: {out}/shards holds shard folders of no "
                                 f"campaign in {out}; move them, or use another folder")
        assert (out / "logs" / "injection3.log").read_text() == "someone else's"
        assert (out / "shards" / "shard0-0").is_dir()


class TestSpecValues:
    @pytest.mark.parametrize("edit, message", [
        (("[faults]", "[faults]\nduration = 4294967297"),
         "faults.duration: must be at most 4294967295 (the injector's 32-bit field), not "
         "4294967297"),
        (("window = 50", "window = 4294967296"),
         "observation.window: must be at most 4294967195 (start.max + window must fit the "
         "bench's 32-bit cycle counter), not 4294967296"),
        (("min = 0", "min = 4294967296"), "faults.start.min: must be at most 99, not "
                                          "4294967296"),
        (("min = 0, max = 99", "min = 500"), "faults.start.min: must be at most 99, not 500"),
        (("count = 5", "count = 9223372036854775807"),
         "faults.count: 9223372036854775807 is more than the 6400 distinct injections "
         "(site bits x models x start cycles); ask for at most 6400"),
        (('sites = ["lane*.regfile.r1"]', 'sites = ["bridge.*"]\ncommon = true'),
         "faults.sites: common-cause faults (faults.common) hit a lane site in every lane, "
         "but bridge.* matches only bridge sites"),
    ])
    def test_rejected_in_one_line(self, tmp_path, capsys, edit, message):
        spec = spec_file(tmp_path, SPEC.replace(*edit))
        code, _, err = run(["campaign", spec, "-o", tmp_path / "out"], capsys)
        assert code == 2
        assert one_line(err) == f"ftvoter: error: {spec}: {message}"
        assert not (tmp_path / "out").exists()

    def test_not_utf8(self, tmp_path, capsys):
        spec = tmp_path / "latin1.toml"
        spec.write_bytes(SPEC.encode() + "# caf\xe9\n".encode("latin-1"))
        code, _, err = run(["campaign", spec], capsys)
        assert code == 2
        assert re.fullmatch(rf"ftvoter: error: {spec}: not UTF-8 text \(byte \d+\)",
                            one_line(err))


class TestOutputPaths:
    @pytest.mark.parametrize("command", [
        ["verilog", "comparator", "-o"], ["regs", "-o"], ["availability", "--prism"],
    ])
    def test_folder_is_a_file(self, tmp_path, capsys, command):
        blocker = tmp_path / "file"
        blocker.write_text("mine")
        code, _, err = run(command + [blocker / "x"], capsys)
        assert code == 2
        assert re.fullmatch(rf"ftvoter: error: cannot write {blocker}/x(/\w+\.prism)?: "
                            rf"{blocker} is a file, not a folder", one_line(err))
        assert blocker.read_text() == "mine"

    def test_output_is_a_folder(self, tmp_path, capsys):
        code, _, err = run(["verilog", "voter", "-o", tmp_path], capsys)
        assert code == 2
        assert one_line(err) == f"ftvoter: error: cannot write {tmp_path}: it is a folder"
        code, _, err = run(["regs", "-o", "/"], capsys)
        assert code == 2
        assert one_line(err) == "ftvoter: error: cannot write /: it is a folder"

    def test_campaign_folder_is_a_file(self, tmp_path, capsys):
        blocker = tmp_path / "out"
        blocker.write_text("mine")
        code, _, err = run(["campaign", spec_file(tmp_path), "-o", blocker], capsys)
        assert code == 2
        assert one_line(err) == (f"ftvoter: error: cannot use {blocker} as the result "
                                 f"folder: it is a file")
        assert blocker.read_text() == "mine"

    def test_waves_under_a_file(self, tmp_path, capsys):
        blocker = tmp_path / "file"
        blocker.write_text("mine")
        code, _, err = run(["sim", "--cycles", "10", "--waves", blocker / "w.fst"], capsys)
        assert code == 2
        assert one_line(err).startswith(f"ftvoter: error: cannot write {blocker}/w.fst: ")
        assert not (tmp_path / "build" / "sim").exists()        # nothing was built

    # Running as root, a read-only folder cannot be made here: the failing call is faked.
    @pytest.mark.parametrize("code, number, reason", [
        (2, errno.EACCES, "Permission denied"),
        (2, errno.EROFS, "Read-only file system"),
        (1, errno.ENOSPC, "No space left on device"),
    ])
    def test_write_fails(self, tmp_path, capsys, monkeypatch, code, number, reason):
        from ftvoter.analysis import files
        target = tmp_path / "c.v"
        target.write_text("the old one")

        real = os.replace

        def replace(source, destination):
            if str(destination) != str(target):    # the build cache is written as usual
                return real(source, destination)
            raise OSError(number, os.strerror(number))
        monkeypatch.setattr(files.os, "replace", replace)
        status, _, err = run(["verilog", "comparator", "-o", target], capsys)
        assert status == code
        assert one_line(err) == f"ftvoter: error: cannot write {target}: {reason}"
        assert target.read_text() == "the old one"
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


class TestVerilogOptions:
    @pytest.mark.parametrize("argv, message", [
        (["comparator", "--width", "1000000"],
         "argument --width: expected an integer from 1 to 16384, not '1000000'"),
        (["comparator", "--offset", "100000"],
         "argument --offset: expected an integer from 0 to 1024, not '100000'"),
        (["voter", "--name", "bad name;"],
         "argument --name: expected a Verilog identifier (letters, digits, '_', '$'; not "
         "starting with a digit), not 'bad name;'"),
        (["bridge", "--timeout", "70000"],
         "argument --timeout: expected an integer from 2 to 65535, not '70000'"),
        (["lockstep", "--addr-width", "100000"],
         "argument --addr-width: expected an integer from 1 to 64, not '100000'"),
        (["lockstep", "--seed", str(2**32)],
         "argument --seed: expected an integer from 1 to 4294967295, not '4294967296'"),
    ])
    def test_rejected_at_once(self, capsys, argv, message):
        code, _, err = run(["verilog"] + argv, capsys)
        assert code == 2
        prog = f"ftvoter verilog {argv[0]}"
        assert one_line(err) == f"{prog}: error: {message} (see {prog} --help)"


class TestFlip:
    @pytest.mark.parametrize("flip, message", [
        ("", "--flip must look like lane1.regfile.r3[7]@500, not ''"),
        ("lane1.regfile.r9[7]@500",
         "--flip: no site 'lane1.regfile.r9' in this design (ftvoter sites lists them)"),
        ("lane1.regfile.r3[32]@500", "--flip: lane1.regfile.r3 has bits 0 to 31, not 32"),
        ("lane2.regfile.r3[1]@5",
         "--flip: no site 'lane2.regfile.r3' in this design (ftvoter sites lists them)"),
    ])
    def test_bad_site_is_a_usage_error(self, capsys, flip, message):
        code, _, err = run(["sim", "--cycles", "10", "--waves", "none", "--flip", flip],
                           capsys)
        assert code == 2
        assert one_line(err) == f"ftvoter: error: {message}"


class TestProgram:
    @pytest.mark.parametrize("argv, message", [
        (["--program", "programs/crc32.c"],
         "--program needs a CPU lane (--lane picorv32 or sentinel or picorv32-rtl), not "
         "'workload'"),
        (["--lane", "picorv32"], "--lane picorv32 needs --program FILE (a C file or an ELF)"),
        (["--lane", "picorv32", "--program", "programs/crc32.c", "--offset", "2"],
         "--program runs plain lockstep only (no --offset)"),
        (["--console", "out.txt"], "--console needs --program"),
        (["--lane", "picorv32", "--program", "no/such/file.c"], None),
    ])
    def test_rejected_before_any_build(self, capsys, argv, message):
        code, _, err = run(["sim", "--waves", "none"] + argv, capsys)
        assert code == 2
        line = one_line(err)
        if message is None:
            assert line.startswith("ftvoter: error: ") and "no/such/file.c" in line, line
        else:
            assert line == f"ftvoter: error: {message}"


    def test_bench_program_missing(self, capsys):
        code, _, err = run(["bench", "--program", "no/such/file.c"], capsys)
        assert code == 2
        line = one_line(err)
        assert line.startswith("ftvoter: error: ") and "no/such/file.c" in line, line


class TestWorkers:
    def test_too_many_workers(self, tmp_path, capsys):
        code, _, err = run(["campaign", spec_file(tmp_path), "--workers", "99999"], capsys)
        assert code == 2
        limit = 8 * (os.cpu_count() or 1)
        assert one_line(err).endswith(f"argument --workers: expected an integer from 1 to "
                                      f"{limit}, not '99999' (see ftvoter campaign --help)")

    def test_more_workers_than_injections(self, tmp_path, monkeypatch):
        # Says what it does instead, in one line, and starts no more than it needs.
        from ftvoter.sim import campaign
        started = []
        monkeypatch.setattr(campaign, "build_bench", lambda spec: None)
        monkeypatch.setattr(campaign._Shard, "start",
                            lambda shard, *a, **k: started.append(shard) or
                            (_ for _ in ()).throw(KeyboardInterrupt))
        said = []
        from ftvoter.sim.spec import load_spec
        with pytest.raises(KeyboardInterrupt):
            campaign.run_campaign(load_spec(spec_file(tmp_path)), tmp_path / "out",
                                  workers=8, progress=False, say=said.append)
        assert said == ["ftvoter campaign: 5 injection(s) to run: starting 5 worker(s), "
                        "not 8"]


class TestInterrupt:
    @pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
    def test_while_planning(self, tmp_path, capsys, monkeypatch, how):
        from ftvoter.sim import campaign

        def interrupted(spec):
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        monkeypatch.setattr(campaign, "inspect_bench", interrupted)
        before = signal.getsignal(signal.SIGTERM)
        code, _, err = run(["campaign", spec_file(tmp_path), "-o", tmp_path / "out"], capsys)
        assert code == 130
        assert one_line(err) == ("ftvoter campaign: interrupted before any injection ran; "
                                 "nothing was written")
        assert not (tmp_path / "out").exists()
        assert signal.getsignal(signal.SIGTERM) == before      # the handler is put back


class TestSummary:
    def write(self, folder, lines, planned=None):
        folder.mkdir(exist_ok=True)
        if planned is not None:
            (folder / "manifest.json").write_text(json.dumps(
                {"campaign": {"injections": planned}}))
        (folder / "results.jsonl").write_text("".join(lines))

    def record(self, number, outcome="masked"):
        return json.dumps({"id": number, "outcome": outcome, "detection_latency": None,
                           "propagation_latency": None}) + "\n"

    def test_garbage_unknown_outcome_duplicates_and_torn_line(self, tmp_path, capsys):
        self.write(tmp_path, [self.record(0), "garbage\n", self.record(1, "melted"),
                              self.record(2), self.record(2), self.record(3)[:-9]],
                   planned=4)
        code, out, err = run(["summary", tmp_path, "--json"], capsys)
        assert code == 0
        note = one_line(err)
        assert note.startswith(f"ftvoter summary: {tmp_path}/results.jsonl: 2 line(s) that "
                               f"are not result records (line 2, 3: not valid JSON); 1 "
                               f"duplicated id(s), each counted once; a torn last line")
        assert note.endswith("incomplete: 2 of 4 planned injections")
        figures = json.loads(out)
        assert figures["injections"] == 2 and figures["outcomes"]["masked"] == 2

    def test_incomplete_says_so(self, tmp_path, capsys):
        self.write(tmp_path, [self.record(i) for i in range(10)], planned=20)
        code, out, _ = run(["summary", tmp_path], capsys)
        assert code == 0
        assert re.search(r"total\s+10 of 20 planned \(incomplete\)", out)

    def test_corrupt_manifest_is_named(self, tmp_path, capsys):
        self.write(tmp_path, [self.record(0)])
        (tmp_path / "manifest.json").write_text("{not json")
        for command in ("summary", "report"):
            code, _, err = run([command, tmp_path], capsys)
            assert code == 2
            assert one_line(err).startswith(f"ftvoter: error: {tmp_path}/manifest.json: ")


class TestHelp:
    def test_report_help_has_no_doubled_percent(self, capsys):
        run(["report", "--help"], capsys)
        with pytest.raises(SystemExit):
            main(["report", "--help"])
        assert "%%" not in capsys.readouterr().out
