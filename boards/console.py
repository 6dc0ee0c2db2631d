"""Host side of the management port: the framing, a register client, and the console.

The framing is :mod:`ftvoter.boards.uart`'s; :func:`request` and :func:`parse_response`
are written from its description, for the host and for testbenches alike.
"""

import time

from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import (
    CAUSES,
    ERROR_REGISTERS,
    EVENT_KINDS,
    LANE_OPS,
    LANE_STATES,
    UNLOCK_KEY,
)

__all__ = ["request", "parse_response", "ManagementError", "ManagementClient", "status",
           "format_status", "parse_inject", "ERROR", "FAULT"]

ERROR = {register.name: register.offset for register in ERROR_REGISTERS}
FAULT = {register.name: register.offset for register in FAULT_REGISTERS}
_COMMANDS = {("error", False): b"R", ("error", True): b"W",
             ("fault", False): b"r", ("fault", True): b"w"}
_SATURATED = 2**32 - 1
_STATUS = {0: "OK", 1: "SLVERR (write rejected)", 2: "bad checksum", 3: "unknown command"}


class ManagementError(RuntimeError):
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


class ManagementClient:
    """Register access over a byte stream with ``read(n)`` and ``write(data)`` (a
    ``serial.Serial``, a pseudo-terminal)."""

    def __init__(self, stream):
        self.stream = stream

    def _access(self, target, write, offset, data=0):
        self.stream.write(request(target, write, offset, data))
        status, value = parse_response(self.stream.read(7))
        if status:
            raise ManagementError(f"{'write' if write else 'read'} of {target} register "
                                  f"{offset:#04x}: {_STATUS.get(status, status)}")
        return value

    def read(self, offset):
        return self._access("error", False, offset)

    def write(self, offset, value):
        self._access("error", True, offset, value)

    def fault_read(self, offset):
        return self._access("fault", False, offset)

    def fault_write(self, offset, value):
        self._access("fault", True, offset, value)

    def lane_command(self, lane, op):
        """Remove, insert or freeze a lane (LANE_CMD, after UNLOCK)."""
        self.write(ERROR["UNLOCK"], UNLOCK_KEY)
        self.write(ERROR["LANE_CMD"], lane | LANE_OPS[op.upper()] << 4)

    def clear_errors(self):
        """Clear every sticky error cause (RW1C)."""
        self.write(ERROR["ERROR_CAUSE"], 0xFFFFFFFF)

    def inject(self, site, mask=1, model=0, *, delay=16, duration=0):
        """Program a fault (model 0 flip, 1 stuck-at-0, 2 stuck-at-1; a stuck-at lasts
        ``duration`` cycles, 0 until disarmed) and arm it; return its start cycle.

        A register access over the UART takes thousands of clock cycles (about 15,600 at
        115,200 baud and 12 MHz), and a flip happens only if it is armed before its start
        cycle. So the start is set after the arming access: two reads of ``CYCLE``
        measure the cycles one access takes, and the fault starts ``delay`` cycles after
        three more accesses (two are needed; the third is margin for the host's latency).
        The call returns after the start cycle. The injector's counter stops at 2**32 - 1
        (it counts cycles since reset); from then on :class:`ManagementError` says to reset
        the board.
        """
        self.fault_write(FAULT["CONTROL"], 0)
        self.fault_write(FAULT["SITE"], site)
        self.fault_write(FAULT["MASK"], mask)
        self.fault_write(FAULT["DURATION"], duration)
        first = self.fault_read(FAULT["CYCLE"])
        now = self.fault_read(FAULT["CYCLE"])
        start = now + 3 * (now - first) + delay
        if now == _SATURATED or start >= _SATURATED:
            raise ManagementError("the fault injector's cycle counter has reached its end "
                                  "(2**32 cycles after reset, 6 minutes at 12 MHz): reset "
                                  "the board to inject again")
        self.fault_write(FAULT["START"], start)
        self.fault_write(FAULT["CONTROL"], 1 | model << 1)
        # Return once the fault has started, so what is read next shows its effect.
        for _ in range(8):
            if self.fault_read(FAULT["CYCLE"]) > start:
                break
        return start


#: The ``--inject`` fields, their limits (the FaultRegisters fields) and their defaults.
_INJECT_FIELDS = (("SITE", 0, 2**16 - 1, None), ("MASK", 1, 2**32 - 1, 1),
                  ("MODEL", 0, 2, 0), ("CYCLES", 0, 2**32 - 1, 0))


def parse_inject(text):
    """Parse ``SITE[:MASK[:MODEL[:CYCLES]]]`` into ``(site, mask, model, cycles)``.

    Each field must fit its register field: SITE.INDEX is 16 bits, a MASK must hit at
    least one bit, MODEL is 0 (flip), 1 (stuck-at-0) or 2 (stuck-at-1) — a wider value
    would spill into CONTROL.COMMON and arm a common-cause fault — and CYCLES is 32 bits.
    Raises ``ValueError`` with a one-line message; nothing is sent before it is parsed.
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


def status(client, lanes):
    """Read what the console shows: lane states, error causes, counters, new events."""
    state = client.read(ERROR["LANE_STATE"])
    names = {v: k for k, v in LANE_STATES.items()}
    cause = client.read(ERROR["ERROR_CAUSE"])
    events = []
    for _ in range(client.read(ERROR["EVENT_STATUS"]) & 0x1F):
        event = client.read(ERROR["EVENT"])
        if event >> 31:
            kinds = {v: k for k, v in EVENT_KINDS.items()}
            events.append({"cycle": event & 0x3FFFFFF, "lane": event >> 26 & 3,
                           "kind": kinds[event >> 28 & 3]})
    return {
        "lanes": [names[state >> (2 * i) & 3] for i in range(lanes)],
        "halted": bool(client.read(ERROR["STATUS"]) & 1),
        "causes": [name for bit, (name, _) in enumerate(CAUSES) if cause >> bit & 1],
        "errors": [client.read(ERROR[f"ERRORS{i}"]) for i in range(lanes)],
        "corrected": client.read(ERROR["CORRECTED"]),
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
