"""K faulty copies sharing one golden copy, under Verilator: the same records as one.

The bench of ``tb/test_campaign_tb.py`` (DMR, halt, every lane site and every flip-flop of
the bridge) built with three faulty copies (``bench.copies``): each copy runs its own
injection, started by a load from the golden copy in the cycle the others are in. The
results must be those of the one-copy bench, id by id, on the local engine and on Dask; a
crashed simulator with several injections in flight must still pin the crash on the one
that caused it.
"""

import dataclasses

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
count = 600
start = { min = 0, max = 199 }
duration = 0

[observation]
window = 200
"""


def by_id(folder):
    records = ResultStore(folder).records()
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "an injection is recorded twice"
    return {record["id"]: record for record in records}


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("copies")
    path = folder / "dmr.toml"
    path.write_text(SPEC)
    one = load_spec(path)
    three = dataclasses.replace(one, bench={"copies": 3})
    build_bench(one)
    build_bench(three)
    return one, three


@pytest.fixture(scope="module")
def reference(specs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    run_campaign(specs[0], folder, workers=1, progress=False)
    return by_id(folder)


@pytest.mark.tb
class TestCopies:
    def test_three_copies_give_the_records_of_one(self, specs, reference, tmp_path):
        run_campaign(specs[1], tmp_path, workers=1, progress=False)
        assert by_id(tmp_path) == reference
        outcomes = {record["outcome"] for record in reference.values()}
        assert {"masked", "halted"} <= outcomes

    def test_crash_with_several_in_flight_is_pinned(self, specs, reference, tmp_path):
        # The simulator crashes as it starts injection 37 while two others run: the rest of
        # the shard runs again on one copy, where the crash comes again and is pinned.
        run_campaign(specs[1], tmp_path, workers=1, progress=False,
                     env={"FTVOTER_SHARD_CRASH": "37"})
        results = by_id(tmp_path)
        assert results[37]["outcome"] == "sim_error"
        assert [k for k, r in results.items() if r["outcome"] == "sim_error"] == [37]
        del results[37]
        assert results == {k: v for k, v in reference.items() if k != 37}

    def test_on_dask_the_same_records(self, specs, reference, tmp_path):
        # The Dask backend's simulators (sim/shard_server.py) run their batches on the three
        # copies too, going on from where the last batch ended.
        run_campaign(specs[1], tmp_path, progress=False, cluster=2, batch=100)
        assert by_id(tmp_path) == reference
