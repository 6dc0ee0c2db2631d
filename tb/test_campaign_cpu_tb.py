"""The campaign engine on CPU lanes under Verilator: PicoRV32 in DMR with register-file
parity, running programs/transactions.c (the example requests in the path RAM), the
register file, the PCs and the memory interface of both cores the sites (the saboteurs of
the other flip-flops compile away: a build of a third of the time;
campaigns/picorv32-dmr.toml, every flip-flop without parity, runs in make campaign).

One bench build (made once by the ``built`` fixture). The load of the faulty copy from the
golden one goes through the cores' state ports and the lane RAMs' memory ports; every
injection run from reset instead must give the same records.
"""

import pytest

from ftvoter.sim.campaign import build_bench, run_campaign
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
    run_campaign(load_spec(built), folder, workers=1, progress=False)
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
        run_campaign(spec, tmp_path, workers=1, progress=False)
        assert by_id(tmp_path) == reference
