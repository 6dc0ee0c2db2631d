"""The campaign engine under Verilator, TMR: the odd lane is outvoted."""

import pytest

from ftvoter.sim.campaign import run_campaign
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

SPEC = """\
name = "tb_tmr"
seed = 3

[design]
lanes = 3

[workload]
cycles = 200

[faults]
count = 600
start = { min = 0, max = 199 }
duration = 0

[observation]
window = 200
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("tmr") / "tmr.toml"
    path.write_text(SPEC)
    return load_spec(path)


@pytest.mark.tb
def test_flipped_output_register_is_corrected(spec, tmp_path):
    # The same fault that halts DMR: with three lanes the other two outvote lane 1, the
    # transaction goes on with the majority, and lane 1 is taken out.
    run_campaign(spec, tmp_path, workers=1, progress=False, injections=[
        {"site": "lane1.bus.awvalid[0]", "model": "flip", "start": 50}])
    [result] = ResultStore(tmp_path).records()
    assert result["outcome"] == "corrected"
    assert result["offline"] == [1]
    assert result["propagation_latency"] == 1
    assert result["detection_latency"] == 2


@pytest.mark.tb
def test_sampled_campaign(spec, tmp_path):
    run_campaign(spec, tmp_path, workers=2, progress=False)
    records = ResultStore(tmp_path).records()
    assert len(records) == 600
    outcomes = [record["outcome"] for record in records]
    assert outcomes.count("corrected") > 50
    # A single-lane fault never leaves TMR with wrong I/O, a halt or the wrong lane out.
    for bad in ("sdc", "halted", "wrong_lane", "hang", "sim_error"):
        assert outcomes.count(bad) == 0, bad
