"""The ``ftvoter`` command line: the subcommands are in :mod:`ftvoter.sim.commands`."""

import re
import sys

from ftvoter.analysis.files import OutputError

from .commands import COMMANDS
from .commands._common import Parser, UsageError
from .toolchain import ToolchainError

__all__ = ["main"]


def _build_parser():
    parser = Parser(
        prog="ftvoter",
        description="Lockstep fault tolerance for FPGAs: export gateware, simulate, "
                    "benchmark.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands).set_defaults(run=command.run)
    return parser


def main(argv=None):
    parser = _build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    for arg in argv:
        # argparse reads '--option=--' as an empty list of values instead of refusing it.
        if re.fullmatch(r"--?[^=\s]+=--", arg):
            parser.error(f"argument {arg[:-3]}: expected a value, not '--'")
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        parser.exit(2, f"ftvoter: error: {error}\n")
    except OutputError as error:
        # A path that cannot be written (a file where a folder belongs, no permission) is
        # bad usage; a write that failed (a full disk) is a failed run.
        parser.exit(2 if error.usage else 1, f"ftvoter: error: {error}\n")
    except ToolchainError as error:
        parser.exit(1, f"ftvoter: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "ftvoter: interrupted\n")
