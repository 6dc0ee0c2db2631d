"""The campaign engine under Verilator with lane faults: a lane removed and inserted again,
or unplugged and plugged in again, comes back by a live resync without a restart."""

import pytest

from ftvoter.sim.campaign import run_campaign
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

SPEC = """\
name = "tb_resync"
seed = 2

[design]
lanes = 2
live_resync = true

[workload]
cycles = 300

[faults]
models = ["remove-insert", "unplug"]
count = 60
start = { min = 0, max = 149 }
duration = {duration}

[observation]
window = 300
"""


def _spec(tmp_path, duration):
    path = tmp_path / "resync.toml"
    path.write_text(SPEC.replace("{duration}", str(duration)))
    return load_spec(path)


@pytest.mark.tb
def test_lanes_come_back_without_a_restart(tmp_path):
    run_campaign(_spec(tmp_path, 80), tmp_path / "out", workers=1, progress=False)
    records = ResultStore(tmp_path / "out").records()
    assert len(records) == 60
    assert {r["model"] for r in records} == {"remove-insert", "unplug"}
    assert {r["lane"] for r in records} == {0, 1}
    # Every lane is back, the I/O is the golden run's all along (nothing sent twice or
    # lost while one lane ran alone and during the stop): recovered.
    assert [r["outcome"] for r in records] == ["recovered"] * 60
    # The workload lane has no RAM: the stop is the cycle that pins the survivor and the
    # one that loads the joiner's flip-flops (hdl/resync.py).
    assert {r["resync_stop"] for r in records} == {2}
    assert {r["resync_words"] for r in records} == {0}


@pytest.mark.tb
def test_a_lane_still_out_at_the_window_end_is_isolated(tmp_path):
    # Out for longer than the window: the insert never comes; the other lane goes on
    # alone with the golden I/O, no resync.
    run_campaign(_spec(tmp_path, 1000), tmp_path / "out", workers=1, progress=False)
    records = ResultStore(tmp_path / "out").records()
    assert [r["outcome"] for r in records] == ["isolated"] * 60
    assert {r["resync_stop"] for r in records} == {None}
