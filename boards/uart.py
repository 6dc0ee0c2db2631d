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

        buses = (self.regs, self.faults)
        for bus in buses:
            m.d.comb += [bus.wdata.eq(wdata), bus.wstrb.eq(0xF), bus.awprot.eq(0),
                         bus.arprot.eq(0)]
        m.d.comb += [self.regs.awaddr.eq(offset), self.regs.araddr.eq(offset),
                     self.faults.awaddr.eq(offset), self.faults.araddr.eq(offset)]

        def each(field, value):
            return [getattr(self.regs, field).eq(value & ~fault_target),
                    getattr(self.faults, field).eq(value & fault_target)]

        def pick(field):
            return (getattr(self.regs, field) & ~fault_target) | \
                   (getattr(self.faults, field) & fault_target)

        aw_done, w_done = Signal(), Signal()
        with m.FSM():
            with m.State("RECEIVE"):
                with m.If(rx.valid):
                    with m.If((index != 0) | (rx.data == REQUEST)):
                        m.d.sync += [request[index].eq(rx.data), index.eq(index + 1)]
                        with m.If(index == 7):
                            m.d.sync += index.eq(0)
                            m.next = "DECODE"
            with m.State("DECODE"):
                m.d.sync += [rdata.eq(0), aw_done.eq(0), w_done.eq(0), status.eq(0)]
                with m.If(total != request[7]):
                    m.d.sync += status.eq(STATUS["checksum"])
                    m.next = "RESPOND"
                with m.Elif((command == COMMANDS["read"]) | (command == COMMANDS["write"]) |
                            (command == COMMANDS["fault_read"]) |
                            (command == COMMANDS["fault_write"])):
                    m.d.sync += [fault_target.eq(command[5]),      # lower case: faults
                                 write.eq((command == COMMANDS["write"]) |
                                          (command == COMMANDS["fault_write"]))]
                    m.next = "ACCESS"
                with m.Else():
                    m.d.sync += status.eq(STATUS["command"])
                    m.next = "RESPOND"
            with m.State("ACCESS"):
                with m.If(write):
                    m.d.comb += each("awvalid", ~aw_done) + each("wvalid", ~w_done)
                    with m.If(pick("awready") & ~aw_done):
                        m.d.sync += aw_done.eq(1)
                    with m.If(pick("wready") & ~w_done):
                        m.d.sync += w_done.eq(1)
                    m.d.comb += each("bready", aw_done & w_done)
                    with m.If(aw_done & w_done & pick("bvalid")):
                        resp = Mux(fault_target, self.faults.bresp, self.regs.bresp)
                        m.d.sync += status.eq(resp != AXI4_RESP_OKAY)
                        m.next = "RESPOND"
                with m.Else():
                    m.d.comb += each("arvalid", ~aw_done)
                    with m.If(pick("arready") & ~aw_done):
                        m.d.sync += aw_done.eq(1)
                    m.d.comb += each("rready", aw_done)
                    with m.If(aw_done & pick("rvalid")):
                        m.d.sync += rdata.eq(Mux(fault_target, self.faults.rdata,
                                                 self.regs.rdata))
                        m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += [tx.data.eq(response[sent]), tx.start.eq(1)]
                with m.If(tx.ready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == 6):
                        m.d.sync += sent.eq(0)
                        m.next = "RECEIVE"
        return m

