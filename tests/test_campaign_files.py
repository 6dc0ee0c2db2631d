import json
import re

import pytest

from ftvoter.sim.results import ResultStore, ResultStoreError, discard
from ftvoter.sim.spec import SpecError, load_spec, parse_spec, sample_size

GOOD = """
name = "demo"
seed = 7

[design]
lanes = 3
policy = "halt"

[workload]
cycles = 3000
seed = 5

[faults]
sites = ["lane*.regfile.*", "scratch.*"]
models = ["flip", "stuck1"]
count = 500
start = { min = 100, max = 2000 }
duration = 10

[observation]
window = 1500
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


class TestSpec:
    def test_good(self, tmp_path):
        spec = load_spec(write(tmp_path, GOOD))
        assert spec.name == "demo" and spec.seed == 7
        assert spec.design == {"lane": "workload", "lanes": 3, "offset": 0, "policy": "halt"}
        assert spec.workload == {"cycles": 3000, "seed": 5}
        assert spec.faults["start"] == {"min": 100, "max": 2000}
        assert spec.faults["count"] == 500 and spec.faults["bits"] == 1
        assert spec.observation == {"window": 1500}
        assert json.loads(json.dumps(spec.as_dict()))["faults"]["models"] == ["flip",
                                                                             "stuck1"]

    @pytest.mark.parametrize("edit, key, reason", [
        (("lanes = 3", "lanes = 4"), "design.lanes", r"must be one of 2, 3, not 4"),
        (("policy = \"halt\"", "policy = \"panic\""), "design.policy",
         r"must be one of halt, diagnose, not 'panic'"),
        (("count = 500", "count = 0"), "faults.count", r"must be at least 1, not 0"),
        (("count = 500", "count = 500\nmargin = 0.01\nconfidence = 0.95"), "faults.count",
         r"give either count or margin and confidence, not both"),
        (("count = 500", ""), "faults.count", r"is required .*"),
        (("models = [\"flip\", \"stuck1\"]", "models = [\"zap\"]"), "faults.models",
         r"must be a non-empty list of flip, stuck0, stuck1, remove-insert, unplug, not \['zap'\]"),
        (("max = 2000", "max = 5000"), "faults.start.max", r"must be at most 2999, not 5000"),
        (("window = 1500", "window = \"long\""), "observation.window",
         r"must be an integer, not 'long'"),
        (("[observation]", "[observation]\nsize = 3"), "observation.size",
         r"unknown key \(known: window\)"),
        (("lanes = 3", "lanes = 3\noffset = 2"), "design.offset",
         r"delayed lockstep needs design.lanes = 2"),
        # Values that do not fit the bench's 32-bit fields are refused, never wrapped.
        (("duration = 10", "duration = 4294967297"), "faults.duration",
         r"must be at most 4294967295 \(the injector's 32-bit field\), not 4294967297"),
        (("window = 1500", "window = 4294967296"), "observation.window",
         r"must be at most 4294965294 \(start.max \+ window must fit the bench's 32-bit "
         r"cycle counter\), not 4294967296"),
        (("cycles = 3000", "cycles = 4294967296"), "workload.cycles",
         r"must be at most 4294967294 \(the bench's 32-bit cycle counter\), not 4294967296"),
        (("min = 100", "min = 4294967296"), "faults.start.min",
         r"must be at most 2999, not 4294967296"),
        # The key at fault is named: start.min beyond the workload, not start.max.
        (("min = 100", "min = 5000"), "faults.start.min", r"must be at most 2999, not 5000"),
        (("name = \"demo\"", "name = \"-x\""), "name", r"must be a name of .*, not '-x'"),
        (("name = \"demo\"", "name = \"../x\""), "name", r"must be a name of .*"),
        # A CPU lane runs a program; the workload lane does not.
        (("lanes = 3", "lanes = 3\nlane = \"picorv32\""), "workload.program",
         r"lane picorv32 runs a program: give a C file or an ELF \(programs/crc32.c\), "
         r"not None"),
        (("cycles = 3000", "cycles = 3000\nprogram = \"programs/crc32.c\""),
         "workload.program", r"lane workload runs no program \(a CPU lane: picorv32, "
                             r"sentinel\)"),
        (("lanes = 3", "lanes = 3\nparity = true"), "design.parity",
         r"is for CPU lanes \(picorv32, sentinel\); the workload lane has its own"),
        (("lanes = 3", "lanes = 3\nparity = 1"), "design.parity",
         r"must be true or false, not 1"),
        (("lanes = 3", "lanes = 3\nlane = \"picorv32-rtl\""), "design.lane",
         r"must be one of workload, picorv32, sentinel, not 'picorv32-rtl'"),
    ])
    def test_rejected(self, tmp_path, edit, key, reason):
        path = write(tmp_path, GOOD.replace(*edit))
        with pytest.raises(SpecError, match=rf"^{path}: {key}: {reason}$"):
            load_spec(path)

    def test_cpu_lane(self, tmp_path):
        text = GOOD.replace("lanes = 3", "lanes = 2\nlane = \"sentinel\"").replace(
            "cycles = 3000", "cycles = 3000\nprogram = \"programs/sort.c\"")
        spec = load_spec(write(tmp_path, text))
        assert spec.design["lane"] == "sentinel"
        assert spec.workload == {"cycles": 3000, "seed": 5, "program": "programs/sort.c"}

    def test_digits_make_a_name(self, tmp_path):
        assert load_spec(write(tmp_path, GOOD.replace('name = "demo"', 'name = "2024"'))
                         ).name == "2024"

    def test_duration_default_is_permanent(self, tmp_path):
        # The README's default: a stuck-at with no duration lasts for ever (0).
        text = GOOD.replace("duration = 10\n", "")
        assert load_spec(write(tmp_path, text)).faults["duration"] == 0

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "latin.toml"
        path.write_bytes(GOOD.encode().replace(b"# ", b"# \xe9 ", 1) + b"# \xff\n")
        with pytest.raises(SpecError, match=rf"^{path}: not UTF-8 text \(byte \d+\)$"):
            load_spec(path)

    def test_not_toml(self, tmp_path):
        path = write(tmp_path, "name = \n")
        with pytest.raises(SpecError, match=rf"^{path}: not valid TOML \(.+\)$"):
            load_spec(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(SpecError, match=r"cannot be read \(No such file or directory\)$"):
            load_spec(tmp_path / "nope.toml")

    def test_statistical(self):
        spec = parse_spec({"faults": {"margin": 0.01, "confidence": 0.95}})
        assert spec.faults["count"] is None and spec.faults["margin"] == 0.01

    def test_sample_size(self):
        # Closed form of Leveugle et al. (2009): N = 10,000, e = 5 %, 95 % (t = 1.96),
        # p = 0.5: n = 10000 / (1 + 0.0025 * 9999 / (1.96**2 * 0.25)) = 369.99... -> 370.
        assert sample_size(10_000, margin=0.05, confidence=0.95) == 370
        # A huge population approaches t**2 p (1 - p) / e**2 = 384.16 -> 385.
        assert sample_size(10**12, margin=0.05, confidence=0.95) == 385
        # Never more than the population.
        assert sample_size(10, margin=0.01, confidence=0.99) == 10


class TestResultStore:
    MANIFEST = {"campaign": {"name": "demo", "seed": 7}, "tools": {"verilator": "5.048"}}

    def test_append_and_read(self, tmp_path):
        with ResultStore(tmp_path / "run").open(self.MANIFEST) as store:
            store.append([{"id": 0, "outcome": "masked"}, {"id": 1, "outcome": "sdc"}])
        data = json.loads((tmp_path / "run" / "manifest.json").read_text())
        assert data == self.MANIFEST
        assert ResultStore(tmp_path / "run").records() == [
            {"id": 0, "outcome": "masked"}, {"id": 1, "outcome": "sdc"}]

    def test_refuses_to_overwrite(self, tmp_path):
        ResultStore(tmp_path).open(self.MANIFEST).close()
        with pytest.raises(ResultStoreError, match=r"already holds a campaign; use --resume"):
            ResultStore(tmp_path).open(self.MANIFEST)

    def test_resume_after_torn_write(self, tmp_path):
        # A kill in the middle of a write leaves half a line: resuming drops it, knows
        # which injections are done, and the next append starts on a clean line.
        with ResultStore(tmp_path).open(self.MANIFEST) as store:
            store.append([{"id": i, "outcome": "masked"} for i in range(3)])
        with open(tmp_path / "results.jsonl", "a") as handle:
            handle.write('{"id": 3, "outc')
        store = ResultStore(tmp_path).open(self.MANIFEST, resume=True)
        assert store.done == {0, 1, 2}
        store.append([{"id": 3, "outcome": "isolated"}])
        store.close()
        assert [r["id"] for r in ResultStore(tmp_path).records()] == [0, 1, 2, 3]
        assert all(line.endswith("}\n") for line in
                   (tmp_path / "results.jsonl").read_text().splitlines(keepends=True))

    def test_no_duplicates(self, tmp_path):
        with ResultStore(tmp_path).open(self.MANIFEST) as store:
            store.append([{"id": 5}])
            with pytest.raises(ResultStoreError, match=r"^injection 5 is already recorded$"):
                store.append([{"id": 5}])

    def test_resume_other_campaign(self, tmp_path):
        ResultStore(tmp_path).open(self.MANIFEST).close()
        other = {**self.MANIFEST, "campaign": {"name": "demo", "seed": 8}}
        with pytest.raises(ResultStoreError, match=r"holds a different campaign"):
            ResultStore(tmp_path).open(other, resume=True)

    def test_garbage_line_keeps_every_good_record(self, tmp_path):
        # One garbage line in the middle: the records after it are kept (not run again),
        # the line is moved, with its number, to quarantine.jsonl, and the store says so.
        with ResultStore(tmp_path).open(self.MANIFEST) as store:
            store.append([{"id": i, "outcome": "masked"} for i in range(3)])
        lines = (tmp_path / "results.jsonl").read_text().splitlines(keepends=True)
        lines.insert(1, "#!garbage\n")
        lines.append('{"outcome": "masked"}\n')             # no id
        lines.append('{"id": 2, "outcome": "sdc"}\n')       # a duplicate id
        (tmp_path / "results.jsonl").write_text("".join(lines))
        store = ResultStore(tmp_path).open(self.MANIFEST, resume=True)
        store.close()
        assert store.done == {0, 1, 2}
        assert re.fullmatch(rf"{tmp_path}/results.jsonl: 2 line\(s\) that are not result "
                            r"records \(line 2, 5: not valid JSON\); 1 duplicated id\(s\), "
                            rf"each counted once; set aside in {tmp_path}/quarantine.jsonl",
                            store.repaired), store.repaired
        assert ResultStore(tmp_path).records() == [{"id": i, "outcome": "masked"}
                                                   for i in range(3)]
        quarantined = [json.loads(line) for line in
                       (tmp_path / "quarantine.jsonl").read_text().splitlines()]
        assert [(q["line"], q["text"]) for q in quarantined] == [
            (2, "#!garbage\n"), (5, '{"outcome": "masked"}\n'),
            (6, '{"id": 2, "outcome": "sdc"}\n')]
        assert quarantined[1]["reason"] == "no valid id (None)"
        assert quarantined[2]["reason"] == "duplicate id 2"

    def test_out_of_plan_id(self, tmp_path):
        manifest = {"campaign": {"injections": 2}}
        with ResultStore(tmp_path).open(manifest) as store:
            store.append([{"id": 0, "outcome": "masked"}, {"id": 7, "outcome": "masked"}])
        store = ResultStore(tmp_path).open(manifest, resume=True)
        store.close()
        assert store.done == {0} and "id 7 is not in the plan (0 to 1)" in store.repaired


class TestDiscard:
    def test_only_the_campaigns_own_files(self, tmp_path):
        ResultStore(tmp_path).open(TestResultStore.MANIFEST).close()
        for name in ("logs/injection4.log", "logs/shard0-startup.log", "logs/mine.log",
                     "shards/shard0-1/sim.log", "shards/notes.txt", "index.html"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("x")
        discard(tmp_path)
        left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                      if p.is_file())
        assert left == ["index.html", "logs/mine.log", "shards/notes.txt"]

    def test_folder_without_campaign_is_not_touched(self, tmp_path):
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "injection1.log").write_text("someone else's")
        discard(tmp_path)
        assert (tmp_path / "logs" / "injection1.log").exists()
        (tmp_path / "results.jsonl").write_text("{}\n")
        with pytest.raises(ResultStoreError, match=r"holds results.jsonl but no "
                                                   r"manifest.json: not a campaign folder"):
            discard(tmp_path)
        assert (tmp_path / "results.jsonl").exists()
