"""CPU lanes in lockstep under Verilator: C programs on PicoRV32 and Sentinel, checked
against the RV32I ISS (``ftvoter.sim.iss``) and the same C compiled natively, and faults
injected into the instrumented cores' flip-flops through the fault injector.

Each configuration is one Verilator build (the programs are loaded at run time), shared
by the tests that use it: in make test, one, PicoRV32 in DMR with rollback and live
resync (the programs; remove and insert back, unplug and plug, split and merge, a rolled
back flip and a quick dump, a repaired RAM upset); TMR (outvoting a flip) in make
test-long. DMR on PicoRV32 without rollback (a PC flip halts) is in
tb/test_campaign_cpu_tb.py, on the campaign bench's build.
"""

import functools
import glob

import pytest

from ftvoter.sim import iss
from ftvoter.sim.program_run import io_image, run_program
from ftvoter.sim.programs import (
    build_program,
    encode_requests,
    example,
    example_requests,
    image,
    run_native,
)

REQUESTS = encode_requests(example_requests())
#: The sites the tests flip: a0 (x10) and the next PC, in every lane.
FLIPPED = [glob.escape("picorv32_core.cpuregs[10]"), "picorv32_core.reg_next_pc"]


@functools.cache
def golden(name):
    """The ISS run and the native run of an example program, on the example requests."""
    elf = build_program(example(name))
    return iss.run(elf, io=REQUESTS), run_native(example(name), io=REQUESTS)


def params(lane, lanes, faults=True):
    # PicoRV32 is built with rollback and live resync: in make test, one DMR model for
    # every test (the TMR one in make test-long). Its injector reaches the sites the tests
    # flip (a0 and the next PC of every lane): the saboteurs of the other flip-flops are
    # constant and compile away (a TMR build of 90 s instead of 230).
    if lane == "picorv32":
        return {"lane": lane, "lanes": lanes, "faults": FLIPPED if faults else None,
                "rollback": True, "live_resync": True}
    return {"lane": lane, "lanes": lanes, "faults": ["*"] if faults else None}


def check_against_golden(figures, name):
    model, native = golden(name)
    assert model.console == native.console, "the ISS and the native build disagree"
    assert figures["exit_code"] == model.exit_code == native.exit_code == 0
    assert figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]
    assert figures["io_reads"] == [tuple(r) for r in model.io_reads]
    assert figures["mismatch_events"] == 0 and figures["self_error"] == 0
    assert set(figures["bridge"]["lane_states"]) == {"ONLINE"}


@pytest.mark.tb
@pytest.mark.parametrize("name", ["transactions", "sort",
                                  # crc32 runs in make test in the TMR x10 flip test (its
                                  # console and I/O against the ISS); matmul is 118,431
                                  # instructions: both here in make test-long
                                  pytest.param("crc32", marks=pytest.mark.long),
                                  pytest.param("matmul", marks=pytest.mark.long)])
def test_picorv32_runs_programs(name):
    # Instrumented, with the injector built in but not armed; three lanes, on the build of
    # the TMR flip tests.
    figures = run_program(DMR, example(name), cycles=2_000_000)
    check_against_golden(figures, name)
    model, _ = golden(name)
    assert figures["retired"] == model.steps           # PicoRV32's count_instr


@pytest.mark.tb
@pytest.mark.long     # tests/test_sentinel.py checks Sentinel against the ISS in make test
@pytest.mark.parametrize("name", ["transactions", "sort"])
def test_sentinel_runs_programs(name):
    figures = run_program(params("sentinel", 2, faults=False), example(name),
                          cycles=2_000_000)
    check_against_golden(figures, name)
    model, _ = golden(name)
    # Sentinel retires the EXIT store at the next fetch, after the run has ended.
    assert figures["retired"] == model.steps - 1


@pytest.mark.tb
@pytest.mark.long     # one more build (the plain RTL); make test-long
def test_instrumented_equals_rtl():
    # No fault armed: the instrumented netlist runs exactly as PicoRV32's own RTL.
    rtl = run_program(params("picorv32-rtl", 2, faults=False), example("crc32"),
                      cycles=2_000_000)
    instrumented = run_program(params("picorv32", 2), example("crc32"), cycles=2_000_000)
    check_against_golden(rtl, "crc32")
    for key in ("cycles", "console", "io_writes", "io_reads", "exit_code"):
        assert instrumented[key] == rtl[key], key


def _site_index(lanes, name):
    from ftvoter.sim.designs import build
    lockstep = build("lockstep", {**params("picorv32", lanes), "ram": 0})
    return [site.name for site in lockstep.injector.sites].index(name)


@pytest.mark.tb
@pytest.mark.long     # the TMR build; TMR outvoting is tested on the workload lane in make test
def test_tmr_outvotes_a_flip_in_x10():
    # At cycle 100,000 crc32's a0 (x10) is live (found by trying: earlier flips there are
    # overwritten first): lane 1 diverges when the value reaches the bus; TMR isolates it
    # and the survivors finish the program with the golden output.
    site = _site_index(3, "lane1.picorv32_core.cpuregs[10]")
    figures = run_program(params("picorv32", 3), example("crc32"), cycles=2_000_000,
                          flip=(site, 3, 100_000))
    model, _ = golden("crc32")
    assert figures["flip_cycle"] == 100_000
    assert figures["mismatch_events"] >= 1
    assert figures["bridge"]["lane_states"] == ["ONLINE", "BROKEN", "ONLINE"]
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]


@pytest.mark.tb
@pytest.mark.long     # the TMR build
def test_tmr_isolates_a_pc_flip():
    # A flip in one lane's fetch address (PicoRV32's reg_next_pc; reg_pc, the current
    # instruction's address, is often rewritten before it is used): the lane's fetches
    # stay inside it, so the divergence shows at its next differing I/O, where TMR outvotes
    # and isolates it (the policy); the survivors finish with the golden output.
    site = _site_index(3, "lane1.picorv32_core.reg_next_pc")
    figures = run_program(params("picorv32", 3), example("sort"), cycles=2_000_000,
                          flip=(site, 6, 20_000))
    model, _ = golden("sort")
    assert figures["mismatch_events"] >= 1
    assert figures["bridge"]["lane_states"] == ["ONLINE", "BROKEN", "ONLINE"]
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]


#: The DMR build of make test.
DMR = params("picorv32", 2)


@pytest.mark.tb
def test_dmr_remove_insert_unplug_plug_without_restart():
    # Lane 1 is removed and inserted back (a rapid live resync: only the blocks written
    # since it left), then unplugged and plugged in again while transactions.c runs (I/O
    # all along): the console, the I/O and the exit code are the ISS's (nothing restarted,
    # nothing sent or printed twice), both lanes online at the end, no divergence, every
    # stop within the documented bound.
    at = [(2_000, "remove", 1), (5_000, "insert", 1), (8_000, "unplug", 1),
          (11_000, "plug", 1)]
    figures = run_program(DMR, example("transactions"), cycles=2_000_000,
                          at=at)
    model, _ = golden("transactions")
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]
    assert figures["io_reads"] == [tuple(r) for r in model.io_reads]
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    assert figures["mismatch_events"] == 0 and figures["bridge"]["rollbacks"] == 0
    resyncs = figures["resyncs"]
    assert len(resyncs) == 2
    for resync in resyncs:
        assert resync["stop_cycles"] <= 64
        assert resync["words"] < 4096              # rapid: not the whole 16 KiB
        assert resync["flops"] > 1500


@pytest.mark.tb
def test_dmr_rollback_and_quick_dump():
    # A flip in lane 1's x10 with no parity in DMR: no lane can be blamed, the lanes roll
    # back to their last checkpoint and go on (recovered: both online, the ISS's output).
    # Later lane 1 is dumped (frozen, read out, inserted again): its registers are the
    # ISS's after as many instructions as its core had retired.
    site = _site_index(2, "lane1.picorv32_core.cpuregs[10]")
    figures = run_program(DMR, example("transactions"), cycles=2_000_000,
                          flip=(site, 3, 4_000), at=[(6_000, "dump", 1)])
    model, _ = golden("transactions")
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]
    assert figures["io_reads"] == [tuple(r) for r in model.io_reads]
    assert figures["bridge"]["rollbacks"] == 1
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    dump = next(a for a in figures["actions"] if a["action"] == "dump")
    sites = dump["sites"]
    regs = [sites[f"core.picorv32_core.cpuregs[{i}]"] for i in range(32)]
    retired = sites["core.picorv32_core.count_instr"]
    elf = build_program(example("transactions"))
    # count_instr counts an instruction when the next one starts: the registers are the
    # ISS's after that many instructions, or one fewer.
    assert any(iss.run(elf, io=REQUESTS, stop_at=n).regs[1:] == regs[1:]
               for n in (retired, retired - 1))
    assert len(dump["memory"]) == 4096


@pytest.mark.tb
def test_dmr_ram_upset_is_rolled_back_and_repaired():
    # An upset of a word of lane 1's RAM (the first instruction of __udivsi3, fetched at the
    # next division and by the console's number printing), no parity: DMR cannot blame a
    # lane. The rollback finds lane 1's copy failing its check bits among the words read
    # since the checkpoint, gives it lane 0's copy and re-executes: recovered, both lanes
    # online, the ISS's console and I/O.
    elf = build_program(example("transactions"))
    word = _symbol(elf, "__udivsi3") // 4
    figures = run_program(DMR, example("transactions"), cycles=2_000_000,
                          ram_flip=(1, word, 20, 4_000))
    model, _ = golden("transactions")
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == [tuple(w) for w in model.io_writes]
    assert figures["io_reads"] == [tuple(r) for r in model.io_reads]
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    assert figures["bridge"]["rollbacks"] >= 1 and not figures["bridge"]["halted"]
    original = int.from_bytes(image(elf, 16384)[4 * word:4 * word + 4], "little")
    assert figures["ram_flip"]["words"][:2] == [original, original]


def _symbol(elf, name):
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as handle:
        symbol = ELFFile(handle).get_section_by_name(".symtab").get_symbol_by_name(name)
        return symbol[0]["st_value"]


@pytest.mark.tb
def test_dmr_split_and_merge():
    # SPLIT takes lane 1 out of the vote: it goes on with transactions.c on its own, on the
    # split path (its writes there are a stretch of the program's own); MERGE brings it
    # back by a live resync from lane 0 (a full copy): lane 0's I/O and console are the
    # ISS's, both online at the end, no divergence.
    at = [(5_000, "split", 1), (11_000, "merge", 1)]
    figures = run_program(DMR, example("transactions"), cycles=2_000_000,
                          at=at)
    model, _ = golden("transactions")
    writes = [tuple(w) for w in model.io_writes]
    assert figures["exit_code"] == 0 and figures["console"] == model.console
    assert figures["io_writes"] == writes
    assert figures["bridge"]["lane_states"] == ["ONLINE", "ONLINE"]
    assert figures["mismatch_events"] == 0
    alone = [tuple(w) for w in figures["split_writes"]]
    assert alone and any(writes[k:k + len(alone)] == alone for k in range(len(writes)))
    assert len(figures["resyncs"]) == 1 and figures["resyncs"][0]["words"] >= 4096
    assert figures["resyncs"][0]["stop_cycles"] <= 64


def test_io_image_places_the_requests():
    image = io_image()
    assert image[0x1000_0100] == len(example_requests())
    assert len(image) == 1 + 4 * len(example_requests())
