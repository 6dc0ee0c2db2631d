import json

import pytest

from ftvoter.sim.results import ResultStore, ResultStoreError
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
         r"must be a non-empty list of flip, stuck0, stuck1, not \['zap'\]"),
        (("max = 2000", "max = 5000"), "faults.start.max", r"must be at most 2999, not 5000"),
        (("window = 1500", "window = \"long\""), "observation.window",
         r"must be an integer, not 'long'"),
        (("[observation]", "[observation]\nsize = 3"), "observation.size",
         r"unknown key \(known: window\)"),
        (("lanes = 3", "lanes = 3\noffset = 2"), "design.offset",
         r"delayed lockstep needs design.lanes = 2"),
    ])
    def test_rejected(self, tmp_path, edit, key, reason):
        path = write(tmp_path, GOOD.replace(*edit))
        with pytest.raises(SpecError, match=rf"^{path}: {key}: {reason}$"):
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
