"""RV32I decoding for the ISS (:mod:`ftvoter.sim.iss`): immediates, and one closure factory
per operation, made from source templates so each decoded instruction is one small closure
over its fields (closure cells are as fast as locals to read)."""

__all__ = ["MAKE", "signed", "bits", "imm_i", "imm_s", "imm_b", "imm_j"]

_M = 0xFFFF_FFFF
_S = 0x8000_0000


def signed(v):
    return (v ^ _S) - _S


def bits(word, hi, lo):
    return (word >> lo) & ((1 << (hi - lo + 1)) - 1)


def imm_i(w):
    return signed(w) >> 20


def imm_s(w):
    return (signed(w) >> 20 & ~0x1F) | bits(w, 11, 7)


def imm_b(w):
    return ((signed(w) >> 19) & ~0xFFF) | (bits(w, 7, 7) << 11) | (bits(w, 30, 25) << 5) \
        | (bits(w, 11, 8) << 1)


def imm_j(w):
    return ((signed(w) >> 11) & ~0xFFFFF) | (bits(w, 19, 12) << 12) | (bits(w, 20, 20) << 11) \
        | (bits(w, 30, 21) << 1)


# Closure factories, one per operation, made from source templates so each instruction is
# one small closure over its decoded fields (cells are as fast as locals to read).
_ALU = {  # R-type (funct7, funct3) and their I-type forms: the expression for x[rd]
    "add": "(x[rs1] + x[rs2]) & M", "sub": "(x[rs1] - x[rs2]) & M",
    "sll": "(x[rs1] << (x[rs2] & 31)) & M",
    "slt": "1 if (x[rs1] ^ S) < (x[rs2] ^ S) else 0", "sltu": "1 if x[rs1] < x[rs2] else 0",
    "xor": "x[rs1] ^ x[rs2]", "srl": "x[rs1] >> (x[rs2] & 31)",
    "sra": "(((x[rs1] ^ S) - S) >> (x[rs2] & 31)) & M",
    "or": "x[rs1] | x[rs2]", "and": "x[rs1] & x[rs2]",
    "addi": "(x[rs1] + imm) & M", "slti": "1 if (x[rs1] ^ S) < imm else 0",
    "sltiu": "1 if x[rs1] < imm else 0", "xori": "x[rs1] ^ imm", "ori": "x[rs1] | imm",
    "andi": "x[rs1] & imm", "slli": "(x[rs1] << imm) & M", "srli": "x[rs1] >> imm",
    "srai": "(((x[rs1] ^ S) - S) >> imm) & M",
}
_BRANCH = {
    "beq": "x[rs1] == x[rs2]", "bne": "x[rs1] != x[rs2]",
    "blt": "(x[rs1] ^ S) < (x[rs2] ^ S)", "bge": "(x[rs1] ^ S) >= (x[rs2] ^ S)",
    "bltu": "x[rs1] < x[rs2]", "bgeu": "x[rs1] >= x[rs2]",
}
_LOAD = {  # (fast RAM read given address a, size in bytes)
    "lb": ("((ram[a] ^ 0x80) - 0x80) & M", 1), "lbu": ("ram[a]", 1),
    "lh": ("((h16[a >> 1] ^ 0x8000) - 0x8000) & M", 2), "lhu": ("h16[a >> 1]", 2),
    "lw": ("w32[a >> 2]", 4),
}
_STORE = {
    "sb": ("ram[a] = x[rs2] & 0xFF", 1), "sh": ("h16[a >> 1] = x[rs2] & 0xFFFF", 2),
    "sw": ("w32[a >> 2] = x[rs2]", 4),
}


def _factory(body, args):
    src = f"def make({', '.join(args)}):\n    def f():\n"
    src += "".join(f"        {line}\n" for line in body) + "    return f\n"
    scope = {"M": _M, "S": _S}
    exec(src, scope)  # the templates above are constants of this module
    return scope["make"]


MAKE = {}
for _name, _expr in _ALU.items():
    MAKE[_name] = _factory([f"x[rd] = {_expr}", "return npc"],
                            ["x", "rd", "rs1", "rs2", "imm", "npc"])
for _name, _expr in _BRANCH.items():
    MAKE[_name] = _factory([f"return tgt if {_expr} else npc"],
                            ["x", "rs1", "rs2", "tgt", "npc"])
for _name, (_expr, _size) in _LOAD.items():
    _align = f" and not a & {_size - 1}" if _size > 1 else ""
    MAKE[_name] = _factory([
        "a = (x[rs1] + imm) & M",
        f"x[rd] = {_expr} if a < ram_bytes{_align} else slow_load(a, {_size}, pc)",
        "return npc"],
        ["x", "rd", "rs1", "imm", "npc", "pc", "ram", "h16", "w32", "ram_bytes", "slow_load"])
for _name, (_stmt, _size) in _STORE.items():
    _align = f" and not a & {_size - 1}" if _size > 1 else ""
    MAKE[_name] = _factory([
        "a = (x[rs1] + imm) & M",
        f"if a < ram_bytes{_align}:",
        f"    {_stmt}",
        "    code[a >> 2] = None",
        "else:",
        f"    slow_store(a, {_size}, x[rs2], pc)",
        "return npc"],
        ["x", "rs1", "rs2", "imm", "npc", "pc", "ram", "h16", "w32", "ram_bytes", "code",
         "slow_store"])
MAKE["const"] = _factory(["x[rd] = k", "return npc"], ["x", "rd", "k", "npc"])
MAKE["jal"] = _factory(["x[rd] = npc", "return tgt"], ["x", "rd", "tgt", "npc"])
MAKE["jalr"] = _factory([
    "t = (x[rs1] + imm) & 0xFFFFFFFE",
    "if t & 2:",
    "    misaligned(t)",
    "x[rd] = npc",
    "return t"], ["x", "rd", "rs1", "imm", "npc", "misaligned"])
