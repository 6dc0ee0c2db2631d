"""The example C programs: built with zig, run in the ISS, compared with a native build.

Each example runs three ways that share only the C source: RV32I in the ISS, natively on
the host (``cc -DFTV_NATIVE``), and as a Python model written here from the programs'
documented behaviour. The first zig build compiles compiler_rt (about 20 s, once; cached
under build/zig-cache).
"""

import uuid
import zlib

import pytest

from ftvoter.sim import iss, programs
from ftvoter.sim.programs import ProgramError

M = 0xFFFF_FFFF
MAX_STEPS = 200_000  # the examples must stay short: they will run on simulated CPUs


def lcg(seed):
    x = seed
    while True:
        x = (x * 1664525 + 1013904223) & M
        yield x


def signed(v):
    return v - (1 << 32) if v & 0x8000_0000 else v


@pytest.fixture(scope="module")
def elfs():
    return {name: programs.build_program(programs.example(name)) for name in programs.EXAMPLES}


def io_for(name):
    if name == "transactions":
        return programs.encode_requests(programs.example_requests())
    return None


def path_writes(result):
    """The ISS's I/O writes other than CONSOLE and EXIT (which the native build maps to
    stdout and exit())."""
    return [(a, v) for a, v in result.io_writes if a not in (iss.CONSOLE, iss.EXIT)]


def compare(elf, source, io):
    ours = iss.run(elf, io=io)
    native = programs.run_native(source, io=io)
    assert ours.stopped == "exit"
    assert ours.console == native.console
    assert ours.exit_code & 0xFF == native.exit_code
    assert path_writes(ours) == native.io_writes
    assert ours.io_reads == native.io_reads
    assert ours.io_writes[-1] == (iss.EXIT, ours.exit_code & M)
    return ours


@pytest.mark.parametrize("name", programs.EXAMPLES)
def test_example_matches_native(elfs, name):
    result = compare(elfs[name], programs.example(name), io_for(name))
    assert result.exit_code == 0
    assert result.steps <= MAX_STEPS
    assert result.console.endswith(b"\n")


@pytest.mark.parametrize("name", ["crc32", "transactions"])
def test_comparison_catches_a_wrong_iss(elfs, monkeypatch, name):
    # a mutant ISS whose XOR is an OR must not pass as the native build's twin
    monkeypatch.setitem(iss._MAKE, "xor", iss._MAKE["or"])
    with pytest.raises(AssertionError):
        compare(elfs[name], programs.example(name), io_for(name))


def test_crc32_known_values(elfs):
    gen = lcg(1)
    buffer = bytes(next(gen) >> 24 for _ in range(1024))
    console = iss.run(elfs["crc32"]).console.decode()
    assert console == (f'crc32("123456789") = {zlib.crc32(b"123456789"):08x} ok\n'
                       f"crc32(lcg 1024) = {zlib.crc32(buffer):08x} ok\n")


def test_matmul_against_python(elfs):
    gen = lcg(12345)
    values = [((next(gen) >> 24) ^ 0x80) - 0x80 for _ in range(128)]
    a = [values[8 * i:8 * i + 8] for i in range(8)]
    b = [values[64 + 8 * i:64 + 8 * i + 8] for i in range(8)]
    c = [[sum(a[i][k] * b[k][j] for k in range(8)) for j in range(8)] for i in range(8)]
    checksum = 0
    for row in c:
        for v in row:
            checksum = (((checksum << 5) | (checksum >> 27)) & M) ^ (v & M)
    trace = sum(c[i][i] for i in range(8))
    console = iss.run(elfs["matmul"]).console.decode()
    assert console == f"matmul 8x8 checksum {checksum:08x} trace {trace} ok\n"


def test_sort_against_python(elfs):
    gen = lcg(2024)
    values = [signed(next(gen)) >> 8 for _ in range(64)]

    def checksum(vs):
        h = 0x811C9DC5
        for v in vs:
            h = (((h << 7) | (h >> 25)) & M) ^ (v & M)
        return h

    ordered = sorted(values)
    console = iss.run(elfs["sort"]).console.decode()
    assert console == (f"sort 64 before {checksum(values):08x} after {checksum(ordered):08x} "
                       f"min {ordered[0]} max {ordered[-1]} sorted permutation\n")


def transaction_model(requests):
    """Results of programs/transactions.c, from its documented operations."""
    results = []
    for op, a, b, c in requests:
        if op == 1:
            results.append((a + b + c) & M)
        elif op == 2:
            results.append(a ^ b ^ c)
        elif op == 3:
            results.append(zlib.crc32(b"".join(v.to_bytes(4, "little") for v in (a, b, c))))
        elif op == 4:
            results.append((a * b + c) & M)
        elif op == 5:
            results.append(a // b if b else M)
        else:
            results.append(0xBAD0_0000 | (op & 0xFFFF))
    return results


def test_transactions_results(elfs):
    requests = programs.example_requests()
    assert {r[0] for r in requests} == {1, 2, 3, 4, 5}
    result = iss.run(elfs["transactions"], io=programs.encode_requests(requests))
    want = transaction_model(requests)
    assert path_writes(result) == [(iss.RESULTS + 4 * k, v) for k, v in enumerate(want)]
    assert [a for a, _ in result.io_reads] == [iss.REQUESTS + 4 * i
                                                for i in range(1 + 4 * len(requests))]
    assert result.console.startswith(b"transactions 12 requests 0 errors digest ")


@pytest.mark.parametrize("requests, exit_code, summary", [
    ([(1, 1, 2, 3), (7, 0, 0, 0), (0, 5, 5, 5), (5, 7, 2, 0)], 1,
     b"transactions 4 requests 2 errors digest "),
    ([], 0, b"transactions 0 requests 0 errors digest 00000000\n"),
    ([(2, M, 0x5555_5555, 1)] * 15, 0, b"transactions 15 requests 0 errors digest "),
])
def test_transactions_cases(elfs, requests, exit_code, summary):
    io = programs.encode_requests(requests)
    result = compare(elfs["transactions"], programs.example("transactions"), io)
    assert result.exit_code == exit_code
    assert result.console.startswith(summary)
    assert [v for _, v in path_writes(result)] == transaction_model(requests)


def test_transactions_too_many_requests(elfs):
    io = (16).to_bytes(4, "little")
    result = compare(elfs["transactions"], programs.example("transactions"), io)
    assert result.exit_code == 2
    assert result.console == b"transactions 16 requests: more than 15\n"
    assert path_writes(result) == []


def test_transactions_without_io_image(elfs):
    result = compare(elfs["transactions"], programs.example("transactions"), None)
    assert result.console == b"transactions 0 requests 0 errors digest 00000000\n"


def test_encode_requests():
    assert programs.encode_requests([(1, 2, 3, -1)]) == bytes.fromhex(
        "01000000" "01000000" "02000000" "03000000" "ffffffff")
    with pytest.raises(ValueError, match=r"^Request area holds at most 15 requests, not 16$"):
        programs.encode_requests([(1, 0, 0, 0)] * 16)
    with pytest.raises(ValueError, match=r"^Request must be \(op, a, b, c\), not \(1, 2\)$"):
        programs.encode_requests([(1, 2)])


# --- the loaded image --------------------------------------------------------------------

def test_image_and_elf(elfs):
    entry, segments = programs.load_elf(elfs["crc32"])
    assert entry == 0
    ram = programs.image(elfs["crc32"])
    assert len(ram) == 16384
    for address, data, size in segments:
        assert ram[address:address + len(data)] == data
        assert ram[address + len(data):address + size] == bytes(size - len(data))
    assert iss.run(ram).console == iss.run(elfs["crc32"]).console
    # the given ELF is used as is
    assert programs.build_program(elfs["crc32"]) == elfs["crc32"]


def test_ram_size_moves_the_stack():
    elf = programs.build_program(programs.example("sort"), ram_bytes=8192)
    start = iss.run(elf, stop_at=4, ram_bytes=8192)  # la gp; la sp
    assert start.regs[2] == 8192
    assert iss.run(elf, ram_bytes=8192).console == \
        iss.run(programs.build_program(programs.example("sort"))).console
    with pytest.raises(ProgramError, match=r"^\S*sort-\w+\.elf: program larger than the "
                                           r"2048-byte RAM \(it ends at 0x[0-9a-f]+\)$"):
        programs.image(programs.build_program(programs.example("sort")), 2048)
    with pytest.raises(ProgramError, match=r"crc32\.c: program larger than the 4096-byte RAM"):
        programs.build_program(programs.example("crc32"), ram_bytes=4096)


# --- the build cache ---------------------------------------------------------------------

def unique_source(tmp_path, body="int main(void) { return @V@; }\n", value=3):
    source = tmp_path / "prog.c"
    source.write_text(f"/* {uuid.uuid4()} */\n" + body.replace("@V@", str(value)))
    return source


def test_build_cache(tmp_path, monkeypatch):
    source = unique_source(tmp_path)
    first = programs.build_program(source)
    assert iss.run(first).exit_code == 3

    def no_compile(*args, **kwargs):
        raise AssertionError("recompiled")
    monkeypatch.setattr(programs, "_compile", no_compile)
    assert programs.build_program(source) == first
    source.write_text(source.read_text().replace("3", "4"))
    with pytest.raises(AssertionError, match="recompiled"):
        programs.build_program(source)
    monkeypatch.undo()
    second = programs.build_program(source)
    assert second != first and iss.run(second).exit_code == 4
    first.unlink()
    second.unlink()


def test_build_cache_follows_local_headers(tmp_path):
    header = tmp_path / "value.h"
    header.write_text("#define VALUE 5\n")
    source = unique_source(tmp_path, '#include "value.h"\nint main(void) { return VALUE; }\n')
    first = programs.build_program(source)
    header.write_text("#define VALUE 6\n")
    second = programs.build_program(source)
    assert first != second
    assert (iss.run(first).exit_code, iss.run(second).exit_code) == (5, 6)
    first.unlink()
    second.unlink()


def test_native_build_cache(tmp_path, monkeypatch):
    source = unique_source(tmp_path, value=7)
    first = programs.build_native(source)
    assert programs.run_native(first).exit_code == 7
    monkeypatch.setattr(programs, "_compile", None)  # a call would fail
    assert programs.build_native(source) == first
    first.unlink()


# --- errors ------------------------------------------------------------------------------

def test_error_missing_file(tmp_path):
    with pytest.raises(ProgramError, match=r"^\S*none\.c: no such file$"):
        programs.build_program(tmp_path / "none.c")


def test_error_not_c_or_elf(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(ProgramError, match=r"^\S*notes\.txt: not a C file \(\.c\) or an ELF$"):
        programs.build_program(path)


def test_error_compile(tmp_path):
    source = unique_source(tmp_path, "int main(void) { return undeclared; }\n")
    with pytest.raises(ProgramError, match=r"^\S*prog\.c: compile failed: .*error: .*undeclared"
                       ) as info:
        programs.build_program(source)
    assert "\n" not in str(info.value)
    assert "undeclared" in info.value.output


def test_error_too_large(tmp_path):
    source = unique_source(tmp_path, "static volatile char big[20000];\n"
                                     "int main(void) { big[1] = 1; return big[1]; }\n")
    with pytest.raises(ProgramError, match=r"^\S*prog\.c: program larger than the 16384-byte "
                                           r"RAM \(with the 1 KiB stack reserve\)$"):
        programs.build_program(source)


def test_error_wrong_elf(elfs):
    native = programs.build_native(programs.example("sort"))
    with pytest.raises(ProgramError, match=r"^\S*: not a 32-bit little-endian RISC-V ELF"):
        programs.build_program(native)
    with pytest.raises(ProgramError, match=r"^\S*crc32-\w+\.elf: a native build needs the C "
                                           r"source, not an ELF$"):
        programs.build_native(elfs["crc32"])


def test_error_zig_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(programs.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ProgramError, match=r"^\S*prog\.c: cannot compile: the Python package "
                                           r"ziglang is not installed"):
        programs.build_program(unique_source(tmp_path))


def test_error_bad_ram_size():
    with pytest.raises(ValueError, match=r"^RAM size must be a positive multiple of 4, not 10$"):
        programs.build_program(programs.example("crc32"), ram_bytes=10)


def ledger_model(requests, rounds):
    """The result words programs/ledger.c writes and its digest, from its documented
    behaviour: transactions.c's results, each folded into a ledger account every round."""
    base, ledger, writes, digest = transaction_model(requests), [0] * 64, [], 0
    for r in range(rounds):
        for k, result in enumerate(base):
            account = (k + r) % 64
            ledger[account] = (ledger[account] + result) & M
            word = result ^ r ^ ledger[account]
            writes.append((iss.RESULTS + 4 * k, word))
            digest = (((digest << 3) | (digest >> 29)) & M) ^ word
    return writes, digest


def test_ledger_matches_native_and_model():
    # The long program of campaigns/picorv32-dmr-ledger.toml (about 11 million cycles on
    # PicoRV32): all 700 rounds in the ISS (1.4 million instructions), natively, and in
    # the Python model.
    source = programs.PROGRAMS_DIR / "ledger.c"
    requests = programs.example_requests()
    result = compare(programs.build_program(source), source,
                     programs.encode_requests(requests))
    writes, digest = ledger_model(requests, 700)
    assert result.exit_code == 0 and result.steps > 1_000_000
    assert path_writes(result) == writes
    assert result.console == b"." * 10 + f"\nledger 700 rounds 12 requests 0 errors digest " \
                                          f"{digest:08x}\n".encode()
