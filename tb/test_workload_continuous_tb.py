"""Continuous processing on the workload lane under Verilator: remove and insert (rapid
resync), unplug and plug, split and merge, rollback of a flip and quick dump, checked
against the lane's golden model (:class:`~ftvoter.sim.models.WorkloadModel`).

One build (two workload lanes with rollback and live resync: DMR) for every test.
"""

import functools

import pytest

from ftvoter.sim.models import Read, WorkloadModel, registers_at
from ftvoter.sim.program_run import run_program

PARAMS = {"lane": "workload", "lanes": 2, "rollback": True, "live_resync": True,
          "faults": ["*"], "seed": 1}
DMR = []
CYCLES = 9_000


def run(**options):
    return run_program(PARAMS, None, cycles=CYCLES, **options)


@functools.cache
def golden(transactions=4_000):
    """The model's I/O as the path logs it: writes as ``(addr, word after the write)``,
    reads as ``(addr, data)``."""
    words, writes, reads = {}, [], []
    for event in WorkloadModel(seed=PARAMS["seed"]).trace(transactions):
        if isinstance(event, Read):
            reads.append((event.addr, event.data))
            continue
        old = words.get(event.addr, 0)
        for byte in range(4):
            if event.strb >> byte & 1:
                old = old & ~(0xFF << 8 * byte) | event.data & 0xFF << 8 * byte
        words[event.addr] = old
        writes.append((event.addr, old))
    return writes, reads


def check_io(figures):
    writes, reads = golden()
    assert len(figures["io_writes"]) > 200 and len(figures["io_reads"]) > 200
    assert figures["io_writes"] == writes[:len(figures["io_writes"])]
    assert figures["io_reads"] == reads[:len(figures["io_reads"])]


def _site_index(name):
    from ftvoter.sim.designs import build
    lockstep = build("lockstep", {**PARAMS, "ram": 0})
    return [site.name for site in lockstep.injector.sites].index(name)


@pytest.mark.tb
def test_remove_insert_unplug_plug_without_restart():
    at = [*DMR, (2_000, "remove", 1), (3_500, "insert", 1), (5_000, "unplug", 1),
          (6_500, "plug", 1)]
    figures = run(at=at)
    check_io(figures)
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    assert figures["mismatch_events"] == 0 and not figures["bridge"]["halted"]
    resyncs = figures["resyncs"]
    assert len(resyncs) == 2
    for resync in resyncs:
        assert resync["stop_cycles"] <= 64 and resync["flops"] > 600 and resync["words"] == 0


@pytest.mark.tb
def test_flip_is_rolled_back_and_dump_equals_the_model():
    # A flip in lane 1's r3 in DMR: no blame, rolled back, recovered. Later lane 1 is
    # dumped: its registers are the model's after as many operations as its LFSR says.
    site = _site_index("lane1.regfile.r3")
    figures = run(flip=(site, 5, 1_500), at=[*DMR, (5_000, "dump", 1)])
    check_io(figures)
    assert figures["bridge"]["rollbacks"] == 1 and not figures["bridge"]["halted"]
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    dump = next(a for a in figures["actions"] if a["action"] == "dump")
    sites = dump["sites"]
    operations, regs, scratch = registers_at(WorkloadModel(seed=PARAMS["seed"]), sites)
    assert operations > 1000
    assert [sites[f"regfile.r{i}"] for i in range(8)] == regs
    assert [sites[f"scratch.m{i}"] for i in range(8)] == scratch


@pytest.mark.tb
def test_split_and_merge():
    figures = run(at=[*DMR, (3_000, "split", 1), (6_000, "merge", 1)])
    check_io(figures)
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    assert figures["mismatch_events"] == 0
    # Alone on the split path, lane 1 went on with the same work: its first writes go on
    # from where the model was at the split (later ones differ: the split path is a RAM
    # of its own, so what lane 1 reads there is not what lane 0 reads).
    alone = [tuple(w) for w in figures["split_writes"]]
    writes, _ = golden()
    assert len(alone) > 50
    assert any(writes[k:k + 5] == alone[:5] for k in range(100, len(writes)))
    assert len(figures["resyncs"]) == 1 and figures["resyncs"][0]["stop_cycles"] <= 64
