"""Build the C programs of the CPU lanes, load them, and build them natively for comparison.

A lane program is a C file compiled with zig's clang (the PyPI wheel ``ziglang``) for RV32I
(no M, no C: multiply and divide come from zig's compiler_rt) together with the start-up
code ``programs/crt0.S`` and the linker script ``programs/link.ld``; it includes
``programs/ftvoter.h``. The memory map is in ``programs/README.md`` and in
:mod:`ftvoter.sim.iss`.

Compiled programs are cached under ``build/programs/`` by a hash of everything that goes
into them: the source, the local headers it includes (``#include "..."``), the start-up
code, linker script and ``ftvoter.h``, the flags, the RAM size and the zig version. A second
build of the same inputs returns the cached file without running the compiler.

:func:`build_native` compiles the same C file with the host's C compiler and ``-DFTV_NATIVE``
together with ``programs/native.c`` (which emulates the I/O path and logs its accesses);
:func:`run_native` runs that and returns what the ISS returns, for comparison.

Every failure (zig missing, a compile error, a file that is neither C nor ELF, a program
larger than the RAM) raises :class:`ProgramError` with a one-line message naming the file.
"""

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ftvoter.sim.toolchain import build_root

__all__ = ["ProgramError", "PROGRAMS_DIR", "EXAMPLES", "RISCV_FLAGS", "build_program",
           "load_elf", "image", "build_native", "run_native", "NativeResult",
           "encode_requests", "example_requests", "example"]

#: The folder with the start-up code, linker script, ``ftvoter.h`` and the examples.
PROGRAMS_DIR = Path(__file__).resolve().parent.parent / "programs"
#: The example programs in :data:`PROGRAMS_DIR` (without ``.c``).
EXAMPLES = ("crc32", "matmul", "sort", "transactions")
#: The compiler flags of a lane program (DESIGN.md §2), before files and the RAM size.
RISCV_FLAGS = ("-target", "riscv32-freestanding-none", "-mcpu=generic_rv32", "-O2",
               "-std=c11", "-Wall", "-Wextra", "-ffreestanding", "-fno-unwind-tables",
               "-fno-asynchronous-unwind-tables")
_NATIVE_FLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-DFTV_NATIVE")
_SUPPORT = ("crt0.S", "link.ld", "ftvoter.h")
_ELF_MAGIC = b"\x7fELF"
_EM_RISCV = 243
_CACHE_VERSION = b"ftvoter-programs 1\n"


class ProgramError(RuntimeError):
    """A program cannot be built or loaded; the message is one line naming the file."""

    def __init__(self, message, output=""):
        super().__init__(message)
        #: The compiler's full output, where there is one.
        self.output = output


def example(name):
    """Return the path of the example program ``name`` (one of :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise ValueError(f"Example must be one of {', '.join(EXAMPLES)}, not {name!r}")
    return PROGRAMS_DIR / f"{name}.c"


def _is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == _ELF_MAGIC


def _check_source(source):
    source = Path(source)
    if not source.is_file():
        raise ProgramError(f"{source}: no such file")
    if _is_elf(source):
        return source, "elf"
    if source.suffix != ".c":
        raise ProgramError(f"{source}: not a C file (.c) or an ELF")
    return source, "c"


def _includes(source, seen=None):
    """Yield the local headers ``source`` includes, recursively (for the cache key)."""
    seen = set() if seen is None else seen
    text = source.read_text(errors="replace")
    for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.MULTILINE):
        for folder in (source.parent, PROGRAMS_DIR):
            header = (folder / name).resolve()
            if header.is_file():
                if header not in seen:
                    seen.add(header)
                    yield header
                    yield from _includes(header, seen)
                break


def _digest(parts, files):
    h = hashlib.sha256(_CACHE_VERSION)
    for part in parts:
        h.update(str(part).encode() + b"\0")
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _cache_dir(*parts):
    folder = build_root().joinpath("programs", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _zig_env():
    env = dict(os.environ)
    cache = build_root() / "zig-cache"
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(cache / "global"))
    env.setdefault("ZIG_LOCAL_CACHE_DIR", str(cache / "local"))
    return env


def _zig_version(source):
    if importlib.util.find_spec("ziglang") is None:
        raise ProgramError(f"{source}: cannot compile: the Python package ziglang is not "
                           f"installed (pip install ziglang)")
    return importlib.metadata.version("ziglang")


def _first_error(output):
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no output"


def _compile(cmd, source, out, env=None, what="compile", ram_bytes=None):
    """Run ``cmd`` (which writes ``out``'s temporary name), then move it into place."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        result = subprocess.run([*cmd, "-o", str(tmp)], capture_output=True, text=True,
                                env=env)
    except OSError as e:
        raise ProgramError(f"{source}: cannot {what}: {e}") from None
    output = result.stdout + result.stderr
    if result.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        if "program does not fit in RAM" in output:
            raise ProgramError(f"{source}: program larger than the {ram_bytes}-byte RAM "
                               f"(with the 1 KiB stack reserve)", output)
        raise ProgramError(f"{source}: {what} failed: {_first_error(output)}", output)
    os.replace(tmp, out)
    return out


def build_program(source, *, ram_bytes=16384):
    """Return an RV32I ELF of ``source``: a C file is compiled (cached), an ELF used as is.

    Raises
    ------
    ProgramError
        If the file is missing or neither C nor ELF, zig is missing, the compile fails, or
        the program does not fit in ``ram_bytes`` of RAM.
    """
    if not isinstance(ram_bytes, int) or ram_bytes <= 0 or ram_bytes % 4:
        raise ValueError(f"RAM size must be a positive multiple of 4, not {ram_bytes!r}")
    source, kind = _check_source(source)
    if kind == "elf":
        image(source, ram_bytes)  # checks that it is an RV32 ELF that fits
        return source
    support = [PROGRAMS_DIR / name for name in _SUPPORT]
    flags = [*RISCV_FLAGS, f"-DFTV_RAM_BYTES={ram_bytes}"]
    key = _digest([_zig_version(source), *flags],
                  [source, *support, *sorted(_includes(source))])
    out = _cache_dir() / f"{source.stem}-{key}.elf"
    if out.exists():
        return out
    cmd = [sys.executable, "-m", "ziglang", "cc", *flags, "-I", str(PROGRAMS_DIR),
           "-I", str(source.parent), str(PROGRAMS_DIR / "crt0.S"), str(source),
           "-T", str(PROGRAMS_DIR / "link.ld")]
    _compile(cmd, source, out, env=_zig_env(), ram_bytes=ram_bytes)
    image(out, ram_bytes)
    return out


def load_elf(path):
    """Return ``(entry, segments)`` of an RV32 ELF; each segment is ``(address, data, size)``.

    ``data`` is the segment's bytes in the file, ``size`` its size in memory (the rest is
    zero, e.g. ``.bss``). Only PT_LOAD segments with a nonzero size are returned.
    """
    path = Path(path)
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise ProgramError(f"{path}: cannot load: the Python package pyelftools is not "
                           f"installed (pip install pyelftools)") from None
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if elf.elfclass != 32 or not elf.little_endian or \
                    elf["e_machine"] not in ("EM_RISCV", _EM_RISCV):
                raise ProgramError(f"{path}: not a 32-bit little-endian RISC-V ELF "
                                   f"({elf['e_machine']}, {elf.elfclass}-bit)")
            segments = [(seg["p_paddr"], seg.data(), seg["p_memsz"])
                        for seg in elf.iter_segments()
                        if seg["p_type"] == "PT_LOAD" and seg["p_memsz"]]
            return elf["e_entry"], segments
    except (ELFError, OSError) as e:
        raise ProgramError(f"{path}: not a readable ELF: {e}") from None


def image(path, ram_bytes=16384):
    """Return the ``ram_bytes``-byte RAM contents of an ELF, for loading a lane's RAM."""
    _, segments = load_elf(path)
    ram = bytearray(ram_bytes)
    for address, data, size in segments:
        if address + size > ram_bytes:
            end = max(a + s for a, _, s in segments)
            raise ProgramError(f"{path}: program larger than the {ram_bytes}-byte RAM (it "
                               f"ends at 0x{end:x})")
        ram[address:address + len(data)] = data
    return bytes(ram)


def _host_cc(source):
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return [shutil.which(cc)]
    raise ProgramError(f"{source}: cannot build natively: no host C compiler (cc, gcc, "
                       f"clang or $CC)")


def build_native(source):
    """Return a host executable of the C file ``source`` built with ``-DFTV_NATIVE`` (cached).

    It links ``programs/native.c``, the emulated I/O path; run it with :func:`run_native`.
    """
    source, kind = _check_source(source)
    if kind != "c":
        raise ProgramError(f"{source}: a native build needs the C source, not an ELF")
    cc = _host_cc(source)
    try:
        version = subprocess.run([*cc, "--version"], capture_output=True, text=True).stdout
    except OSError as e:
        raise ProgramError(f"{source}: cannot build natively: {e}") from None
    harness = PROGRAMS_DIR / "native.c"
    key = _digest([*cc, version, *_NATIVE_FLAGS],
                  [source, harness, PROGRAMS_DIR / "ftvoter.h", *sorted(_includes(source))])
    out = _cache_dir("native") / f"{source.stem}-{key}"
    if out.exists():
        return out
    cmd = [*cc, *_NATIVE_FLAGS, "-I", str(PROGRAMS_DIR), "-I", str(source.parent),
           str(source), str(harness)]
    return _compile(cmd, source, out, what="build natively")


@dataclass
class NativeResult:
    """What a native run did: the same fields as :class:`ftvoter.sim.iss.Result` has for
    the console, the exit code and the I/O accesses other than CONSOLE and EXIT (which the
    native build maps to stdout and ``exit``)."""

    console: bytes
    exit_code: int
    io_reads: list = field(default_factory=list)
    io_writes: list = field(default_factory=list)


def run_native(program, *, io=None, timeout=30):
    """Run a native build (from :func:`build_native`, or a C file to build) as a process.

    ``io`` is the request area's initial contents (bytes), as the ISS's ``io`` takes them.
    The exit code is the process's (0..255; a signal gives a negative value).
    """
    program = Path(program)
    if program.suffix == ".c":
        program = build_native(program)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as folder:
        if io is not None:
            requests = Path(folder) / "requests.bin"
            requests.write_bytes(bytes(io))
            env["FTV_REQUESTS"] = str(requests)
        else:
            env.pop("FTV_REQUESTS", None)
        try:
            result = subprocess.run([str(program)], capture_output=True, env=env,
                                    timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ProgramError(f"{program}: native run failed: {e}") from None
    log = {"r": [], "w": []}
    for line in result.stderr.decode(errors="replace").splitlines():
        try:
            kind, *words = line.split()
            address, value = (int(word, 16) for word in words)
            log[kind].append((address, value))
        except (KeyError, ValueError):
            raise ProgramError(f"{program}: native run wrote an unexpected line to stderr: "
                               f"{line!r}") from None
    reads, writes = log["r"], log["w"]
    return NativeResult(console=result.stdout, exit_code=result.returncode, io_reads=reads,
                        io_writes=writes)


def encode_requests(requests):
    """Return the request-area bytes for ``transactions.c``: a list of (op, a, b, c).

    Ops: 1 ADD, 2 XOR, 3 CRC, 4 MAC, 5 DIV (see programs/transactions.c); at most 15.
    """
    words = [len(requests)]
    for request in requests:
        if len(request) != 4:
            raise ValueError(f"Request must be (op, a, b, c), not {request!r}")
        words.extend(int(v) & 0xFFFF_FFFF for v in request)
    if len(words) > 64:
        raise ValueError(f"Request area holds at most 15 requests, not {len(requests)}")
    return b"".join(w.to_bytes(4, "little") for w in words)


def example_requests():
    """Return twelve deterministic valid requests for ``transactions.c``, each op twice or
    more, one of them a division by zero; ``transactions.c`` exits 0 on them."""
    x, requests = 0xC0FFEE, []
    for k in range(12):
        operands = []
        for _ in range(3):
            x = (x * 1664525 + 1013904223) & 0xFFFF_FFFF
            operands.append(x)
        op = k % 5 + 1
        if k == 9:
            operands[1] = 0  # op 5, DIV, by zero
        requests.append((op, *operands))
    return requests
