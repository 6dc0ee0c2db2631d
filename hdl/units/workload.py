"""WorkloadLane: a deterministic reference compute unit."""

from typing import NamedTuple

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import enum, wiring

from ..encodings import ADDR_WIDTH
from ..sabotage import StateRegisters
from ..signatures import LaneSignature
from .lfsr import GaloisLFSR
from .regfile import ParityRegisterFile
from .scratch import ScratchRAM

__all__ = ["WorkloadLane", "Op", "AluFn"]


class Op(enum.Enum, shape=3):
    """Operation, decoded from bits ``[0:3]`` of the LFSR state."""
    ALU_A = 0   # rd = fn(rs1, rs2)
    ALU_B = 1   # rd = fn(rs1, rs2)
    LOAD  = 2   # rd = scratch[rs1]
    STORE = 3   # scratch[rs1] = rs2
    WRITE = 4   # I/O write: mem[io(rs1)] = rs2 under a strobe
    READ  = 5   # I/O read:  rd = mem[io(rs1)]
    LI    = 6   # rd = entropy (the LFSR state, repeated to the data width)
    IRQ   = 7   # rd = rotl(rs1, 1) ^ irq


class AluFn(enum.Enum, shape=2):
    """ALU function, decoded from bits ``[15:17]`` of the LFSR state."""
    ADD = 0
    SUB = 1
    XOR = 2
    MIX = 3     # rs1 ^ entropy


class _State(enum.Enum, shape=3):
    EXEC  = 0
    WRITE = 1
    WRESP = 2
    READ  = 3
    RRESP = 4


# The lane's own bus output registers (fault sites "bus.<name>").
_BUS_REGISTERS = ("awaddr", "awvalid", "wdata", "wstrb", "wvalid", "bready", "araddr",
                  "arvalid", "rready")

# Bit fields of the LFSR state that make up one operation.
_OP     = slice(0, 3)
_RD     = 3
_RS1    = 7
_RS2    = 11
_FN     = slice(15, 17)
_STRB   = 17
_FULL   = 26


class _Operation(NamedTuple):
    """One decoded operation: LFSR state, fields, operands and their parities."""
    s: Value
    op: Value
    fn: Value
    rd: Value
    entropy: Value
    rs1: Value
    rs2: Value
    io_addr: Value
    p_rs1: Value
    p_rs2: Value
    p_entropy: Value


class WorkloadLane(wiring.Component):
    """A deterministic workload unit that honours the lane contract.

    Every cycle in which it is not waiting for the bus, the lane executes one operation
    chosen by a 32-bit LFSR: ALU arithmetic on a register file with parity, loads and
    stores to a small scratch RAM, and AXI4-Lite reads and writes to an I/O window. The
    LFSR advances once per operation, so the sequence of operations, and therefore the
    I/O trace, depends only on ``seed`` and on the data read back: same seed and same
    responses, same trace. :class:`ftvoter.sim.models.WorkloadModel` is the
    instruction-level golden model.

    Operand registers are named by the LFSR; I/O and scratch addresses come from register
    data, so a corrupted register reaches the bus as a wrong address or wrong data.

    The lane has one AXI4-Lite transaction outstanding at most. A write presents AW and W
    together and waits for both handshakes, then for B; a read presents AR, then waits for
    R. Read data are written to the destination register whatever the response code.

    ``self_error`` is set (and held until reset) in the cycle after an operation reads a
    register whose parity bit does not match.

    Stable fault sites (hierarchical names below the lane): ``regfile.r<i>``,
    ``regfile.parity``, ``scratch.m<i>``, ``lfsr.state`` and the lane's own registers
    listed by :meth:`state_registers`.

    Parameters
    ----------
    seed : int
        LFSR seed, from 1 to 2**32 - 1.
    addr_width : int
        AXI4-Lite address width (default 32).
    data_width : int
        AXI4-Lite and register width: 32 or 64.
    irq_width : int
        Number of interrupt lines (mixed into registers by ``IRQ`` operations).
    regs : int
        Registers in the register file: 2, 4, 8 or 16.
    scratch_words : int
        Words of scratch RAM: a power of two from 2 to 64.
    io_base : int
        Byte address of the I/O window, aligned to its size.
    io_words : int
        Size of the I/O window in words, a power of two.

    Members
    -------
    bus : Out(AXI4LiteSignature(addr_width, data_width))
    irq : In(irq_width)
    self_error : Out(1)

    Raises
    ------
    TypeError
        If a parameter has the wrong type or range (see the component parts).
    ValueError
        If the I/O window is misaligned or does not fit in the address space.
    """

    def __init__(self, *, seed=1, addr_width=ADDR_WIDTH, data_width=32, irq_width=1, regs=8,
                 scratch_words=8, io_base=0, io_words=256):
        signature = LaneSignature(addr_width=addr_width, data_width=data_width,
                                  irq_width=irq_width)
        if (not isinstance(io_words, int) or isinstance(io_words, bool) or io_words < 1 or
                io_words & (io_words - 1)):
            raise TypeError(f"I/O window size must be a power of two, not {io_words!r}")
        if not isinstance(io_base, int) or isinstance(io_base, bool) or io_base < 0:
            raise TypeError(f"I/O base must be a non-negative integer, not {io_base!r}")
        window = io_words * (data_width // 8)
        if io_base % window:
            raise ValueError(f"I/O base must be aligned to the window size {window:#x}, "
                             f"not {io_base:#x}")
        if io_base + window > 2**addr_width:
            raise ValueError(f"I/O window must fit in the {addr_width}-bit address space, "
                             f"not end at {io_base + window:#x}")
        self._lfsr = GaloisLFSR(seed)
        self._regfile = ParityRegisterFile(count=regs, width=data_width, parity_input=True)
        self._scratch = ScratchRAM(depth=scratch_words, width=data_width)
        self._seed = seed
        self._io_base = io_base
        self._io_words = io_words
        super().__init__(signature)

        self.fsm_state = Signal(_State, name="fsm_state")
        self.pending_rd = Signal(range(regs), name="pending_rd")
        self.parity_fail = Signal(name="parity_fail")
        self.sites = StateRegisters()
        for name in ("fsm_state", "pending_rd", "parity_fail"):
            self.sites.add(f"ctrl.{name}", getattr(self, name))
        for name in _BUS_REGISTERS:
            self.sites.add(f"bus.{name}", getattr(self.bus, name))

    @property
    def seed(self):
        return self._seed

    @property
    def regs(self):
        return self._regfile.count

    @property
    def scratch_words(self):
        return self._scratch.depth

    @property
    def io_base(self):
        return self._io_base

    @property
    def io_words(self):
        return self._io_words

    def state_registers(self):
        """Return the lane's state registers as a dict of stable site names to signals.

        The names are paths below the lane (``regfile.r3``, ``bus.awaddr``); the bus
        output registers are the lane's ``bus`` signals themselves.
        """
        return {name: register for name, register in self.site_registers()}

    def site_registers(self):
        """Yield ``(name, register)`` for every fault site of the lane, in a stable order."""
        for prefix, part in (("regfile", self._regfile), ("scratch", self._scratch),
                             ("lfsr", self._lfsr)):
            for name, register in part.sites:
                yield f"{prefix}.{name}", register
        yield from self.sites

    def attach_saboteurs(self, saboteurs):
        """Give registers saboteurs: ``saboteurs`` maps site names (as
        :meth:`state_registers`) to :class:`~ftvoter.hdl.sabotage.SaboteurSignature`
        interfaces. Call before elaboration."""
        parts = {"regfile": self._regfile, "scratch": self._scratch, "lfsr": self._lfsr}
        for name, saboteur in saboteurs.items():
            prefix, _, rest = name.partition(".")
            if prefix in parts:
                parts[prefix].sites.saboteurs[rest] = saboteur
            else:
                self.sites.saboteurs[name] = saboteur

    def elaborate(self, platform):
        m = Module()
        m.submodules.lfsr = lfsr = self._lfsr
        m.submodules.regfile = regfile = self._regfile
        m.submodules.scratch = scratch = self._scratch
        sbits = (self.scratch_words - 1).bit_length()
        bus = self.bus
        nxt = self.sites.next
        self.sites.hold(m)

        operation = self._decode(m)
        alu, alu_parity = self._alu(m, operation)
        m.d.comb += [
            bus.awprot.eq(0),
            bus.arprot.eq(0),
            self.self_error.eq(self.parity_fail),
            scratch.addr.eq(operation.rs1[:sbits]),
            scratch.wdata.eq(operation.rs2),
        ]

        with m.If(regfile.parity_error):
            m.d.comb += nxt("ctrl.parity_fail").eq(1)

        with m.Switch(self.fsm_state):
            with m.Case(_State.EXEC):
                m.d.comb += [
                    lfsr.en.eq(1),
                    regfile.ren0.eq(1),
                    regfile.ren1.eq(1),
                    regfile.waddr.eq(operation.rd),
                ]
                self._execute(m, operation, alu, alu_parity)
            self._bus_states(m)

        self.sites.commit(m)
        return m

    def _decode(self, m):
        """Decode the operation from the LFSR state and read its operands; return both."""
        regfile = self._regfile
        width = self.signature.data_width
        rbits = (self.regs - 1).bit_length()
        wbits = (self._io_words - 1).bit_length()
        nstrb = width // 8

        s = self._lfsr.value
        op = Signal(Op)
        fn = Signal(AluFn)
        rd = s[_RD:_RD + rbits]
        entropy = Signal(width)
        m.d.comb += [
            op.eq(s[_OP]),
            fn.eq(s[_FN]),
            entropy.eq(Cat(*[s] * ((width + 31) // 32))[:width]),
            regfile.raddr0.eq(s[_RS1:_RS1 + rbits]),
            regfile.raddr1.eq(s[_RS2:_RS2 + rbits]),
        ]
        rs1, rs2 = regfile.rdata0, regfile.rdata1

        io_addr = Signal(self.signature.addr_width)
        m.d.comb += io_addr.eq(self._io_base + (rs1[:wbits] << (nstrb.bit_length() - 1)))

        # The parity written with a result comes from the operands' parities where it can
        # (parity(a ^ b) = parity(a) ^ parity(b); a rotation keeps it), so only sums
        # have a parity tree after their carry chain, and no result mux lies before one:
        # the same bit as the parity of the result, on a shorter path.
        p_rs1, p_rs2, p_entropy = rs1.xor(), rs2.xor(), entropy.xor()
        return _Operation(s, op, fn, rd, entropy, rs1, rs2, io_addr, p_rs1, p_rs2, p_entropy)

    def _alu(self, m, operation):
        """Compute the ALU result of the operation operation; return it and its parity."""
        width = self.signature.data_width
        fn, entropy, rs1, rs2 = operation.fn, operation.entropy, operation.rs1, operation.rs2
        p_rs1, p_rs2, p_entropy = operation.p_rs1, operation.p_rs2, operation.p_entropy
        # One adder for ADD and SUB (rs1 - rs2 = rs1 + ~rs2 + 1), so one parity tree.
        subtract = fn == AluFn.SUB
        arith = Signal(width)
        m.d.comb += arith.eq(rs1 + (rs2 ^ subtract.replicate(width)) + subtract)
        alu = Signal(width)
        alu_parity = Signal()
        with m.Switch(fn):
            with m.Case(AluFn.ADD, AluFn.SUB):
                m.d.comb += [alu.eq(arith), alu_parity.eq(arith.xor())]
            with m.Case(AluFn.XOR):
                m.d.comb += [alu.eq(rs1 ^ rs2), alu_parity.eq(p_rs1 ^ p_rs2)]
            with m.Case(AluFn.MIX):
                m.d.comb += [alu.eq(rs1 ^ entropy), alu_parity.eq(p_rs1 ^ p_entropy)]
        return alu, alu_parity

    def _execute(self, m, operation, alu, alu_parity):
        """Execute the operation operation (state EXEC): write a result or start a transaction."""
        regfile, scratch = self._regfile, self._scratch
        width = self.signature.data_width
        nstrb = width // 8
        nxt = self.sites.next
        s, rs1, rs2 = operation.s, operation.rs1, operation.rs2
        with m.Switch(operation.op):
            with m.Case(Op.ALU_A, Op.ALU_B):
                m.d.comb += [regfile.we.eq(1), regfile.wdata.eq(alu),
                             regfile.wparity.eq(alu_parity)]
            with m.Case(Op.LOAD):
                m.d.comb += [regfile.we.eq(1), regfile.wdata.eq(scratch.rdata),
                             regfile.wparity.eq(scratch.rdata.xor())]
            with m.Case(Op.STORE):
                m.d.comb += scratch.we.eq(1)
            with m.Case(Op.WRITE):
                m.d.comb += [
                    nxt("bus.awaddr").eq(operation.io_addr),
                    nxt("bus.awvalid").eq(1),
                    nxt("bus.wdata").eq(rs2),
                    nxt("bus.wstrb").eq(Mux(s[_FULL], Const(-1, nstrb),
                                            s[_STRB:_STRB + nstrb])),
                    nxt("bus.wvalid").eq(1),
                    nxt("ctrl.fsm_state").eq(_State.WRITE),
                ]
            with m.Case(Op.READ):
                m.d.comb += [
                    nxt("bus.araddr").eq(operation.io_addr),
                    nxt("bus.arvalid").eq(1),
                    nxt("ctrl.pending_rd").eq(operation.rd),
                    nxt("ctrl.fsm_state").eq(_State.READ),
                ]
            with m.Case(Op.LI):
                m.d.comb += [regfile.we.eq(1), regfile.wdata.eq(operation.entropy),
                             regfile.wparity.eq(operation.p_entropy)]
            with m.Case(Op.IRQ):
                m.d.comb += [
                    regfile.we.eq(1),
                    regfile.wdata.eq(Cat(rs1[-1], rs1[:-1]) ^ self.irq),
                    regfile.wparity.eq(operation.p_rs1 ^ self.irq[:width].xor()),
                ]

    def _bus_states(self, m):
        """Add the states of a transaction (WRITE, WRESP, READ, RRESP) to the state switch."""
        bus, regfile = self.bus, self._regfile
        nxt = self.sites.next
        with m.Case(_State.WRITE):
            aw_done = ~bus.awvalid | bus.awready
            w_done = ~bus.wvalid | bus.wready
            with m.If(bus.awready):
                m.d.comb += nxt("bus.awvalid").eq(0)
            with m.If(bus.wready):
                m.d.comb += nxt("bus.wvalid").eq(0)
            with m.If(aw_done & w_done):
                m.d.comb += [nxt("bus.bready").eq(1),
                             nxt("ctrl.fsm_state").eq(_State.WRESP)]

        with m.Case(_State.WRESP):
            with m.If(bus.bvalid):
                m.d.comb += [nxt("bus.bready").eq(0),
                             nxt("ctrl.fsm_state").eq(_State.EXEC)]

        with m.Case(_State.READ):
            with m.If(bus.arready):
                m.d.comb += [
                    nxt("bus.arvalid").eq(0),
                    nxt("bus.rready").eq(1),
                    nxt("ctrl.fsm_state").eq(_State.RRESP),
                ]

        with m.Case(_State.RRESP):
            with m.If(bus.rvalid):
                m.d.comb += [
                    regfile.we.eq(1),
                    regfile.waddr.eq(self.pending_rd),
                    regfile.wdata.eq(bus.rdata),
                    regfile.wparity.eq(bus.rdata.xor()),
                ]
                m.d.comb += [nxt("bus.rready").eq(0),
                             nxt("ctrl.fsm_state").eq(_State.EXEC)]
