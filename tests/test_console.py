"""The host side of the management port against a board model written from the framing."""

import pytest

from ftvoter.boards.console import ManagementClient, ManagementError, parse_inject
from ftvoter.sim.cli import main

# Fault register offsets and CONTROL fields, from docs/fault_registers.md.
CONTROL, SITE, MASK, START, DURATION, CYCLE = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x18


class FakeBoard:
    """Answers request frames (0xA5, command, offset, data LE, sum) with response frames
    (0x5A, status, data LE, sum) from a dict of fault registers; every access takes
    ``per_access`` clock cycles, and the board logs (cycle, offset, value) of writes."""

    def __init__(self, cycle=10_000, per_access=15_600):
        self.cycle, self.per_access = cycle, per_access
        self.regs = {CONTROL: 0, SITE: 0, MASK: 0, START: 0, DURATION: 0}
        self.writes, self.pending = [], b""

    def write(self, frame):
        assert len(frame) == 8 and frame[0] == 0xA5 and sum(frame[:7]) % 256 == frame[7]
        command, offset = chr(frame[1]), frame[2]
        value = int.from_bytes(frame[3:7], "little")
        # The request is received, then served: the cycle advances by one access.
        self.cycle = min(self.cycle + self.per_access, 2**32 - 1)
        if command == "w":
            self.regs[offset] = value
            self.writes.append((self.cycle, offset, value))
            data = 0
        else:
            assert command == "r"
            data = self.cycle if offset == CYCLE else self.regs[offset]
        body = bytes([0x5A, 0]) + data.to_bytes(4, "little")
        self.pending = body + bytes([sum(body) % 256])

    def read(self, count):
        answer, self.pending = self.pending[:count], self.pending[count:]
        return answer


@pytest.mark.parametrize("per_access", [200, 15_600, 200_000])
def test_inject_arms_before_the_start(per_access):
    # A flip happens only at its start cycle: the arming write must land before it,
    # however long an access takes, and the call returns after it.
    board = FakeBoard(per_access=per_access)
    start = ManagementClient(board).inject(2, 0x10, 0, duration=5)
    written = {offset: (cycle, value) for cycle, offset, value in board.writes}
    assert written[SITE][1] == 2 and written[MASK][1] == 0x10
    assert written[DURATION][1] == 5 and written[START][1] == start
    armed_at, control = written[CONTROL]
    assert control == 1                                   # ARM, model 0 (flip)
    assert armed_at < start
    assert board.cycle > start
    assert [offset for _, offset, _ in board.writes][-1] == CONTROL


def test_inject_after_the_counter_saturated():
    board = FakeBoard(cycle=2**32 - 100)
    with pytest.raises(ManagementError, match="reset the board"):
        ManagementClient(board).inject(0)
    assert board.regs[CONTROL] == 0                       # nothing was armed


def test_console_bad_arguments(capsys, tmp_path):
    def run(argv):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        return exit.value.code, capsys.readouterr().err

    code, err = run(["console", "--port", str(tmp_path / "none"), "--once"])
    assert code == 2 and err.startswith(f"ftvoter: error: cannot open {tmp_path / 'none'}")
    code, err = run(["console", "--port", "/dev/null", "--inject", "3:-1"])
    assert code == 2 and err == "ftvoter: error: --inject MASK must be from 1 to 4294967295, " \
                                "not -1\n"


@pytest.mark.parametrize("inject, message", [
    # Model 4 would spill into CONTROL.COMMON: a common-cause fault nobody asked for.
    ("5:1:4", "--inject MODEL must be from 0 to 2, not 4"),
    ("5:0", "--inject MASK must be from 1 to 4294967295, not 0"),
    ("65536", "--inject SITE must be from 0 to 65535, not 65536"),
    ("1:1:0:4294967296", "--inject CYCLES must be from 0 to 4294967295, not 4294967296"),
    ("1:x", "--inject MASK must be an integer, not 'x'"),
    ("1:1:0:0:0", "--inject must be SITE[:MASK[:MODEL[:CYCLES]]], not '1:1:0:0:0'"),
    ("", "--inject SITE must be an integer, not ''"),
])
def test_inject_out_of_range_writes_nothing(inject, message, capsys, monkeypatch):
    import serial
    opened = []
    monkeypatch.setattr(serial, "Serial", lambda *a, **k: opened.append(a) or FakeBoard())
    with pytest.raises(SystemExit) as exit:
        main(["console", "--port", "/dev/ttyFAKE", "--once", "--inject", inject])
    assert exit.value.code == 2
    assert capsys.readouterr().err == f"ftvoter: error: {message}\n"
    assert opened == []             # the board was not even opened


def test_parse_inject_defaults():
    assert parse_inject("7") == (7, 1, 0, 0)
    assert parse_inject("0x10:0x30:2:5") == (16, 0x30, 2, 5)


def test_console_lane_out_of_range(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["console", "--port", "/dev/null", "--lanes", "2", "--remove", "2"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == "ftvoter: error: --remove 2: there are 2 lanes (0 to 1)\n"
