"""Checkpoints of long workloads without a simulator: the spec option, the default
interval, the file format and what a shard computes from it (which checkpoint before a
start, which image words to write to switch). The slot itself, under Verilator, is
tested in tb/test_campaign_cpu_tb.py (its gateware has Verilog cores: no amaranth.sim).
"""

import re

import pytest

from ftvoter.sim.checkpoints import (
    CheckpointError,
    checkpoint_interval,
    read_checkpoints,
    write_checkpoints,
)
from ftvoter.sim.cli import main
from ftvoter.sim.spec import SpecError, parse_spec

CPU = {"name": "cpu", "design": {"lane": "picorv32"},
       "workload": {"program": "programs/ledger.c", "cycles": 10_000_000},
       "faults": {"count": 10}, "observation": {"window": 2000}}


def spec(**workload):
    data = {**CPU, "workload": {**CPU["workload"], **workload}}
    return parse_spec(data, "c.toml")


@pytest.mark.parametrize("value, message", [
    ("x", "must be a number of cycles (0: no checkpoints), not 'x'"),
    (-5, "must be a number of cycles (0: no checkpoints), not -5"),
    (True, "must be a number of cycles (0: no checkpoints), not True"),
    (50, "must be at least 1000 cycles (at least 100, and at most 10000 checkpoints in "
         "workload.cycles), not 50"),
    (10_000_000, "must be less than workload.cycles (10000000) to make a checkpoint, "
                 "not 10000000"),
])
def test_bad_interval(value, message):
    with pytest.raises(SpecError, match=rf"^c\.toml: workload\.checkpoint: {re.escape(message)}$"):
        spec(checkpoint=value)


@pytest.mark.parametrize("design", [{"lane": "workload"},
                                    {"lane": "picorv32", "rollback": True},
                                    {"lane": "sentinel", "live_resync": True}])
def test_checkpoints_need_a_plain_cpu_design(design):
    data = {**CPU, "design": design, "workload": {"cycles": 20_000, "checkpoint": 1000}}
    if design["lane"] != "workload":
        data["workload"]["program"] = "programs/ledger.c"
    with pytest.raises(SpecError, match=r"^c\.toml: workload\.checkpoint: checkpoints are "
                                        r"for CPU lanes \(picorv32, sentinel\) without "
                                        r"rollback or live resync; give 0 or leave it out$"):
        parse_spec(data, "c.toml")


def test_interval_defaults():
    # Given: as given (0 off). Left out: ten windows, at least cycles / 1000, for CPU
    # workloads of a million cycles or more; none for shorter ones or the workload lane.
    assert checkpoint_interval(spec(checkpoint=5000)) == 5000
    assert checkpoint_interval(spec(checkpoint=0)) == 0
    assert checkpoint_interval(spec()) == 20_000
    assert checkpoint_interval(spec(cycles=100_000_000)) == 100_000
    assert checkpoint_interval(spec(cycles=999_999)) == 0
    assert checkpoint_interval(parse_spec({"faults": {"count": 1},
                                           "workload": {"cycles": 5_000_000}})) == 0
    # A spec without the key keeps the keys it always had (its manifest, a resume).
    assert "checkpoint" not in spec().workload
    assert spec(checkpoint=0).workload["checkpoint"] == 0


def test_bad_interval_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[design]\nlane = "picorv32"\n[workload]\nprogram = "programs/ledger.c"\n'
                    'cycles = 5000\ncheckpoint = 99\n[faults]\ncount = 1\n')
    try:
        code = main(["campaign", str(path), "-o", str(tmp_path / "out")])
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"ftvoter: error: {path}: workload.checkpoint: must be at least 100 cycles (at "
        f"least 100, and at most 10000 checkpoints in workload.cycles), not 99"]


def two_lanes_of_two_blocks(tmp_path):
    """A file of two checkpoints (cycles 100 and 200) of two lanes of two 2-word blocks:
    the program is 1, 2 | 3, 4 in both; checkpoint 1 changes lane 0's block 1, checkpoint
    2 lane 0's block 0 and lane 1's block 1."""
    path = tmp_path / "c.jsonl"
    header = {"interval": 100, "golden_cycles": 250, "words": 2, "lanes": 2, "blocks": 2,
              "block_words": 2, "golden": {"golden_requests": 7},
              "program": [{"0": [1, 2], "1": [3, 4]}, {"1": [3, 4]}]}
    entries = [{"cycle": 100, "state": f"{(5 << 32) | 100:x}", "ram": [{"1": [3, 9]}, {}]},
               {"cycle": 200, "state": f"{(6 << 32) | 200:x}",
                "ram": [{"0": [8, 2]}, {"1": [0, 4]}]}]
    write_checkpoints(path, header, entries)
    return path


def test_file_round_trip(tmp_path):
    checkpoints = read_checkpoints(two_lanes_of_two_blocks(tmp_path))
    assert checkpoints.cycles == [0, 100, 200] and len(checkpoints) == 3
    assert checkpoints.golden == {"golden_requests": 7}
    assert checkpoints.state(1) == [100, 5] and checkpoints.state(2) == [200, 6]
    # The RAM at a checkpoint: its own blocks and those of the checkpoints before.
    assert checkpoints.ram(2, 0) == {0: [8, 2], 1: [3, 9]}
    assert checkpoints.block(1, 0, 0) == [1, 2] and checkpoints.block(2, 1, 1) == [0, 4]


def test_checkpoint_before_a_start(tmp_path):
    # A run restarted from cycle C reaches a fault at C + 1 at the earliest.
    checkpoints = read_checkpoints(two_lanes_of_two_blocks(tmp_path))
    starts = [0, 1, 100, 101, 199, 200, 201, 10_000]
    assert [checkpoints.index_before(s) for s in starts] == [0, 0, 0, 1, 1, 1, 2, 2]


def test_image_words_to_switch(tmp_path):
    checkpoints = read_checkpoints(two_lanes_of_two_blocks(tmp_path))
    assert checkpoints.switch(0, 0) == [{}, {}]
    assert checkpoints.switch(0, 1) == [{3: 9}, {}]
    assert checkpoints.switch(1, 2) == [{0: 8}, {2: 0}]
    assert checkpoints.switch(2, 0) == [{0: 1, 3: 4}, {2: 3}]
    assert checkpoints.switch(2, 1) == [{0: 1}, {2: 3}]


def test_not_a_checkpoint_file(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"format": "something else"}\n')
    with pytest.raises(CheckpointError, match=r"^.*x\.jsonl: not a checkpoint file \("):
        read_checkpoints(path)
    path.write_text("")
    with pytest.raises(CheckpointError, match=r"not a checkpoint file"):
        read_checkpoints(path)


def test_which_benches_have_a_slot():
    # CPU lanes with a lane RAM memory port have the slot's ports; the workload lanes'
    # bench and a CPU bench with rollback (an undo log the slot does not save) have none.
    from ftvoter.hdl.campaign_ckpt import supports_checkpoints
    from ftvoter.sim.plan import inspect_bench, make_bench
    cpu = make_bench(spec())
    members = cpu.signature.members
    assert {"ckpt_ctl", "ckpt_in", "ckpt_out", "ckpt_words", "ckpt_saved"} <= set(members)
    assert members["ckpt_saved"].shape == 2 * 256      # two lanes of 256 blocks
    assert supports_checkpoints(cpu.golden)
    assert [name for name, _, _ in inspect_bench(spec())["ckpt_fields"]] == [
        "hold", "save", "restore", "shift", "write", "mem_we", "mem_read", "lane", "addr"]
    workload = parse_spec({"faults": {"count": 1}}, "w.toml")
    assert inspect_bench(workload)["ckpt_fields"] is None
    rollback = parse_spec({**CPU, "design": {"lane": "picorv32", "rollback": True}}, "r.toml")
    assert not any(name.startswith("ckpt") for name in make_bench(rollback).signature.members)
