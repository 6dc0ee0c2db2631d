"""Pure-Python golden models of the gateware.

These models are written from the documented behaviour, independently of the Amaranth
code, and import neither Amaranth nor cocotb, so both ``amaranth.sim`` tests and cocotb
testbenches check the hardware against them.
"""

from dataclasses import dataclass, field

__all__ = ["LFSR_TAPS", "lfsr_next", "compare", "vote", "WorkloadModel", "MemoryModel",
           "Write", "Read", "registers_at"]


LFSR_TAPS = 0x80200003


def lfsr_next(state):
    """Return the next state of the 32-bit Galois LFSR (taps 32, 22, 2, 1)."""
    return (state >> 1) ^ (LFSR_TAPS if state & 1 else 0)


def compare(values):
    """Return ``(differs, disagree, diff_bits)`` for one cycle of 2 or 3 lane values.

    ``disagree`` has bit ``i`` set for each lane that disagrees: both lanes in DMR; in
    TMR, each lane that differs from the bitwise majority.
    """
    if len(values) == 2:
        diff = values[0] ^ values[1]
        return diff != 0, 0b11 if diff else 0, diff
    a, b, c = values
    diff = (a ^ b) | (b ^ c)
    majority = vote(values)
    disagree = sum(1 << i for i, v in enumerate(values) if v != majority)
    return diff != 0, disagree, diff


def vote(values):
    """Return the bitwise majority of three integers."""
    a, b, c = values
    return (a & b) | (a & c) | (b & c)


@dataclass(frozen=True)
class Write:
    addr: int
    data: int
    strb: int


@dataclass(frozen=True)
class Read:
    addr: int
    data: int


@dataclass
class MemoryModel:
    """Word-addressed memory with byte strobes, zero-initialised, as AXI4-Lite sees it."""
    data_width: int = 32
    words: dict = field(default_factory=dict)

    def write(self, addr, data, strb):
        nbytes = self.data_width // 8
        index = addr // nbytes
        old = self.words.get(index, 0)
        for byte in range(nbytes):
            if strb >> byte & 1:
                mask = 0xff << (8 * byte)
                old = (old & ~mask) | (data & mask)
        self.words[index] = old

    def read(self, addr):
        return self.words.get(addr // (self.data_width // 8), 0)


class WorkloadModel:
    """Instruction-level model of :class:`ftvoter.hdl.units.workload.WorkloadLane`.

    :meth:`step` executes one operation and returns the bus transaction it made
    (:class:`Write` or :class:`Read`) or ``None``. Bus timing is not modelled: the model
    gives the order and content of transactions, which is what the hardware must match.
    """

    def __init__(self, *, seed=1, data_width=32, regs=8, scratch_words=8, io_base=0,
                 io_words=256, memory=None):
        self.width = data_width
        self.mask = (1 << data_width) - 1
        self.state = seed
        self.regs = [0] * regs
        self.scratch = [0] * scratch_words
        self.io_base = io_base
        self.io_words = io_words
        self.memory = memory if memory is not None else MemoryModel(data_width)
        self.operations = 0

    def _field(self, lsb, count):
        return (self.state >> lsb) & ((1 << count) - 1)

    def step(self, irq=0):
        s, mask, width = self.state, self.mask, self.width
        rbits = (len(self.regs) - 1).bit_length()
        op = s & 7
        rd = self._field(3, rbits)
        rs1 = self.regs[self._field(7, rbits)]
        rs2 = self.regs[self._field(11, rbits)]
        fn = self._field(15, 2)
        entropy = 0
        for shift in range(0, width, 32):
            entropy |= s << shift
        entropy &= mask
        nbytes = width // 8
        io_addr = self.io_base + (rs1 & (self.io_words - 1)) * nbytes
        event = None
        if op in (0, 1):
            self.regs[rd] = [rs1 + rs2, rs1 - rs2, rs1 ^ rs2, rs1 ^ entropy][fn] & mask
        elif op == 2:
            self.regs[rd] = self.scratch[rs1 & (len(self.scratch) - 1)]
        elif op == 3:
            self.scratch[rs1 & (len(self.scratch) - 1)] = rs2
        elif op == 4:
            strb = (1 << nbytes) - 1 if s >> 26 & 1 else self._field(17, nbytes)
            self.memory.write(io_addr, rs2, strb)
            event = Write(io_addr, rs2, strb)
        elif op == 5:
            data = self.memory.read(io_addr)
            self.regs[rd] = data
            event = Read(io_addr, data)
        elif op == 6:
            self.regs[rd] = entropy
        else:
            self.regs[rd] = (((rs1 << 1) | (rs1 >> (width - 1))) & mask) ^ irq
        self.state = lfsr_next(s)
        self.operations += 1
        return event

    def trace(self, transactions):
        """Run until ``transactions`` bus transactions were made and return them."""
        events = []
        while len(events) < transactions:
            event = self.step()
            if event is not None:
                events.append(event)
        return events


def registers_at(model, sites, limit=2_000_000):
    """Step ``model`` (a :class:`WorkloadModel`) until its LFSR state is a dumped lane's
    (``sites["lfsr.state"]``, of ``{register: value}``); return ``(operations, regs,
    scratch)`` as the lane holds them then (``None`` if not within ``limit`` steps). A
    lane caught with a read in flight (``fsm_state`` READ or RRESP) has moved its LFSR on
    but not written the read's register (``pending_rd``) yet: that one is the value from
    before."""
    before = None
    for _ in range(limit):
        if model.state == sites["lfsr.state"]:
            regs = list(model.regs)
            if sites["fsm_state"] in (3, 4) and before is not None:
                regs[sites["pending_rd"]] = before[sites["pending_rd"]]
            return model.operations, regs, list(model.scratch)
        before = list(model.regs)
        model.step()
    return None
