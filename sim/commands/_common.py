"""What the subcommands share: the usage error, argparse value types, the design options."""

import argparse
import os
import re
import sys
from pathlib import Path

from ftvoter.analysis.files import OutputError, write_atomic
from ftvoter.hdl.encodings import ADDR_WIDTH, POLICY_NAMES

__all__ = ["UsageError", "Parser", "integer", "decimal", "mhz", "path", "verilog_name",
           "U32", "positive", "natural", "MAX_WORKERS", "add_lockstep_options",
           "add_bridge_options", "lockstep_params", "check_flip", "check_output", "emit",
           "availability_parameters"]


class UsageError(Exception):
    """Bad arguments: exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (the usage itself is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def integer(low, high):
    """An argparse type: an integer (decimal, 0x hex, ...) from ``low`` to ``high``."""
    def parse(text):
        try:
            if not text.isascii():      # int() would take other scripts' digits too
                raise ValueError(text)
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, "
                                             f"not {text!r}")
        return value
    parse.__name__ = "integer"      # argparse names the type in its messages
    return parse


def decimal(text):
    """An argparse type: a decimal integer in ASCII digits (for options with choices)."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}")
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None


#: Bounds of the numeric options: what the hardware fields hold, or (delays, widths) what
#: converts in seconds rather than hours.
U32 = 2**32 - 1
positive = integer(1, U32)
natural = integer(0, U32)
#: Simulator (or synthesis) processes at most: 8 per CPU.
MAX_WORKERS = 8 * (os.cpu_count() or 1)


def mhz(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MHz, not {text!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a clock above 0 and up to 1000 MHz, "
                                         f"not {text!r}")
    return value


def path(text):
    """An argparse type: a file or folder name, never empty (which would mean '.')."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file or folder name, not an empty one")
    return text


def verilog_name(text):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", text):
        raise argparse.ArgumentTypeError(f"expected a Verilog identifier (letters, digits, "
                                         f"'_', '$'; not starting with a digit), not "
                                         f"{text!r}")
    return text


def add_lockstep_options(parser, *, ram_default=0):
    from ..designs import LANE_KINDS
    parser.add_argument("--lanes", type=decimal, choices=(2, 3), default=2,
                        help="number of lanes: 2 (DMR) or 3 (TMR) (default: %(default)s)")
    parser.add_argument("--lane", choices=sorted(LANE_KINDS), default="workload",
                        help="lane kind: 'workload' is the LFSR-driven reference lane, "
                             "'picorv32' a PicoRV32 CPU with its own 16 KiB RAM running a "
                             "C program (default: %(default)s)")
    parser.add_argument("--offset", type=integer(0, 64), default=0, metavar="K",
                        help="delayed lockstep: lane 1 runs K cycles behind lane 0, 0 to 64 "
                             "(2 lanes only; default: %(default)s)")
    parser.add_argument("--seed", type=positive, default=1,
                        help="the lanes' LFSR seed, 1 to 2**32-1 (default: %(default)s)")
    parser.add_argument("--addr-width", type=integer(1, 64), default=ADDR_WIDTH, metavar="BITS",
                        help="AXI4-Lite address width, up to 64 (default: %(default)s)")
    parser.add_argument("--data-width", type=decimal, choices=(32, 64), default=32,
                        metavar="BITS", help="AXI4-Lite data width, 32 or 64 "
                                             "(default: %(default)s)")
    parser.add_argument("--io-words", type=integer(1, 2**16), default=256, metavar="WORDS",
                        help="size of the lanes' I/O window in words, a power of two "
                             "(default: %(default)s)")
    add_bridge_options(parser, lanes=False)
    parser.add_argument("--faults", action="append", metavar="PATTERN",
                        help="build the fault injector with saboteurs on the lane registers "
                             "matching PATTERN (shell-style, on 'lane1.regfile.r3' or "
                             "'regfile.r3'; repeat for more; '*' for all), exposed as the "
                             "fault__* ports (default: no injector)")
    parser.add_argument("--parity", action="store_true",
                        help="CPU lanes: a parity bit on every register of the core's "
                             "register file, raising the lane's self_error on an upset (so "
                             "DMR knows which lane to blame)")
    parser.add_argument("--rollback", action="store_true",
                        help="a DMR divergence that no self_error explains rolls the lanes "
                             "back to their last verified checkpoint and re-executes, "
                             "instead of the policy (which a recurrence still meets)")
    parser.add_argument("--self-check", action="store_true",
                        help="a self-checking bridge: two copies compared at every output, "
                             "stopped when they differ (not with --offset)")
    parser.add_argument("--ram", type=integer(0, 2**16), default=ram_default, metavar="WORDS",
                        help="end the bus in an on-chip RAM of WORDS words, with "
                             "counters, instead of exporting it as ports; 0 exports the "
                             "bus (default: %(default)s)")


def add_bridge_options(parser, *, lanes=True):
    if lanes:
        parser.add_argument("--lanes", type=decimal, choices=(2, 3), default=2,
                            help="number of lane ports: 2 (DMR) or 3 (TMR) "
                                 "(default: %(default)s)")
    parser.add_argument("--paths", type=decimal, choices=(1, 2), default=1,
                        help="secondary paths; with 2, an operation that fails on one is "
                             "retried on the other (default: %(default)s)")
    parser.add_argument("--policy", choices=POLICY_NAMES, default="halt",
                        help="DMR divergence with no self_error: 'halt' stops forwarding "
                             "(fail-safe), 'diagnose' asks the lanes for a self-test "
                             "(default: %(default)s)")
    parser.add_argument("--timeout", type=integer(2, 65535), default=64, metavar="CYCLES",
                        help="cycles a path has to answer before it is marked failed, 2 to "
                             "65535 (default: %(default)s)")
    parser.add_argument("--csr-base", type=integer(0, 2**64 - 1), default=None, metavar="ADDR",
                        help="byte address of the 256-byte register window in the lanes' "
                             "address space; every other address goes to the paths "
                             "(default: the top 256 bytes)")


def lockstep_params(args):
    return {"lanes": args.lanes, "lane": args.lane, "offset": args.offset,
            "seed": args.seed, "addr_width": args.addr_width, "data_width": args.data_width,
            "io_words": args.io_words, "ram": args.ram, "paths": args.paths,
            "policy": args.policy, "timeout": args.timeout, "csr_base": args.csr_base,
            "faults": args.faults, "parity": args.parity, "rollback": args.rollback,
            "self_check": args.self_check}


def check_flip(flip, params):
    """Check ``--flip SITE[BIT]@CYCLE`` against the sites of the lockstep design of
    ``params`` (built with its ``faults``, or every site); return (site index, bit, cycle)."""
    from ..designs import build
    match = re.fullmatch(r"(\w[\w.\[\]]*)\[(\d+)\]@(\d+)", flip)
    example = ("lane1.regfile.r3[7]@500" if params["lane"] == "workload"
               else "lane1.picorv32_core.reg_pc[5]@500")
    if match is None:
        raise UsageError(f"--flip must look like {example}, not {flip!r}")
    name, bit, cycle = match[1], int(match[2]), int(match[3])
    try:
        lockstep = build("lockstep", {**params, "faults": params["faults"] or ["*"],
                                      "ram": 0})
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    names = [site.name for site in lockstep.injector.sites]
    if name not in names:
        lister = "ftvoter sites" + ("" if params["lane"] == "workload"
                                    else f" --lane {params['lane']}")
        raise UsageError(f"--flip: no site {name!r} in this design ({lister} lists them)")
    width = lockstep.injector.sites[names.index(name)].width
    if bit >= width:
        raise UsageError(f"--flip: {name} has bits 0 to {width - 1}, not {bit}")
    return names.index(name), bit, cycle


def check_output(file):
    """Make sure ``file`` can be written before a long run (one clear line if not)."""
    if file.is_dir():
        raise OutputError(file, OSError(21, "it is a folder"))
    existed = file.exists()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(file, "ab"):
            pass
        if not existed:
            file.unlink()
    except OSError as error:
        raise OutputError(file, error) from None


def emit(text, output):
    """Write a command's text to standard output ('-') or, atomically, to a file."""
    if output == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_atomic(Path(output), text)
    return 0


def availability_parameters(args):
    """The availability parameters of ``--config`` (the defaults without it)."""
    from ftvoter.analysis.availability import Parameters, load_parameters
    try:
        return load_parameters(args.config) if args.config is not None else Parameters()
    except ValueError as error:
        raise UsageError(str(error)) from None
