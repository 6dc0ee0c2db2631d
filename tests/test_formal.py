"""The SymbiYosys proofs of formal/ (make formal): a fast subset here, all of them as long.

The fast subset is the DMR containment proof, its cover and its mutant (a bridge that
forwards lane 0 without comparing), the comparator's detection proof with its blind-bit
mutant, and the register semantics (k-induction; the compare masks written only from the
management port after UNLOCK, never by the lanes) with the mutant whose compare masks the
lanes can write, and one mutant each of live resync (a flip-flop the joiner does not get)
and rollback (undo logs never written back), which elaborate a whole Lockstep with those
options: the real designs must pass, the covers be reached and the mutants be rejected
with a counterexample trace, so a broken bridge, comparator, register block, proof
driver or continuous-processing harness fails the test. (The resync and rollback proofs
themselves take 40-70 s each: make test-long.) Each runs ``python formal/run.py`` in a
process of its own.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "formal" / "run.py"


def _run(*names):
    return subprocess.run([sys.executable, str(RUN), *names], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)


def _verdicts(stdout):
    verdicts = {}
    for line in stdout.splitlines():
        match = re.match(r"^(\S+\.\S+)\s+(?:prove k=\d+|bmc depth \d+|cover depth \d+)\s+"
                         r"(PASS|FAIL|REACHED|NOT REACHED|REJECTED|NOT REJECTED)\b", line)
        if match:
            verdicts[match[1]] = match[2]
    return verdicts


def test_formal_fast_subset():
    proc = _run("containment.dmr", "containment.dmr_cover", "containment.dmr_forward_lane0",
                "detection.cmp_dmr", "detection.cmp_dmr_blind_bit", "registers.regs",
                "registers.regs_masks_from_lanes", "resync.dmr_flop_missed",
                "rollback.dmr_no_undo")
    assert _verdicts(proc.stdout) == {
        "containment.dmr": "PASS",
        "containment.dmr_cover": "REACHED",
        "containment.dmr_forward_lane0": "REJECTED",
        "detection.cmp_dmr": "PASS",
        "detection.cmp_dmr_blind_bit": "REJECTED",
        "registers.regs": "PASS",
        "registers.regs_masks_from_lanes": "REJECTED",
        "resync.dmr_flop_missed": "REJECTED",
        "rollback.dmr_no_undo": "REJECTED",
    }, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    traces = re.findall(r"trace: (\S+\.vcd)", proc.stdout)
    assert len(traces) == 5 and all((ROOT / t).is_file() for t in traces), proc.stdout


def test_formal_bad_usage():
    proc = _run("nonexistent")
    assert proc.returncode == 2
    assert re.fullmatch(r"run\.py: error: No proof family 'nonexistent' \(have .*\)\n",
                        proc.stderr)
    proc = _run("containment.nonexistent")
    assert proc.returncode == 2
    assert re.fullmatch(r"run\.py: error: No task 'containment\.nonexistent' .*\n",
                        proc.stderr)


def test_formal_list():
    proc = _run("--list")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert {"containment.dmr", "detection.bridge_tmr", "response.tmr_no_slverr",
            "handshake.dmr_hasty_withdraw", "registers.regs_unlock_sticky", "masks.tmr",
            "masks.tmr_blind_data_bit", "registers.single_tmr_w_unrefused", "resync.tmr",
            "resync.dmr_no_final_copy", "rollback.dmr", "rollback.dmr_ckpt_at_handshake"
            } <= set(names)


@pytest.mark.long
def test_formal_all():
    proc = _run()
    verdicts = _verdicts(proc.stdout)
    assert verdicts and proc.returncode == 0, proc.stdout + proc.stderr
    assert all(v in ("PASS", "REACHED", "REJECTED") for v in verdicts.values()), proc.stdout
