"""A small RV32I instruction-set simulator: the golden model of the CPU lanes.

It runs the same image the cores run (an ELF from :func:`ftvoter.sim.programs.build_program`
or a raw RAM image) and predicts what must leave the lane: the console bytes, the exit code
and every access to the I/O region, in order. It shares nothing with the cores but the
memory map below, and is checked in the tests against hand-assembled instructions and
against the same C programs compiled natively for the host.

The lane's memory map (a contract, also in ``programs/README.md``)
------------------------------------------------------------------
============================  =============================================================
``0x0000_0000`` ..            the lane's own RAM: program, data, stack; 16 KiB by default
                              (``ram_bytes``). Execution starts here (the reset vector,
                              PicoRV32's default ``PROGADDR_RESET``; Sentinel's PC also
                              resets to 0). Byte, halfword and word loads and stores.
``0x1000_0000`` and up        the I/O path: every access goes through the voting bridge
                              to a path. Only aligned 32-bit loads and stores.
``0x1000_0000``               CONSOLE: a write's low byte is a console character
``0x1000_0004``               EXIT: a write is the exit code; the program then spins,
                              so the ISS stops here
``0x1000_0100`` .. ``01FF``   the transaction workload's request area: word 0 the number
                              of requests, then the requests
``0x1000_0200`` .. ``02FF``   the results area: one result word per request
``0x8000_0000`` .. ``00FF``   the bridge's register window: I/O like the rest
============================  =============================================================

Reads of the I/O region return what the path memory holds: the initial image given as
``io`` (``bytes`` for the request area, or a dict of address to word or bytes), then what
the program wrote; words never written read 0. Between the end of RAM and ``0x1000_0000``
nothing is mapped.

Instructions: the whole RV32I base set (LUI, AUIPC, JAL, JALR, the six branches, LB, LH, LW,
LBU, LHU, SB, SH, SW, the nine ALU-immediate and ten ALU-register operations). FENCE (and
FENCE.I) are no-ops. ECALL and EBREAK stop the run with :class:`IssError`: the programs
leave through the EXIT register, and PicoRV32 built without interrupts traps (halts) on
them too. Anything else (M, C, Zicsr, ...) is an illegal instruction.

Errors: an illegal instruction, a jump or branch to an address that is not a multiple of 4
(there is no C extension), a fetch outside RAM, a misaligned data access (the cores trap
it; C code never makes one), an access to an unmapped address and a non-word access to I/O
each raise :class:`IssError` naming the PC and the instruction word.

Timing: the ISS counts retired instructions (``steps``), not cycles. The write to EXIT is
the last one retired. It predecodes each instruction word once into a Python closure and
invalidates that on a store to the same word, so self-modifying code still works. Measured
with CPython 3.11: 2.4-4 million instructions per second on the example programs (decoding
included), so each of them runs in well under 0.1 s.
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path

from .rv32i import MAKE as _MAKE
from .rv32i import bits as _bits
from .rv32i import imm_b as _imm_b
from .rv32i import imm_i as _imm_i
from .rv32i import imm_j as _imm_j
from .rv32i import imm_s as _imm_s
from .rv32i import signed as _signed

__all__ = ["IssError", "Result", "run", "RESET_VECTOR", "DEFAULT_RAM_BYTES", "IO_BASE",
           "CONSOLE", "EXIT", "REQUESTS", "RESULTS", "AREA_BYTES", "BRIDGE_BASE",
           "BRIDGE_BYTES"]

RESET_VECTOR = 0x0000_0000
DEFAULT_RAM_BYTES = 16384
IO_BASE = 0x1000_0000
CONSOLE = 0x1000_0000
EXIT = 0x1000_0004
REQUESTS = 0x1000_0100
RESULTS = 0x1000_0200
AREA_BYTES = 0x100
BRIDGE_BASE = 0x8000_0000
BRIDGE_BYTES = 0x100

_M = 0xFFFF_FFFF
_SINK = 32
_S = 0x8000_0000


class IssError(RuntimeError):
    """The program did something the lane cannot do; the message is one line.

    ``pc`` and ``word`` are the address and encoding of the offending instruction (None
    where there is none, e.g. a fetch outside RAM has no word).
    """

    def __init__(self, message, *, pc=None, word=None):
        super().__init__(message)
        self.pc = pc
        self.word = word


@dataclass
class Result:
    """What one run of a program did.

    ``console``: the bytes written to CONSOLE; ``exit_code``: the value written to EXIT as
    a signed 32-bit int, or None if the run stopped before; ``steps``: instructions retired;
    ``io_writes``/``io_reads``: (address, value) of every I/O access in program order
    (console and exit writes included); ``regs``: x0..x31 and ``pc`` (the next instruction's
    address) when the run stopped; ``stopped``: ``"exit"``, ``"stop_at"`` or ``"max_steps"``.
    """

    console: bytes
    exit_code: int | None
    steps: int
    io_writes: list = field(default_factory=list)
    io_reads: list = field(default_factory=list)
    regs: list = field(default_factory=list)
    pc: int = 0
    stopped: str = "exit"


class _Exit(Exception):
    def __init__(self, npc):
        self.npc = npc


class _Machine:
    def __init__(self, image, ram_bytes, io):
        if ram_bytes <= 0 or ram_bytes % 4 or ram_bytes > IO_BASE:
            raise ValueError(f"RAM size must be a positive multiple of 4 below 0x1000_0000, "
                             f"not {ram_bytes!r}")
        if len(image) > ram_bytes:
            raise IssError(f"image of {len(image)} bytes does not fit in {ram_bytes} bytes "
                           f"of RAM")
        if sys.byteorder != "little":  # the memoryview casts below assume it
            raise RuntimeError("the ISS needs a little-endian host")
        self.ram = bytearray(ram_bytes)
        self.ram[:len(image)] = image
        self.ram_bytes = ram_bytes
        self.h16 = memoryview(self.ram).cast("H")
        self.w32 = memoryview(self.ram).cast("I")
        self.code = [None] * (ram_bytes // 4)
        self.x = [0] * 33  # x0..x31, and _SINK: where writes to x0 go, so x0 stays 0
        self.io = _io_image(io)
        self.io_writes = []
        self.io_reads = []
        self.console = bytearray()
        self.exit_code = None

    # Slow paths: I/O and errors (a byte or halfword access never reaches I/O).
    def _word(self, pc):
        return self.w32[pc >> 2] if 0 <= pc < self.ram_bytes else None

    def _fail(self, what, pc):
        word = self._word(pc)
        shown = "" if word is None else f" (instruction 0x{word:08x})"
        raise IssError(f"{what} at pc 0x{pc:08x}{shown}", pc=pc, word=word)

    def _where(self, a, size, pc, kind):
        if a < self.ram_bytes:
            self._fail(f"misaligned {size * 8}-bit {kind} of address 0x{a:08x}", pc)
        if a < IO_BASE:
            self._fail(f"{size * 8}-bit {kind} of unmapped address 0x{a:08x} (RAM ends at "
                       f"0x{self.ram_bytes:08x}, I/O starts at 0x{IO_BASE:08x})", pc)
        if size != 4 or a & 3:
            self._fail(f"{size * 8}-bit {kind} of I/O address 0x{a:08x}: only aligned 32-bit "
                       f"words go to I/O", pc)

    def slow_load(self, a, size, pc):
        self._where(a, size, pc, "load")
        v = self.io.get(a, 0)
        self.io_reads.append((a, v))
        return v

    def slow_store(self, a, size, v, pc):
        self._where(a, size, pc, "store")
        self.io[a] = v
        self.io_writes.append((a, v))
        if a == CONSOLE:
            self.console.append(v & 0xFF)
        elif a == EXIT:
            self.exit_code = _signed(v)
            raise _Exit((pc + 4) & _M)

    def _decode(self, pc):
        word = self.w32[pc >> 2]
        f = self.code[pc >> 2] = self._closure(pc, word)
        return f

    def _closure(self, pc, w):
        x = self.x
        npc = (pc + 4) & _M
        op, rd, f3 = w & 0x7F, _bits(w, 11, 7), _bits(w, 14, 12)
        rs1, rs2, f7 = _bits(w, 19, 15), _bits(w, 24, 20), _bits(w, 31, 25)

        def nop():
            return npc

        def illegal():
            self._fail("illegal instruction", pc)

        if op == 0x37 or op == 0x17:  # LUI, AUIPC
            k = (w & 0xFFFFF000) if op == 0x37 else (pc + (w & 0xFFFFF000)) & _M
            return _MAKE["const"](x, rd, k, npc) if rd else nop
        if op == 0x6F or op == 0x63:  # JAL, branches
            tgt = (pc + (_imm_j(w) if op == 0x6F else _imm_b(w))) & _M
            if op == 0x6F:
                f = _MAKE["jal"](x, rd, tgt, npc) if rd else (lambda: tgt)
            else:
                name = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}.get(f3)
                if name is None:
                    illegal()
                f = _MAKE[name](x, rs1, rs2, tgt, npc)
            if tgt & 3:
                inner = f

                def f():
                    if inner() == tgt:
                        self._fail(f"jump to misaligned address 0x{tgt:08x}", pc)
                    return npc
            return f
        if op == 0x67 and f3 == 0:  # JALR
            def misaligned(t):
                self._fail(f"jump to misaligned address 0x{t:08x}", pc)
            return _MAKE["jalr"](x, rd or _SINK, rs1, _imm_i(w) & _M, npc, misaligned)
        if op == 0x03:  # loads
            name = {0: "lb", 1: "lh", 2: "lw", 4: "lbu", 5: "lhu"}.get(f3)
            if name is None:
                illegal()
            return _MAKE[name](x, rd or _SINK, rs1, _imm_i(w) & _M, npc, pc, self.ram, self.h16,
                               self.w32, self.ram_bytes, self.slow_load)
        if op == 0x23:  # stores
            name = {0: "sb", 1: "sh", 2: "sw"}.get(f3)
            if name is None:
                illegal()
            return _MAKE[name](x, rs1, rs2, _imm_s(w) & _M, npc, pc, self.ram, self.h16,
                               self.w32, self.ram_bytes, self.code, self.slow_store)
        if op == 0x13:  # ALU immediate
            imm = _imm_i(w)
            if f3 == 1 or f3 == 5:
                name = {(1, 0): "slli", (5, 0): "srli", (5, 0x20): "srai"}.get((f3, f7))
                imm = rs2
            else:
                name = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}[f3]
                imm = (imm & _M) ^ _S if name == "slti" else imm & _M
            if name is None:
                illegal()
            return _MAKE[name](x, rd, rs1, 0, imm, npc) if rd else nop
        if op == 0x33:  # ALU register
            name = {(0, 0): "add", (0x20, 0): "sub", (0, 1): "sll", (0, 2): "slt",
                    (0, 3): "sltu", (0, 4): "xor", (0, 5): "srl", (0x20, 5): "sra",
                    (0, 6): "or", (0, 7): "and"}.get((f7, f3))
            if name is None:
                illegal()
            return _MAKE[name](x, rd, rs1, rs2, 0, npc) if rd else nop
        if op == 0x0F and f3 in (0, 1):  # FENCE, FENCE.I
            return nop
        if w == 0x0000_0073 or w == 0x0010_0073:
            self._fail("ECALL" if w == 0x73 else "EBREAK", pc)  # see the module docstring
        illegal()

    def run(self, pc, limit):
        code, decode = self.code, self._decode
        done = 0
        try:
            for done in range(limit):  # noqa: B007 (read after the loop: the retired count)
                pc = (code[pc >> 2] or decode(pc))()
            else:
                done = limit
        except _Exit as stop:
            return done + 1, stop.npc, "exit"
        except IndexError:
            raise IssError(f"fetch outside RAM at pc 0x{pc:08x}", pc=pc) from None
        return done, pc, None


def _io_image(io):
    image = {}
    if io is None:
        return image
    if isinstance(io, (bytes, bytearray, memoryview)):
        io = {REQUESTS: bytes(io)}
    if not isinstance(io, dict):
        raise TypeError(f"I/O image must be bytes or a dict, not {type(io).__name__}")
    for addr, value in io.items():
        if not isinstance(addr, int) or addr < IO_BASE or addr > _M or addr & 3:
            raise ValueError(f"I/O image address must be a word address in the I/O region, "
                             f"not {addr!r}")
        if isinstance(value, int):
            image[addr] = value & _M
            continue
        data = bytes(value)
        if len(data) % 4:
            raise ValueError(f"I/O image bytes at 0x{addr:08x} must be whole words, not "
                             f"{len(data)} bytes")
        for i in range(0, len(data), 4):
            image[addr + i] = int.from_bytes(data[i:i + 4], "little")
    return image


def run(program, *, io=None, max_steps=5_000_000, stop_at=None, ram_bytes=DEFAULT_RAM_BYTES):
    """Run a program from the reset vector until it writes EXIT, or for a number of steps.

    Parameters
    ----------
    program : str or Path or bytes
        An ELF file (its segments are loaded into RAM, and its entry point must be the
        reset vector 0), or a raw RAM image starting at address 0.
    io : bytes or dict, optional
        The path memory's initial contents: bytes for the request area (0x1000_0100), or a
        dict of word address to a word (int) or to bytes placed from that address.
    max_steps : int
        Stop with ``stopped="max_steps"`` and ``exit_code=None`` after this many.
    stop_at : int, optional
        Stop after exactly this many retired instructions (``stopped="stop_at"``), to
        compare ``regs`` and ``pc`` with a core's state at the same point.
    ram_bytes : int
        The lane's RAM size.

    Raises
    ------
    IssError
        On an illegal instruction, misaligned jump, fetch outside RAM, unmapped or
        misaligned access, non-word I/O access, ECALL or EBREAK.
    """
    if isinstance(program, (bytes, bytearray, memoryview)):
        image = bytes(program)
    else:
        from ftvoter.sim.programs import image as elf_image
        from ftvoter.sim.programs import load_elf
        entry, _ = load_elf(Path(program))
        if entry != RESET_VECTOR:
            raise IssError(f"{program}: ELF entry 0x{entry:08x} is not the reset vector "
                           f"0x{RESET_VECTOR:08x}")
        image = elf_image(Path(program), ram_bytes)
    limit = max_steps if stop_at is None else min(max_steps, stop_at)
    if not isinstance(limit, int) or limit < 0:
        raise ValueError(f"Step limit must be a non-negative int, not {limit!r}")
    m = _Machine(image, ram_bytes, io)
    steps, pc, stopped = m.run(RESET_VECTOR, limit)
    if stopped is None:
        stopped = "stop_at" if stop_at is not None and steps == stop_at else "max_steps"
    return Result(console=bytes(m.console), exit_code=m.exit_code, steps=steps,
                  io_writes=m.io_writes, io_reads=m.io_reads, regs=m.x[:32], pc=pc,
                  stopped=stopped)
