"""``ftvoter sim --flip`` says what became of the flip: caught by the lane's own parity,
detected by the comparison, or not applied at all (issue 10)."""

import re
import subprocess
import sys

import pytest


def sim(*args):
    result = subprocess.run([sys.executable, "-m", "ftvoter.sim", "sim", "--waves", "none",
                             *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return dict(re.findall(r"^  (\w+(?: \w+)?)\s{2,}(.*)$", result.stdout, re.M))


@pytest.mark.tb
def test_parity_catches_a_register_file_flip():
    # A register-file bit is covered by the lane's parity: its self_error takes lane 1
    # out before any output differs, so the comparison never fires (no mismatch).
    lines = sim("--cycles", "1000", "--flip", "lane1.regfile.r3[7]@500")
    assert re.fullmatch(r"lane1\.regfile\.r3\[7\]@500: caught by lane 1's own check "
                        r"\(self_error\) \d+ cycles later", lines["flip"]), lines["flip"]
    assert lines["lanes"] == "ONLINE BROKEN"
    assert lines["mismatches"].startswith("0 cycles")


@pytest.mark.tb
def test_scratch_flip_is_found_by_the_comparison():
    # The scratch RAM has no parity: only the bridge's comparison sees the wrong data.
    lines = sim("--cycles", "3000", "--flip", "lane1.scratch.m3[4]@200")
    assert re.fullmatch(r"lane1\.scratch\.m3\[4\]@200: detected by the comparison "
                        r"\(mismatch\) \d+ cycles later", lines["flip"]), lines["flip"]


@pytest.mark.tb
def test_flip_after_the_last_cycle_is_not_applied():
    lines = sim("--cycles", "100", "--flip", "lane1.regfile.r3[7]@500")
    assert lines["flip"] == ("lane1.regfile.r3[7]@500: not applied (the run ends before it, "
                             "at cycle 99)")
    assert lines["lanes"] == "ONLINE ONLINE"
