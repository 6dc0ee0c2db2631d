"""The RV32I ISS against hand-assembled instructions and their closed-form results.

The encoders below follow the RISC-V unprivileged spec's instruction formats directly and
share nothing with ftvoter.sim.iss's decoder.
"""

import time

import pytest

from ftvoter.sim import iss

M = 0xFFFF_FFFF


# --- a tiny assembler (spec chapter 2 formats) -------------------------------------------

def r_type(f7, rs2, rs1, f3, rd, op):
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def i_type(imm, rs1, f3, rd, op):
    assert -2048 <= imm < 4096
    return (imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def s_type(imm, rs2, rs1, f3, op=0x23):
    imm &= 0xFFF
    return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1F) << 7 | op


def b_type(off, rs2, rs1, f3):
    assert off % 2 == 0 and -4096 <= off < 4096
    o = off & 0x1FFF
    return ((o >> 12) & 1) << 31 | ((o >> 5) & 0x3F) << 25 | rs2 << 20 | rs1 << 15 \
        | f3 << 12 | ((o >> 1) & 0xF) << 8 | ((o >> 11) & 1) << 7 | 0x63


def u_type(imm20, rd, op):
    return (imm20 & 0xFFFFF) << 12 | rd << 7 | op


def j_type(off, rd):
    o = off & 0x1FFFFF
    return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3FF) << 21 | ((o >> 11) & 1) << 20 \
        | ((o >> 12) & 0xFF) << 12 | rd << 7 | 0x6F


R_OPS = {"add": (0, 0), "sub": (0x20, 0), "sll": (0, 1), "slt": (0, 2), "sltu": (0, 3),
         "xor": (0, 4), "srl": (0, 5), "sra": (0x20, 5), "or": (0, 6), "and": (0, 7)}
I_OPS = {"addi": 0, "slti": 2, "sltiu": 3, "xori": 4, "ori": 6, "andi": 7}
BRANCHES = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}
LOADS = {"lb": 0, "lh": 1, "lw": 2, "lbu": 4, "lhu": 5}
STORES = {"sb": 0, "sh": 1, "sw": 2}


def LUI(rd, imm20):
    return u_type(imm20, rd, 0x37)


def AUIPC(rd, imm20):
    return u_type(imm20, rd, 0x17)


def ADDI(rd, rs1, imm):
    return i_type(imm, rs1, 0, rd, 0x13)


def SHIFTI(name, rd, rs1, shamt):
    f3, f7 = {"slli": (1, 0), "srli": (5, 0), "srai": (5, 0x20)}[name]
    return r_type(f7, shamt, rs1, f3, rd, 0x13)


def LOAD(name, rd, rs1, imm):
    return i_type(imm, rs1, LOADS[name], rd, 0x03)


def STORE(name, rs2, rs1, imm):
    return s_type(imm, rs2, rs1, STORES[name])


def JALR(rd, rs1, imm):
    return i_type(imm, rs1, 0, rd, 0x67)


def li(rd, value):
    """LUI + ADDI loading any 32-bit value (two words)."""
    value &= M
    low = ((value & 0xFFF) ^ 0x800) - 0x800
    return [LUI(rd, ((value - low) >> 12) & 0xFFFFF), ADDI(rd, rd, low)]


T6 = 31
EXIT_SEQ = [LUI(T6, 0x10000), STORE("sw", 10, T6, 4)]  # EXIT = a0 (x10)


def assemble(words):
    return b"".join((w & M).to_bytes(4, "little") for w in words)


def run(words, **kwargs):
    return iss.run(assemble(words), **kwargs)


def signed(v):
    return v - (1 << 32) if v & 0x8000_0000 else v


VALUES = [0, 1, 2, 31, 32, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678, 0xFEDC_BA98]


def r_expect(name, a, b):
    sa, sb = signed(a), signed(b)
    return {"add": (a + b) & M, "sub": (a - b) & M, "sll": (a << (b % 32)) & M,
            "slt": int(sa < sb), "sltu": int(a < b), "xor": a ^ b,
            "srl": a >> (b % 32), "sra": (sa >> (b % 32)) & M, "or": a | b,
            "and": a & b}[name]


# --- instruction classes ------------------------------------------------------------------

def test_lui_auipc():
    result = run([LUI(1, 0xABCDE), AUIPC(2, 0x1), AUIPC(3, 0xFFFFF), *EXIT_SEQ])
    assert result.regs[1] == 0xABCDE000
    assert result.regs[2] == 0x1004
    assert result.regs[3] == (8 - 0x1000) & M


@pytest.mark.parametrize("name", R_OPS)
def test_alu_register(name):
    f7, f3 = R_OPS[name]
    for a in VALUES:
        for b in VALUES:
            result = run([*li(1, a), *li(2, b), r_type(f7, 2, 1, f3, 3, 0x33), *EXIT_SEQ])
            assert result.regs[3] == r_expect(name, a, b), (name, hex(a), hex(b))


@pytest.mark.parametrize("name", I_OPS)
def test_alu_immediate(name):
    for a in VALUES:
        for imm in (0, 1, -1, 2047, -2048, 0x555, -0x556):
            result = run([*li(1, a), i_type(imm, 1, I_OPS[name], 3, 0x13), *EXIT_SEQ])
            u = imm & M  # the immediate sign-extended to 32 bits
            want = {"addi": (a + u) & M, "slti": int(signed(a) < imm),
                    "sltiu": int(a < u), "xori": a ^ u, "ori": a | u, "andi": a & u}[name]
            assert result.regs[3] == want, (name, hex(a), imm)


@pytest.mark.parametrize("name", ["slli", "srli", "srai"])
def test_shift_immediate(name):
    for a in VALUES:
        for shamt in (0, 1, 7, 31):
            result = run([*li(1, a), SHIFTI(name, 3, 1, shamt), *EXIT_SEQ])
            want = {"slli": (a << shamt) & M, "srli": a >> shamt,
                    "srai": (signed(a) >> shamt) & M}[name]
            assert result.regs[3] == want, (name, hex(a), shamt)


def test_loads_sign_and_zero_extension():
    # the word 0x8081_F0FF at 0x100: bytes ff f0 81 80
    data = 0x100
    words = [*li(1, 0x8081F0FF), *li(2, data), STORE("sw", 1, 2, 0)]
    for rd, (name, off) in enumerate([("lb", 0), ("lbu", 0), ("lb", 2), ("lbu", 3),
                                      ("lh", 0), ("lhu", 0), ("lh", 2), ("lhu", 2),
                                      ("lw", 0), ("lb", 1)], start=3):
        words.append(LOAD(name, rd, 2, off))
    result = run(words + EXIT_SEQ)
    assert result.regs[3:13] == [0xFFFF_FFFF, 0xFF, 0xFFFF_FF81, 0x80, 0xFFFF_F0FF, 0xF0FF,
                                 0xFFFF_8081, 0x8081, 0x8081_F0FF, 0xFFFF_FFF0]


def test_partial_stores_keep_neighbours():
    words = [*li(1, 0x1122_3344), *li(2, 0x200), STORE("sw", 1, 2, 0), *li(3, 0xAABB_CCDD),
             STORE("sb", 3, 2, 1), STORE("sh", 3, 2, 6), STORE("sw", 1, 2, 4),
             STORE("sh", 3, 2, 6), LOAD("lw", 4, 2, 0), LOAD("lw", 5, 2, 4),
             STORE("sb", 3, 2, -1), LOAD("lw", 6, 2, -4)]
    result = run(words + EXIT_SEQ)
    assert result.regs[4] == 0x1122_DD44
    assert result.regs[5] == 0xCCDD_3344
    assert result.regs[6] == 0xDD00_0000


def test_negative_offsets_and_wraparound_address():
    # lw x4, -4(x2) with x2 = 0x104 reads 0x100; x1 + 0xFFFFFFFF wraps to x1 - 1
    words = [*li(1, 0xCAFE_F00D), ADDI(2, 0, 0x104), STORE("sw", 1, 2, -4),
             LOAD("lw", 4, 2, -4), ADDI(5, 1, -1)]
    result = run(words + EXIT_SEQ)
    assert result.regs[4] == 0xCAFE_F00D
    assert result.regs[5] == 0xCAFE_F00C


def test_x0_stays_zero():
    words = [ADDI(0, 0, 5), LUI(0, 0x12345), AUIPC(0, 1), r_type(0, 0, 0, 0, 0, 0x33),
             *li(1, 0x300), STORE("sw", 1, 1, 0),
             LOAD("lw", 0, 1, 0),     # 0x1c: a load to x0 is done and discarded
             j_type(4, 0),            # 0x20: jal x0 writes no link
             JALR(0, 0, 0x2c),        # 0x24: jalr x0, 0x2c(x0)
             ADDI(3, 0, 9),           # 0x28: skipped
             ADDI(3, 0, 7)]           # 0x2c
    result = run(words + EXIT_SEQ)
    assert result.regs[0] == 0
    assert result.regs[3] == 7
    assert len(result.regs) == 32


@pytest.mark.parametrize("name", BRANCHES)
def test_branches_both_ways(name):
    pairs = [(5, 5), (5, 6), (6, 5), (0xFFFF_FFFF, 1), (1, 0xFFFF_FFFF), (0x8000_0000, 0)]
    for a, b in pairs:
        taken = {"beq": a == b, "bne": a != b, "blt": signed(a) < signed(b),
                 "bge": signed(a) >= signed(b), "bltu": a < b, "bgeu": a >= b}[name]
        words = [*li(1, a), *li(2, b), ADDI(3, 0, 0),
                 b_type(8, 2, 1, BRANCHES[name]),   # skip the next instruction if taken
                 ADDI(3, 0, 1)]                      # x3 = 1: not taken
        result = run(words + EXIT_SEQ)
        assert result.regs[3] == (0 if taken else 1), (name, hex(a), hex(b))


def test_backward_branch_loop():
    # x1 = 10; loop: x2 += x1; x1 -= 1; bne x1, x0, loop
    words = [ADDI(1, 0, 10), ADDI(2, 0, 0), r_type(0, 1, 2, 0, 2, 0x33), ADDI(1, 1, -1),
             b_type(-8, 0, 1, 1)]
    result = run(words + EXIT_SEQ)
    assert result.regs[2] == 55
    assert result.steps == 2 + 3 * 10 + 2


def test_jal_jalr_link_and_targets():
    words = [j_type(12, 1),           # 0x00: jal ra, 0x0c
             ADDI(5, 0, 1),           # 0x04: skipped
             ADDI(5, 0, 2),           # 0x08: skipped
             ADDI(6, 0, 0x19),        # 0x0c: x6 = 0x19 (bit 0 set: JALR clears it)
             JALR(7, 6, 3),           # 0x10: jalr x7, 3(x6) -> 0x1c, x7 = 0x14
             ADDI(5, 0, 3),           # 0x14: skipped
             ADDI(5, 0, 4),           # 0x18: skipped
             JALR(6, 6, -1)]          # 0x1c: rd == rs1: target from the old x6 (0x18)
    result = run(words, stop_at=5)
    assert result.regs[1] == 4
    assert result.regs[7] == 0x14
    assert result.regs[6] == 0x20
    assert result.regs[5] == 4       # 0x18 ran after the last jalr
    assert result.pc == 0x1c


def test_fence_is_a_no_op():
    fence = i_type(0x0FF, 0, 0, 0, 0x0F)
    fence_i = i_type(0, 0, 1, 0, 0x0F)
    result = run([ADDI(1, 0, 3), fence, fence_i, ADDI(10, 1, 1), *EXIT_SEQ])
    assert result.exit_code == 4
    assert result.steps == 6


# --- memory map, I/O, stop ----------------------------------------------------------------

def test_console_exit_and_io_trace():
    words = [LUI(1, 0x10000), ADDI(2, 0, ord("h")), STORE("sw", 2, 1, 0),
             ADDI(2, 0, ord("i")), STORE("sw", 2, 1, 0), LOAD("lw", 3, 1, 0x100),
             LOAD("lw", 4, 1, 0x104), LOAD("lw", 5, 1, 0x300), STORE("sw", 4, 1, 0x200),
             LOAD("lw", 6, 1, 0x200), LUI(7, 0x80000), LOAD("lw", 8, 7, 0),
             ADDI(10, 0, -3), *EXIT_SEQ]
    result = run(words, io=(2).to_bytes(4, "little") + (0xBEEF).to_bytes(4, "little"))
    assert result.console == b"hi"
    assert result.exit_code == -3
    assert result.stopped == "exit"
    assert result.steps == len(words)
    assert result.regs[3:7] == [2, 0xBEEF, 0, 0xBEEF]
    assert result.regs[8] == 0
    assert result.io_writes == [(iss.CONSOLE, ord("h")), (iss.CONSOLE, ord("i")),
                                (iss.RESULTS, 0xBEEF), (iss.EXIT, 0xFFFF_FFFD)]
    assert result.io_reads == [(iss.REQUESTS, 2), (iss.REQUESTS + 4, 0xBEEF),
                               (0x1000_0300, 0), (iss.RESULTS, 0xBEEF),
                               (iss.BRIDGE_BASE, 0)]


def test_io_image_dict():
    words = [LUI(7, 0x80000), LOAD("lw", 1, 7, 8), LUI(6, 0x10000), LOAD("lw", 2, 6, 0x204),
             *EXIT_SEQ]
    result = run(words, io={iss.BRIDGE_BASE + 8: 0x5A5A, iss.RESULTS: b"\1\0\0\0\2\0\0\0"})
    assert result.regs[1:3] == [0x5A5A, 2]


def test_stop_at_and_max_steps():
    loop = [ADDI(1, 1, 1), j_type(-4, 0)]
    result = run(loop, stop_at=7)
    assert (result.stopped, result.steps, result.regs[1], result.pc) == ("stop_at", 7, 4, 4)
    result = run(loop, max_steps=100)
    assert (result.stopped, result.exit_code, result.steps) == ("max_steps", None, 100)
    result = run([ADDI(10, 0, 9), *EXIT_SEQ], stop_at=50)
    assert (result.stopped, result.exit_code, result.steps) == ("exit", 9, 3)


def test_self_modifying_code():
    # the instruction at 0x18 runs, is overwritten by a store, and runs again as the new one
    new = ADDI(5, 0, 2)
    words = [*li(1, new), ADDI(2, 0, 0x18), ADDI(3, 0, 2),
             ADDI(5, 0, 1),                   # 0x10
             ADDI(3, 3, -1),                  # 0x14
             ADDI(5, 5, 0),                   # 0x18: replaced after its first run
             STORE("sw", 1, 2, 0),            # 0x1c
             b_type(-12, 0, 3, 1),            # 0x20: bne x3, x0, 0x14
             *EXIT_SEQ]
    result = run(words)
    assert result.regs[5] == 2


def test_ram_size():
    result = run([ADDI(1, 0, 1)], ram_bytes=64, stop_at=1)
    assert result.stopped == "stop_at"
    with pytest.raises(iss.IssError, match=r"^image of 72 bytes does not fit in 64 bytes"):
        run([0] * 18, ram_bytes=64)
    with pytest.raises(ValueError, match=r"^RAM size must be a positive multiple of 4"):
        run([0], ram_bytes=6)


# --- errors -------------------------------------------------------------------------------

def error(words, pattern, **kwargs):
    with pytest.raises(iss.IssError, match=pattern) as info:
        run(words, **kwargs)
    return info.value


@pytest.mark.parametrize("word", [0x0000_0000, 0xFFFF_FFFF,
                                  r_type(1, 2, 1, 0, 3, 0x33),    # mul x3, x1, x2 (M)
                                  0x0000_4501,                    # c.li a0, 0 (C)
                                  i_type(0x300, 0, 2, 1, 0x73),   # csrrs x1, mstatus, x0
                                  r_type(0x20, 1, 1, 1, 1, 0x13), # slli with bad funct7
                                  r_type(0x10, 2, 1, 0, 3, 0x33), # add with bad funct7
                                  i_type(0, 1, 3, 2, 0x03),       # ld (RV64)
                                  s_type(0, 1, 2, 3),             # sd (RV64)
                                  b_type(8, 1, 2, 2),             # branch funct3 2
                                  i_type(0, 1, 1, 2, 0x67)])      # jalr funct3 1
def test_illegal_instruction(word):
    e = error([ADDI(1, 0, 1), word], rf"^illegal instruction at pc 0x00000004 "
              rf"\(instruction 0x{word:08x}\)$")
    assert (e.pc, e.word) == (4, word)


def test_ecall_and_ebreak_stop():
    error([0x0000_0073], r"^ECALL at pc 0x00000000 \(instruction 0x00000073\)$")
    error([ADDI(0, 0, 0), 0x0010_0073], r"^EBREAK at pc 0x00000004")


def test_misaligned_jumps():
    error([ADDI(1, 0, 0x12), JALR(0, 1, 0)],
          r"^jump to misaligned address 0x00000012 at pc 0x00000004 \(instruction "
          r"0x00008067\)$")
    error([j_type(6, 0)], r"^jump to misaligned address 0x00000006 at pc 0x00000000")
    error([ADDI(1, 0, 1), b_type(10, 1, 1, 0)],
          r"^jump to misaligned address 0x0000000e at pc 0x00000004")
    # a branch to a misaligned address that is not taken is fine
    result = run([ADDI(1, 0, 1), b_type(10, 0, 1, 0), ADDI(10, 0, 5), *EXIT_SEQ])
    assert result.exit_code == 5


def test_memory_errors():
    error([ADDI(1, 0, 0x102), LOAD("lw", 2, 1, 0)],
          r"^misaligned 32-bit load of address 0x00000102 at pc 0x00000004")
    error([ADDI(1, 0, 0x101), STORE("sh", 1, 1, 0)],
          r"^misaligned 16-bit store of address 0x00000101 at pc 0x00000004")
    error([LUI(1, 0x1), LOAD("lw", 2, 1, 0)],
          r"^32-bit load of unmapped address 0x00001000 \(RAM ends at 0x00001000, I/O starts "
          r"at 0x10000000\) at pc 0x00000004 \(instruction 0x0000a103\)$", ram_bytes=4096)
    error([LUI(1, 0x10000), STORE("sb", 1, 1, 0)],
          r"^8-bit store of I/O address 0x10000000: only aligned 32-bit words go to I/O at "
          r"pc 0x00000004")
    error([LUI(1, 0x10000), LOAD("lw", 2, 1, 2)],
          r"^32-bit load of I/O address 0x10000002: only aligned 32-bit words")


def test_fetch_outside_ram():
    e = error([LUI(1, 0x10000), JALR(0, 1, 0)], r"^fetch outside RAM at pc 0x10000000$")
    assert e.pc == 0x1000_0000
    error([j_type(64, 0)], r"^fetch outside RAM at pc 0x00000040$", ram_bytes=64)


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"^I/O image must be bytes or a dict, not list$"):
        run([0], io=[1])
    with pytest.raises(ValueError, match=r"^I/O image address must be a word address"):
        run([0], io={0x100: 1})
    with pytest.raises(ValueError, match=r"^I/O image bytes at 0x10000100 must be whole"):
        run([0], io=b"\1\2")


# --- speed --------------------------------------------------------------------------------

def test_speed():
    # a 4-instruction loop (add, xor, addi, bne) run 100,000 times
    words = [*li(1, 100_000), r_type(0, 1, 2, 0, 2, 0x33), r_type(0, 2, 3, 4, 3, 0x33),
             ADDI(1, 1, -1), b_type(-12, 0, 1, 1), ADDI(10, 0, 0), *EXIT_SEQ]
    start = time.perf_counter()
    result = run(words)
    elapsed = time.perf_counter() - start
    assert result.steps == 2 + 4 * 100_000 + 3
    assert result.regs[2] == (100_000 * 100_001 // 2) & M
    rate = result.steps / elapsed
    print(f"ISS: {result.steps} instructions in {elapsed:.3f} s = {rate / 1e6:.2f} M/s")
    assert rate > 200_000, f"ISS too slow: {rate:.0f} instructions/s"

