"""Host side of the management port: the UART framing, a blocking client, and the console.

The framing is :mod:`ftvoter.boards.uart`'s; :func:`request`, :func:`parse_response` and
:func:`check_response` are written from its description, for the host and for testbenches
alike. :class:`ManagementClient` is the blocking transport of one register map over a byte
stream, :func:`uart_driver` the :class:`~ftvoter.boards.driver.RegisterDriver` of a board
on one, and :func:`console` what ``ftvoter console`` does with it: the command line only
parses its arguments into :class:`ConsoleOptions`, opens the serial port and runs
:func:`console` with ``asyncio.run``.
"""

import asyncio
import time
from dataclasses import dataclass, field

from ftvoter.hdl.encodings import FAULT_MODELS
from ftvoter.hdl.fault_regs import FAULT_REGISTERS

from .driver import AccessError, Blocking, RegisterDriver

__all__ = ["request", "parse_response", "check_response", "ManagementError",
           "ManagementClient", "uart_driver", "parse_inject", "ConsoleOptions", "status",
           "format_status", "console"]

_COMMANDS = {("error", False): b"R", ("error", True): b"W",
             ("fault", False): b"r", ("fault", True): b"w"}
_STATUS = {0: "OK", 1: "SLVERR (write rejected)", 2: "bad checksum", 3: "unknown command"}


class ManagementError(AccessError):
    """The board answered with an error status, or not at all."""


def request(target, write, offset, data=0):
    """Return the 8-byte request frame (``target``: ``"error"`` or ``"fault"``)."""
    body = bytes([0xA5]) + _COMMANDS[target, write] + bytes([offset & 0xFF]) + \
        (data & 0xFFFFFFFF).to_bytes(4, "little")
    return body + bytes([sum(body) & 0xFF])


def parse_response(frame):
    """Return ``(status, data)`` of a 7-byte response frame; raise if it is malformed."""
    if len(frame) != 7:
        raise ManagementError(f"short response: {frame.hex()} (is the board running?)")
    if frame[0] != 0x5A or sum(frame[:6]) & 0xFF != frame[6]:
        raise ManagementError(f"malformed response: {frame.hex()}")
    return frame[1], int.from_bytes(frame[2:6], "little")


def check_response(frame, target, write, offset):
    """Return the data of the response ``frame`` to an access; raise
    :class:`ManagementError` if it is malformed or its status is not OK."""
    status, value = parse_response(frame)
    if status:
        raise ManagementError(f"{'write' if write else 'read'} of {target} register "
                              f"{offset:#04x}: {_STATUS.get(status, status)}")
    return value


class ManagementClient:
    """Blocking access to one register map (``target``: ``"error"`` or ``"fault"``) over a
    byte stream with ``read(n)`` and ``write(data)`` (a ``serial.Serial``, a
    pseudo-terminal): ``read(offset)`` and ``write(offset, value)`` return once the board
    has answered, and raise :class:`ManagementError` if it answered an error or nothing.

    Raises
    ------
    ValueError
        If ``target`` is neither ``"error"`` nor ``"fault"``.
    """

    def __init__(self, stream, target="error"):
        if target not in ("error", "fault"):
            raise ValueError(f"Target must be 'error' or 'fault', not {target!r}")
        self.stream, self.target = stream, target

    def _access(self, write, offset, data=0):
        self.stream.write(request(self.target, write, offset, data))
        return check_response(self.stream.read(7), self.target, write, offset)

    def read(self, offset):
        return self._access(False, offset)

    def write(self, offset, value):
        self._access(True, offset, value)


def uart_driver(stream):
    """Return the :class:`~ftvoter.boards.driver.RegisterDriver` of a board's error and
    fault registers over its UART management port on ``stream``. Its accesses block (see
    :class:`~ftvoter.boards.driver.Blocking`)."""
    return RegisterDriver(Blocking(ManagementClient(stream, "error")),
                          faults=Blocking(ManagementClient(stream, "fault")))


def _top(register, name):
    return 2**FAULT_REGISTERS[register].field(name).width - 1


#: The ``--inject`` fields, their limits (the FaultRegisters fields) and their defaults.
_INJECT_FIELDS = (("SITE", 0, _top("SITE", "INDEX"), None),
                  ("MASK", 1, _top("MASK", "BITS"), 1),
                  ("MODEL", 0, max(FAULT_MODELS.values()), 0),
                  ("CYCLES", 0, _top("DURATION", "CYCLES"), 0))


def parse_inject(text):
    """Parse ``SITE[:MASK[:MODEL[:CYCLES]]]`` into ``(site, mask, model, cycles)``.

    Each field must fit its register field: SITE.INDEX is 16 bits, a MASK must hit at
    least one bit, MODEL is 0 (flip), 1 (stuck-at-0) or 2 (stuck-at-1) — 3 is no model,
    and a wider value would spill into CONTROL.COMMON — and CYCLES is 32 bits. Raises
    ``ValueError`` with a one-line message; nothing is sent before it is parsed.
    """
    parts = text.split(":")
    if not 1 <= len(parts) <= len(_INJECT_FIELDS):
        raise ValueError(f"--inject must be SITE[:MASK[:MODEL[:CYCLES]]], not {text!r}")
    values = []
    padded = parts + [None] * (len(_INJECT_FIELDS) - len(parts))
    for (name, low, high, default), part in zip(_INJECT_FIELDS, padded, strict=True):
        if part is None:
            values.append(default)
            continue
        try:
            value = int(part, 0)
        except ValueError:
            raise ValueError(f"--inject {name} must be an integer, not {part!r}") from None
        if not low <= value <= high:
            raise ValueError(f"--inject {name} must be from {low} to {high}, not {part}")
        values.append(value)
    return tuple(values)


@dataclass(frozen=True)
class ConsoleOptions:
    """What ``ftvoter console`` is asked to do, checked before anything is sent.

    ``inject`` is the ``--inject`` text, ``SITE[:MASK[:MODEL[:CYCLES]]]``; ``fault`` is
    it parsed (:func:`parse_inject`), or ``None``.

    Raises
    ------
    ValueError
        With a one-line message naming the option: a bad ``inject``, or a lane to remove
        or insert that the build does not have.
    """
    lanes: int = 2
    once: bool = False
    disarm: bool = False
    remove: int | None = None
    clear: bool = False
    insert: int | None = None
    inject: str | None = None
    dump: str | None = None
    dump_lane: int = 1
    board_lane: object = None
    fault: tuple | None = field(init=False, default=None)

    def __post_init__(self):
        if self.inject is not None:
            object.__setattr__(self, "fault", parse_inject(self.inject))
        for option, lane in (("--remove", self.remove), ("--insert", self.insert),
                             ("--dump-lane", self.dump_lane)):
            if lane is not None and lane >= self.lanes:
                raise ValueError(f"{option} {lane}: there are {self.lanes} lanes (0 to "
                                 f"{self.lanes - 1})")


async def status(driver, lanes):
    """Read what the console shows: lane states, error causes, counters, new events."""
    states = await driver.lane_states(lanes)
    causes = await driver.causes()
    events = [{"cycle": event.CYCLE, "lane": event.LANE, "kind": event.KIND}
              for event in await driver.events()]
    return {
        "lanes": states,
        "halted": bool((await driver.fields("STATUS")).HALTED),
        "causes": causes,
        "errors": [await driver.read(f"ERRORS{lane}") for lane in range(lanes)],
        "corrected": await driver.read("CORRECTED"),
        "events": events,
    }


def format_status(figures):
    lines = [time.strftime("%H:%M:%S") + "  lanes: " + " ".join(figures["lanes"]) +
             ("  HALTED" if figures["halted"] else ""),
             "  error causes: " + (", ".join(figures["causes"]) or "none"),
             "  errors per lane: " + " ".join(map(str, figures["errors"])) +
             f"  corrected: {figures['corrected']}"]
    lines += [f"  event: cycle {e['cycle']} lane {e['lane']} {e['kind']}"
              for e in figures["events"]]
    return "\n".join(lines)


async def dump_lane(driver, lane, board_lane, path):
    """Quick dump of ``lane`` (:func:`ftvoter.boards.dump.quick_dump`) of a build whose
    lanes are ``board_lane`` (a :class:`~ftvoter.boards.lanes.BoardLane`): write
    ``{site: value}`` to ``path`` (JSON) and the RAM image beside it
    (``<stem>-memory.bin``); return a line saying so."""
    from pathlib import Path

    from ftvoter.analysis.files import write_atomic

    from .dump import decode_state, dump_record, lane_layout, memory_image, quick_dump
    from .lanes import BoardLane
    board_lane = BoardLane() if board_lane is None else board_lane
    layout = lane_layout(board_lane.factory())
    ram_words = board_lane.ram_bytes // 4 if board_lane.cpu else 0
    words = await quick_dump(driver, lane, -(-layout.width // 32), ram_words)
    path = Path(path)
    image = memory_image(words["memory"])
    memory = path.with_name(path.stem + "-memory.bin")
    write_atomic(memory, image)
    write_atomic(path, dump_record(lane, decode_state(layout, words["state"]), memory.name,
                                   len(image), kind=board_lane.kind).encode())
    return (f"dump of lane {lane}: {len(layout.names)} registers ({layout.width} bits) in "
            f"{path}, {len(image)} bytes of RAM in {memory}; lane {lane} inserted again")


def _show(text):
    print(text, flush=True)


async def console(driver, options, *, show=_show, interval=1.0):
    """Do what ``options`` (:class:`ConsoleOptions`) ask with ``driver`` (a
    :class:`~ftvoter.boards.driver.RegisterDriver` with fault registers), then show the
    status (``show`` gets the text): once, returning 0, or every ``interval`` seconds
    until cancelled.

    The actions come in the order an operator repairs a lane: end the fault (disarm), take
    a lane out (remove), clear the causes, bring a lane back (insert); then, a new
    experiment, inject a fault.

    Raises
    ------
    AccessError
        If the board answered an access with an error, or not at all.
    """
    if options.disarm:
        await driver.disarm()
    if options.remove is not None:
        await driver.lane_command(options.remove, "REMOVE")
    if options.clear:
        await driver.clear_errors()
    if options.insert is not None:
        await driver.lane_command(options.insert, "INSERT")
    if options.fault is not None:
        site, mask, model, cycles = options.fault
        await driver.inject(site, mask, model, duration=cycles)
    if options.dump is not None:
        show(await dump_lane(driver, options.dump_lane, options.board_lane, options.dump))
    while True:
        show(format_status(await status(driver, options.lanes)))
        if options.once:
            return 0
        await asyncio.sleep(interval)
