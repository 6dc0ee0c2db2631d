"""The campaign engine on CPU lanes under Verilator: PicoRV32 in DMR with register-file
parity, running programs/transactions.c (the example requests in the path RAM), the
register file, the PCs and the memory interface of both cores the sites (the saboteurs of
the other flip-flops compile away: a build of a third of the time;
campaigns/picorv32-dmr.toml, every flip-flop without parity, runs in make campaign).

One bench build (made once by the ``built`` fixture). The load of the faulty copy from the
golden one goes through the cores' state ports and the lane RAMs' memory ports; every
injection run from reset instead must give the same records, and so must every injection
run from the golden checkpoint before its start (the bench's checkpoint slot,
hdl/campaign_ckpt.py), whose file and slot are checked here too.
"""

import json
import os
from pathlib import Path

import cocotb
import pytest
from cocotb.simtime import get_sim_time

from ftvoter.sim.campaign import build_bench, run_campaign
from ftvoter.sim.plan import inspect_bench
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

SPEC = """\
name = "tb_picorv32_dmr"
seed = 3

[design]
lane = "picorv32"
lanes = 2
policy = "halt"
parity = true

[workload]
program = "programs/transactions.c"
cycles = 12000

[faults]
sites = ["picorv32_core.cpuregs*", "picorv32_core.reg_*pc", "picorv32_core.mem_*"]
count = 24
start = { min = 0, max = 11999 }
duration = 0

[observation]
window = 2000
"""


#: The reference campaign's figures (simulated cycles), for the checkpointed one.
FIGURES = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("campaign_cpu") / "picorv32.toml"
    path.write_text(SPEC)
    build_bench(load_spec(path))
    return path


def by_id(folder):
    records = ResultStore(folder).records()
    assert len({r["id"] for r in records}) == len(records), "an injection recorded twice"
    return {record["id"]: record for record in records}


@pytest.fixture(scope="module")
def reference(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference_cpu")
    FIGURES["reference"] = run_campaign(load_spec(built), folder, workers=1, progress=False)
    return by_id(folder)


@pytest.mark.tb
class TestCpuCampaign:
    def test_contains_every_fault(self, reference):
        outcomes = [record["outcome"] for record in reference.values()]
        assert len(outcomes) == 24
        assert "sdc" not in outcomes and "late" not in outcomes and "sim_error" not in outcomes
        # A CPU's flip-flops: some upsets are overwritten, some stay in state.
        assert {"masked", "latent"} <= set(outcomes)

    def test_loads_give_the_same_results_as_restarts(self, built, reference, tmp_path):
        # The reference goes on from run to run by loading the faulty copy from the golden
        # one (cores through their state ports, RAMs block by block); here every run
        # starts from reset and the program's image.
        run_campaign(load_spec(built), tmp_path, workers=1, progress=False, reuse=False)
        assert by_id(tmp_path) == reference

    def test_parity_isolates_a_register_flip(self, built, tmp_path):
        # x10 (a0) of lane 1, bit 3, flipped: its parity bit no longer matches, the core's
        # self_error rises in the next cycle and the bridge takes lane 1 out; lane 0 goes
        # on, and the I/O equals the golden run's (the fault may even be masked later:
        # the lane is out either way). Without parity the same flip halts DMR or stays
        # latent, as the campaigns show.
        run_campaign(load_spec(built), tmp_path, workers=1, progress=False, injections=[
            {"site": "lane1.picorv32_core.cpuregs[10][3]", "model": "flip", "start": start}
            for start in (2000, 6000)])
        for record in by_id(tmp_path).values():
            assert record["outcome"] == "isolated", record
            assert record["detected_by"] == "self_error"
            assert record["detection_latency"] == 1
            assert record["offline"] == [1] and record["escaped"] is False

    def test_pc_flips(self, built, tmp_path):
        # A flip in lane 1's fetch address (reg_next_pc) at cycles 5,000 and 8,500 of
        # transactions (found by trying; at other times the lane may run other code for
        # the whole window without I/O: latent): the lane's next I/O request differs; with
        # no self_error to blame, policy halt stops the bridge, before anything wrong
        # reached the path.
        run_campaign(load_spec(built), tmp_path, workers=1, progress=False, injections=[
            {"site": "lane1.picorv32_core.reg_next_pc[6]", "model": "flip", "start": start}
            for start in (5000, 8500)])
        for record in by_id(tmp_path).values():
            assert record["outcome"] == "halted", record
            assert record["detected_by"] == "mismatch"
            assert record["detection_latency"] > 0
            assert record["escaped"] is False and record["offline"] == []

    @pytest.mark.long     # make test-long: a bench of four PicoRV32 systems to build
    def test_three_copies_give_the_records_of_one(self, built, reference, tmp_path):
        # Three faulty copies share the golden one: each is loaded from it (cores through
        # their state ports, lane RAMs with the blocks written since that copy's last
        # load) while the others stand still.
        import dataclasses
        spec = dataclasses.replace(load_spec(built), bench={"copies": 3})
        run_campaign(spec, tmp_path / "loads", workers=1, progress=False)
        assert by_id(tmp_path / "loads") == reference
        # ... and with checkpoints: every restart of the three copies goes back to the
        # checkpoint before their earliest start, the slot restoring every copy.
        spec = dataclasses.replace(load_spec(with_checkpoints(built, tmp_path, 1000)),
                                   bench={"copies": 3})
        run_campaign(spec, tmp_path / "checkpoints", workers=1, progress=False)
        assert by_id(tmp_path / "checkpoints") == reference


def with_checkpoints(built, folder, interval):
    path = folder / f"checkpointed{interval}.toml"
    path.write_text(built.read_text().replace("cycles = 12000",
                                              f"cycles = 12000\ncheckpoint = {interval}"))
    return path


@pytest.mark.tb
class TestCheckpoints:
    def test_checkpoints_give_the_same_results(self, built, reference, tmp_path):
        # Every run that restarts goes back to the golden checkpoint before its start (one
        # every 1,000 cycles, the slot reloaded from the file when another is needed)
        # instead of to reset: every record field the same as the reference's.
        spec = load_spec(with_checkpoints(built, tmp_path, 1000))
        figures = run_campaign(spec, tmp_path / "out", workers=1, progress=False)
        assert by_id(tmp_path / "out") == reference
        # ... in fewer simulated cycles: the restarts did not go back to reset.
        assert figures["cycles"] < 0.8 * FIGURES["reference"]["cycles"]

    def test_checkpoints_without_reuse(self, built, reference, tmp_path):
        # Every run a restart, in plan order (random starts): the slot switches between
        # checkpoints back and forth, and still every record is the reference's.
        spec = load_spec(with_checkpoints(built, tmp_path, 700))
        run_campaign(spec, tmp_path / "out", workers=1, progress=False, reuse=False)
        assert by_id(tmp_path / "out") == reference

    def test_file_round_trip_and_restart_to_the_base(self, built, tmp_path):
        # Checkpoint 3 of the file loaded into the slot reads back the same (state and
        # RAM images); a restart from it, run with no fault up to checkpoint 4's cycle and
        # saved there, gives checkpoint 4 of the file, which the golden run from reset
        # made: the slot restores the whole state.
        from ftvoter.sim.checkpoints import make_checkpoints, read_checkpoints
        spec = load_spec(with_checkpoints(built, tmp_path, 1000))
        layout = inspect_bench(spec)
        simulation = build_bench(spec)
        path = make_checkpoints(spec, simulation, layout)
        checkpoints = read_checkpoints(path)
        assert checkpoints.cycles == list(range(0, 12000, 1000))
        assert checkpoints.golden["golden_requests"] > 0
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"checkpoints": str(path), "k": 3, **layout}))
        from ftvoter.sim.toolchain import run_cocotb
        report = tmp_path / "report.json"
        tests, failed = run_cocotb(simulation, "test_campaign_cpu_tb", testcase="run_slot",
                                   test_dir=tmp_path / "sim", quiet=True,
                                   env={"FTVOTER_CKPT_TEST": plan, "FTVOTER_REPORT": report})
        assert (tests, failed) == (1, 0)
        figures = json.loads(report.read_text())
        assert figures["state_read_back"] and figures["image_read_back"]
        # From cycle 3,000 (not from reset) to the run's end, 2 before 4,000: the record
        # counts from workload cycle 0.
        assert figures["end_cycle"] == 3999 and figures["clean"]
        assert 998 <= figures["run_cycles"] < 1500
        assert figures["saved_cycle"] == 4000
        assert figures["state_as_file"] and figures["image_as_file"]


@cocotb.test()
async def run_slot(dut):
    """The cocotb half of test_file_round_trip_and_restart_to_the_base."""
    from ftvoter.sim.checkpoint_slot import NO_FAULT, Slot
    from ftvoter.sim.checkpoints import read_checkpoints
    from ftvoter.sim.outcomes import NEVER
    from ftvoter.sim.shard import STEPS_PER_CYCLE, Bench
    from ftvoter.sim.toolchain import report
    plan = json.loads(Path(os.environ["FTVOTER_CKPT_TEST"]).read_text())
    checkpoints, k = read_checkpoints(plan["checkpoints"]), plan["k"]
    bench = Bench(dut, plan["injection_fields"], plan["record_fields"])
    slot = Slot(dut, plan["ckpt_fields"])
    lanes, words = len(checkpoints.switch(0, 0)), checkpoints.block_words

    async def image_is(at):
        same = True
        for lane in range(lanes):
            blocks = sorted(set(checkpoints.ram(k, lane)) | set(checkpoints.ram(k + 1, lane)))
            values = await slot.read_image(lane, [b * words + i for b in blocks
                                                  for i in range(words)])
            same &= values == [w for b in blocks for w in checkpoints.block(at, lane, b)]
        return same

    for lane, changes in enumerate(checkpoints.switch(0, k)):
        await slot.write_image(lane, changes)
    await slot.write_base(checkpoints.state(k))
    figures = {"state_read_back": await slot.read_base() == checkpoints.state(k),
               "image_read_back": await image_is(k)}
    slot.set_mode(restore=1)
    began = get_sim_time("step")
    record = await bench.run({**NO_FAULT, "restart": 1}, checkpoints.cycles[k + 1] - 2)
    figures["run_cycles"] = (get_sim_time("step") - began) // STEPS_PER_CYCLE
    figures["end_cycle"] = record["cycle"]
    figures["clean"] = all(record[key] == NEVER for key in ("mismatch_at", "diverged_at",
                                                            "io_wrong_at", "self_error_at"))
    slot.set_mode(save=1)
    await bench.run({**NO_FAULT, "restart": 0}, checkpoints.cycles[k + 1] + 10)
    slot.set_mode(hold=1)
    state = await slot.read_base()
    figures.update(saved_cycle=state[0], state_as_file=state == checkpoints.state(k + 1),
                   image_as_file=await image_is(k + 1))
    report(figures)
