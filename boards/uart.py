"""The out-of-band management port: register reads and writes over a UART.

The white paper's service module reaches the fault-tolerance hardware out of band; on a
board, :class:`ManagementPort` does that over the board's UART (8N1). Framing (all
multi-byte values little-endian; ``checksum`` is the sum of the preceding bytes, modulo
256):

request, 8 bytes: ``0xA5, command, offset, data[0:4], checksum``
  ``command``: ``'R'`` (0x52) / ``'W'`` (0x57) read / write an error register (the
  bridge's ``mgmt`` port); ``'r'`` (0x72) / ``'w'`` (0x77) a fault register
  (:class:`~ftvoter.hdl.fault_regs.FaultRegisters`). ``data`` is ignored by reads. Bytes
  before a 0xA5 are skipped, so a host can resynchronise by sending 0x00s.

response, 7 bytes: ``0x5A, status, data[0:4], checksum``
  ``status``: 0 OK, 1 the register port answered SLVERR (a rejected write), 2 bad
  checksum, 3 unknown command; ``data``: the value read (0 for writes).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ftvoter.hdl.signatures import AXI4_RESP_OKAY, AXI4LiteSignature

__all__ = ["UARTRx", "UARTTx", "ManagementPort", "REQUEST", "RESPONSE", "COMMANDS",
           "STATUS"]

REQUEST, RESPONSE = 0xA5, 0x5A
COMMANDS = {"read": 0x52, "write": 0x57, "fault_read": 0x72, "fault_write": 0x77}
STATUS = {"ok": 0, "slverr": 1, "checksum": 2, "command": 3}


def _check_divisor(divisor):
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        raise TypeError(f"Divisor must be an integer of at least 4, not {divisor!r}")


class UARTRx(wiring.Component):
    """8N1 receiver. ``valid`` pulses for one cycle with each byte in ``data``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency / baud rate), at least 4.
    """

    rx: In(1, init=1)
    data: Out(8)
    valid: Out(1)

    def __init__(self, divisor):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self._divisor
        sync = Signal(2, init=0b11)
        m.d.sync += sync.eq(Cat(self.rx, sync[0]))
        line = sync[1]
        timer = Signal(range(d + d // 2 + 1))
        bit = Signal(range(9))
        shift = Signal(8)
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += [timer.eq(d + d // 2 - 1), bit.eq(0)]   # to mid-bit 0
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), bit.eq(bit + 1),
                                 timer.eq(d - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(line):
                        m.d.sync += [self.data.eq(shift), self.valid.eq(1)]
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """8N1 transmitter: a byte in ``data`` with ``start`` is sent when ``ready``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.
    """

    data: In(8)
    start: In(1)
    ready: Out(1)
    tx: Out(1, init=1)

    def __init__(self, divisor):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        frame = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += [self.ready.eq(left == 0), self.tx.eq(frame[0])]
        with m.If(self.ready & self.start):
            m.d.sync += [frame.eq(Cat(Const(0, 1), self.data, Const(1, 1))), left.eq(10),
                         timer.eq(self._divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], Const(1, 1))), left.eq(left - 1),
                             timer.eq(self._divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class _Transaction:
    """The management port's registers: the request received, the access, the response."""

    def __init__(self, m):
        request = Array(Signal(8, name=f"request{i}") for i in range(8))
        index = Signal(range(8))
        command, offset = request[1], request[2]
        wdata = Cat(request[3], request[4], request[5], request[6])
        total = Signal(8)
        m.d.comb += total.eq(sum(request[i] for i in range(7)))
        status = Signal(8)
        rdata = Signal(32)
        response = Array([Const(RESPONSE, 8), status, rdata[0:8], rdata[8:16], rdata[16:24],
                          rdata[24:32], Signal(8, name="response_sum")])
        m.d.comb += response[6].eq(RESPONSE + status + rdata[0:8] + rdata[8:16] +
                                   rdata[16:24] + rdata[24:32])
        sent = Signal(range(8))
        fault_target = Signal()
        write = Signal()
        # Written as a pair, as before the split, so the registers keep their names: the
        # tracer names only the second ("w_done"); the first is "$signal".
        aw_done, w_done = Signal(), Signal()
        self.request, self.index, self.total = request, index, total
        self.command, self.offset, self.wdata = command, offset, wdata
        self.status, self.rdata, self.response, self.sent = status, rdata, response, sent
        self.fault_target, self.write = fault_target, write
        self.aw_done, self.w_done = aw_done, w_done


class ManagementPort(wiring.Component):
    """Register access over a UART (framing in the module docstring).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (e.g. 12 MHz / 115200 baud = 104).

    Members
    -------
    rx : In(1), tx : Out(1)
        The UART lines.
    regs : Out(AXI4LiteSignature(8, 32))
        Initiator to the error registers (the bridge's ``mgmt`` target).
    faults : Out(AXI4LiteSignature(5, 32))
        Initiator to the fault registers.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    regs: Out(AXI4LiteSignature(addr_width=8, data_width=32))
    faults: Out(AXI4LiteSignature(addr_width=5, data_width=32))

    def __init__(self, divisor):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = rx = UARTRx(self._divisor)
        m.submodules.sender = tx = UARTTx(self._divisor)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        t = _Transaction(m)
        self._drive_buses(m, t)
        with m.FSM():
            with m.State("RECEIVE"):
                self._receive(m, rx, t)
            with m.State("DECODE"):
                self._decode(m, t)
            with m.State("ACCESS"):
                with m.If(t.write):
                    self._write(m, t)
                with m.Else():
                    self._read(m, t)
            with m.State("RESPOND"):
                self._respond(m, tx, t)
        return m

    def _drive_buses(self, m, t):
        """Drive the address, data and protection of both register buses from the request."""
        buses = (self.regs, self.faults)
        for bus in buses:
            m.d.comb += [bus.wdata.eq(t.wdata), bus.wstrb.eq(0xF), bus.awprot.eq(0),
                         bus.arprot.eq(0)]
        m.d.comb += [self.regs.awaddr.eq(t.offset), self.regs.araddr.eq(t.offset),
                     self.faults.awaddr.eq(t.offset), self.faults.araddr.eq(t.offset)]

    def _each(self, t, field, value):
        """Return statements driving ``field`` of the target bus with ``value``, 0 elsewhere."""
        return [getattr(self.regs, field).eq(value & ~t.fault_target),
                getattr(self.faults, field).eq(value & t.fault_target)]

    def _pick(self, t, field):
        """Return ``field`` of the target bus."""
        return (getattr(self.regs, field) & ~t.fault_target) | \
               (getattr(self.faults, field) & t.fault_target)

    def _receive(self, m, rx, t):
        """Collect the request's bytes, from a 0xA5 on (state RECEIVE)."""
        with m.If(rx.valid):
            with m.If((t.index != 0) | (rx.data == REQUEST)):
                m.d.sync += [t.request[t.index].eq(rx.data), t.index.eq(t.index + 1)]
                with m.If(t.index == 7):
                    m.d.sync += t.index.eq(0)
                    m.next = "DECODE"

    def _decode(self, m, t):
        """Check the request's checksum and command, choose the target (state DECODE)."""
        command = t.command
        m.d.sync += [t.rdata.eq(0), t.aw_done.eq(0), t.w_done.eq(0), t.status.eq(0)]
        with m.If(t.total != t.request[7]):
            m.d.sync += t.status.eq(STATUS["checksum"])
            m.next = "RESPOND"
        with m.Elif((command == COMMANDS["read"]) | (command == COMMANDS["write"]) |
                    (command == COMMANDS["fault_read"]) |
                    (command == COMMANDS["fault_write"])):
            m.d.sync += [t.fault_target.eq(command[5]),      # lower case: faults
                         t.write.eq((command == COMMANDS["write"]) |
                                    (command == COMMANDS["fault_write"]))]
            m.next = "ACCESS"
        with m.Else():
            m.d.sync += t.status.eq(STATUS["command"])
            m.next = "RESPOND"

    def _write(self, m, t):
        """Write the target register: AW and W, then B (state ACCESS)."""
        aw_done, w_done = t.aw_done, t.w_done
        m.d.comb += self._each(t, "awvalid", ~aw_done) + self._each(t, "wvalid", ~w_done)
        with m.If(self._pick(t, "awready") & ~aw_done):
            m.d.sync += aw_done.eq(1)
        with m.If(self._pick(t, "wready") & ~w_done):
            m.d.sync += w_done.eq(1)
        m.d.comb += self._each(t, "bready", aw_done & w_done)
        with m.If(aw_done & w_done & self._pick(t, "bvalid")):
            resp = Mux(t.fault_target, self.faults.bresp, self.regs.bresp)
            m.d.sync += t.status.eq(resp != AXI4_RESP_OKAY)
            m.next = "RESPOND"

    def _read(self, m, t):
        """Read the target register: AR, then R (state ACCESS); ``aw_done`` marks AR done."""
        ar_done = t.aw_done
        m.d.comb += self._each(t, "arvalid", ~ar_done)
        with m.If(self._pick(t, "arready") & ~ar_done):
            m.d.sync += ar_done.eq(1)
        m.d.comb += self._each(t, "rready", ar_done)
        with m.If(ar_done & self._pick(t, "rvalid")):
            m.d.sync += t.rdata.eq(Mux(t.fault_target, self.faults.rdata, self.regs.rdata))
            m.next = "RESPOND"

    def _respond(self, m, tx, t):
        """Send the response's bytes (state RESPOND)."""
        m.d.comb += [tx.data.eq(t.response[t.sent]), tx.start.eq(1)]
        with m.If(tx.ready):
            m.d.sync += t.sent.eq(t.sent + 1)
            with m.If(t.sent == 6):
                m.d.sync += t.sent.eq(0)
                m.next = "RECEIVE"
