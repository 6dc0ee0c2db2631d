"""The host side of the management port against a board model written from the framing."""

import asyncio

import pytest

from ftvoter.boards.console import (
    ConsoleOptions,
    ManagementClient,
    ManagementError,
    check_response,
    console,
    parse_inject,
    uart_driver,
)
from ftvoter.boards.driver import AccessError, RegisterDriver
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
    start = asyncio.run(uart_driver(board).inject(2, 0x10, 0, duration=5))
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
    with pytest.raises(AccessError, match="reset the board"):
        asyncio.run(uart_driver(board).inject(0))
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


def test_client_error_status():
    # Status 1 (SLVERR) in a well-formed response frame; a short and a corrupted frame.
    body = bytes([0x5A, 1, 0, 0, 0, 0])
    frame = body + bytes([sum(body) % 256])
    with pytest.raises(ManagementError, match=r"^write of error register 0x50: SLVERR "
                                              r"\(write rejected\)$"):
        check_response(frame, "error", True, 0x50)
    with pytest.raises(ManagementError, match=r"^short response: 5a01 \(is the board "
                                              r"running\?\)$"):
        check_response(frame[:2], "fault", False, 0)
    with pytest.raises(ManagementError, match=r"^malformed response: "):
        check_response(frame[:6] + b"\x00", "error", False, 0)
    with pytest.raises(ValueError, match=r"^Target must be 'error' or 'fault', not 'x'$"):
        ManagementClient(FakeBoard(), "x")


class Recorder:
    """A transport answering reads from a dict (CYCLE counts up by 1000 per read) and
    logging writes as (map, offset, value) into a shared list."""

    def __init__(self, name, log, regs):
        self.name, self.log, self.regs, self.cycle = name, log, regs, 0

    async def read(self, offset):
        if self.name == "fault" and offset == CYCLE:
            self.cycle += 1000
            return self.cycle
        return self.regs.get(offset, 0)

    async def write(self, offset, value):
        self.log.append((self.name, offset, value))


def test_console_order_of_actions():
    # Offsets and values from docs/registers.md: UNLOCK 0x10 takes 0x554E4C4B, LANE_CMD
    # 0x50 is LANE | OP << 4 (REMOVE 1, INSERT 2), ERROR_CAUSE 0x1C has 17 RW1C bits.
    log, shown = [], []
    errors = {0x18: 0b0100, 0x1C: 1 << 5, 0x14: 1, 0x40: 3, 0x44: 4, 0x30: 0}
    driver = RegisterDriver(Recorder("error", log, errors),
                            faults=Recorder("fault", log, {}))
    options = ConsoleOptions(lanes=2, once=True, disarm=True, remove=1, clear=True,
                             insert=0, inject="3:0x10:1:7")
    assert asyncio.run(console(driver, options, show=shown.append)) == 0
    key = 0x554E4C4B
    assert log == [("fault", CONTROL, 0),
                   ("error", 0x10, key), ("error", 0x50, 0x11),
                   ("error", 0x1C, 0x1FFFF),
                   ("error", 0x10, key), ("error", 0x50, 0x20),
                   ("fault", CONTROL, 0), ("fault", SITE, 3), ("fault", MASK, 0x10),
                   ("fault", DURATION, 7), ("fault", START, 2000 + 3000 + 16),
                   ("fault", CONTROL, 0b011)]
    assert len(shown) == 1
    lines = shown[0].splitlines()
    assert lines[0].endswith("  lanes: ONLINE BROKEN  HALTED")
    assert lines[1:] == ["  error causes: SELF_ERROR", "  errors per lane: 3 4  corrected: 0"]


def test_console_options():
    assert ConsoleOptions(inject="7").fault == (7, 1, 0, 0)
    assert ConsoleOptions().fault is None
    with pytest.raises(ValueError, match=r"^--insert 3: there are 3 lanes \(0 to 2\)$"):
        ConsoleOptions(lanes=3, insert=3)
    with pytest.raises(ValueError, match=r"^--inject MODEL must be from 0 to 2, not 3$"):
        ConsoleOptions(inject="1:1:3", remove=5)
