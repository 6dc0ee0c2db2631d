"""Checkpoints on the long program (programs/ledger.c, the bench of
campaigns/picorv32-dmr-ledger.toml), over a shorter horizon: a campaign from checkpoints
equals one without, injection for injection. Marked long: a build of its own (make
test-long); tb/test_campaign_cpu_tb.py checks the same on the bench make test builds.
"""

import pytest

from ftvoter.sim.campaign import run_campaign
from ftvoter.sim.results import ResultStore
from ftvoter.sim.spec import load_spec

SPEC = """\
name = "tb_ledger"
seed = 5

[design]
lane = "picorv32"
lanes = 2
policy = "halt"

[workload]
program = "programs/ledger.c"
cycles = 200000
checkpoint = {checkpoint}

[faults]
sites = ["*"]
models = ["flip", "stuck0", "stuck1"]
count = 60
start = {{ min = 0, max = 199999 }}
duration = 0

[observation]
window = 2000
"""


def by_id(folder):
    return {record["id"]: record for record in ResultStore(folder).records()}


@pytest.mark.tb
@pytest.mark.long       # its own build of the ledger bench
def test_ledger_from_checkpoints_equals_from_reset(tmp_path):
    # Without checkpoints, going on from run to run by loads; with them (39, one every
    # 5,000 cycles), every run a restart in plan order (random starts), each from the
    # checkpoint before its start: the slot switched back and forth 60 times.
    results, figures = {}, {}
    for checkpoint, reuse in ((0, True), (5000, False)):
        path = tmp_path / f"ledger{checkpoint}.toml"
        path.write_text(SPEC.format(checkpoint=checkpoint))
        out = tmp_path / f"out{checkpoint}"
        figures[checkpoint] = run_campaign(load_spec(path), out, workers=1, progress=False,
                                           reuse=reuse)
        results[checkpoint] = by_id(out)
    assert len(results[0]) == 60 and results[5000] == results[0]
    assert {r["outcome"] for r in results[0].values()} - {"masked", "latent"}, \
        "no fault was detected: a blind run"
    # From reset, each run would have cost at least its start cycle.
    assert figures[5000]["cycles"] < 0.2 * sum(r["start"] for r in results[0].values())
