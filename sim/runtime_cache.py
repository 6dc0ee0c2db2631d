"""Verilator's run-time library, compiled once per configuration and shared by builds.

Every Verilator build compiles the same run-time files (``verilated.cpp``,
``verilated_vpi.cpp``, ``verilated_threads.cpp``, ``verilated_dpi.cpp``, ...) with the
build's flags: about 15 seconds of each build here, a third of a small design's.
After a build, :func:`store` keeps those objects under ``<build root>/sim/runtime/<key>/``;
before the next build's ``make``, :func:`restore` copies them into its folder (newer than
the makefile, so make takes them as up to date). ``key`` is made of everything the
objects are compiled with: the Verilator version, the run-time file list, trace, timing,
coverage and SystemC switches, the user's C++ flags and the make overrides.

Run as ``python -m ftvoter.sim.runtime_cache restore BUILD_DIR CACHE_DIR`` between
verilating and ``make``.
"""

import hashlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["key", "restore", "store", "share"]

#: The run-time objects of a build folder: not the design's ``Vtop*.o``, nor cocotb's
#: ``verilator.o`` (its main includes the design's ``Vtop.h``).
RUNTIME = re.compile(r"^verilated\w*\.[od]$")
_SWITCHES = re.compile(r"^(VM_(TIMING|TRACE\w*|COVERAGE|SC|PARALLEL_BUILDS)\s*=.*|"
                       r"VM_GLOBAL_(FAST|SLOW)\s*\+?=.*|\s+verilated\S*\s*\\?)$")


def key(build_dir):
    """Return the configuration key of a verilated folder, or None if it has no makefile."""
    build_dir = Path(build_dir)
    try:
        classes = (build_dir / "Vtop_classes.mk").read_text().splitlines()
        makefile = (build_dir / "Vtop.mk").read_text()
    except OSError:
        return None
    user = re.search(r"^VM_USER_CFLAGS = \\\n(.*?)\n\n", makefile, re.S | re.M)
    digest = hashlib.sha256()
    for part in ([line for line in classes if _SWITCHES.match(line)],
                 [user[1] if user else ""], [os.environ.get("MAKEFLAGS", "")],
                 [os.environ.get("CXX", "")], _version_lines(classes)):
        digest.update("\n".join(part).encode() + b"\0")
    return digest.hexdigest()[:16]


def _version_lines(classes):
    from importlib.metadata import PackageNotFoundError, version
    versions = []
    for package in ("verilator", "cocotb"):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} ?")
    return versions


def restore(build_dir, cache_dir):
    """Copy the cached run-time objects of ``build_dir``'s configuration into it; return
    how many were copied."""
    name = key(build_dir)
    source = Path(cache_dir) / name if name else None
    if source is None or not source.is_dir():
        return 0
    count = 0
    for path in sorted(source.iterdir()):
        if RUNTIME.match(path.name):
            shutil.copyfile(path, Path(build_dir) / path.name)   # a fresh time stamp
            count += 1
    return count


def store(build_dir, cache_dir):
    """Keep ``build_dir``'s run-time objects for later builds (once per configuration)."""
    name = key(build_dir)
    if name is None:
        return
    target = Path(cache_dir) / name
    if target.is_dir():
        return
    files = [path for path in Path(build_dir).iterdir() if RUNTIME.match(path.name)]
    if not any(path.suffix == ".o" for path in files):
        return
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
    for path in files:
        shutil.copyfile(path, scratch / path.name)
    try:
        scratch.rename(target)          # all at once, or not (another build stored it)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)


def share(runner, build_dir, cache_dir, build_command):
    """Make a cocotb Verilator ``runner`` restore the cached objects between verilating and
    make: ``build_command`` is the runner's own ``_build_command`` (checked by the caller)."""
    def command():
        commands = build_command()
        restore = [sys.executable, "-m", "ftvoter.sim.runtime_cache", "restore",
                   str(build_dir), str(cache_dir)]
        return [commands[0], restore, *commands[1:]]
    runner._build_command = command


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "restore":
        sys.exit("usage: python -m ftvoter.sim.runtime_cache restore BUILD_DIR CACHE_DIR")
    restore(sys.argv[2], sys.argv[3])
