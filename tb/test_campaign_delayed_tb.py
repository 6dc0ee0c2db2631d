"""Common-cause faults: invisible to plain lockstep, caught by delayed lockstep."""

import pytest

from ftvoter.sim.campaign import run_campaign
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

SPEC = """\
name = "tb_{name}"
seed = 5

[design]
lanes = 2
offset = {offset}

[workload]
cycles = 200

[faults]
sites = ["*", "bridge.*"]   # as test_campaign_tb.py: the plain lockstep bench is shared
count = 1
start = {{ min = 0, max = 199 }}

[observation]
window = 200
"""

# The same bit of the LFSR, flipped in both lanes in the same cycle: the work changes.
COMMON = [{"site": "lane0.lfsr.state[5]", "model": "flip", "start": 60, "common": True}]


def run(tmp_path, offset, injections=COMMON):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name=f"offset{offset}", offset=offset))
    run_campaign(load_spec(spec), tmp_path / "out", workers=1, progress=False,
                 injections=injections)
    [result] = ResultStore(tmp_path / "out").records()
    return result


@pytest.mark.tb
def test_plain_lockstep_misses_a_common_cause_fault(tmp_path):
    result = run(tmp_path, 0)
    assert result["outcome"] == "sdc"
    assert result["detection_latency"] is None
    assert result["common"] is True


@pytest.mark.tb
def test_delayed_lockstep_catches_it(tmp_path):
    result = run(tmp_path, 2)
    assert result["outcome"] == "halted"
    assert result["detection_latency"] is not None


@pytest.mark.tb
def test_delayed_lockstep_can_detect_too_late(tmp_path):
    # Injection 231 of campaigns/common-delayed.toml: LFSR bit 15 flipped in both lanes at
    # cycle 24. Lane 0 (leading, not delayed at the I/O) sends a wrong request 9 cycles
    # later; the trailing lane's divergence is seen 2 cycles after that: detected, but
    # too late (outcome late, not halted).
    result = run(tmp_path, 2, [{"site": "lane0.lfsr.state[15]", "model": "flip",
                                "start": 24, "common": True}])
    assert result["outcome"] == "late"
    assert result["escaped"] is True
    assert (result["io_latency"], result["detection_latency"]) == (9, 11)
