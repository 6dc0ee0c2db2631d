"""``ftvoter console``: the board's management console over its UART."""

import asyncio

from ..toolchain import ToolchainError
from ._common import UsageError, decimal, integer, path, positive

__all__ = ["add_parser", "run"]


def add_parser(commands):
    console = commands.add_parser(
        "console", help="the board's management console over its UART",
        description="Talk to a board running the lockstep demo over its UART management "
                    "port (framing in ftvoter.boards.uart): show lane states, error causes, "
                    "counters and new events, refreshed every second (Ctrl-C ends), or "
                    "once; remove or insert a lane, clear the errors, inject a fault.")
    console.add_argument("--port", required=True, metavar="DEV", type=path,
                         help="serial device (e.g. /dev/ttyUSB1)")
    console.add_argument("--baud", type=positive, default=115200,
                         help="baud rate (default: %(default)s)")
    console.add_argument("--lanes", type=decimal, choices=(2, 3), default=2,
                         help="lanes of the build (default: %(default)s)")
    console.add_argument("--once", action="store_true", help="show the status once")
    console.add_argument("--remove", type=integer(0, 2), metavar="LANE",
                         help="take a lane out")
    console.add_argument("--insert", type=integer(0, 2), metavar="LANE",
                         help="resynchronise a lane and bring it back")
    console.add_argument("--clear", action="store_true", help="clear the error causes")
    console.add_argument("--disarm", action="store_true",
                         help="disarm the fault registers (a programmed fault ends)")
    console.add_argument("--inject", metavar="SITE[:MASK[:MODEL[:CYCLES]]]",
                         help="program a fault to start just after it is armed: site "
                              "index (ftvoter sites), bit mask (default 1), model 0 flip / "
                              "1 stuck-at-0 / 2 stuck-at-1 (default 0), cycles a stuck-at "
                              "lasts (default 0: until disarmed)")
    return console


def run(args):
    try:
        import serial
    except ImportError:
        raise ToolchainError("the console needs pyserial: pip install pyserial") from None
    from ftvoter.boards.console import ConsoleOptions, console, uart_driver
    from ftvoter.boards.driver import AccessError
    try:
        options = ConsoleOptions(lanes=args.lanes, once=args.once, disarm=args.disarm,
                                 remove=args.remove, clear=args.clear, insert=args.insert,
                                 inject=args.inject)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        stream = serial.Serial(args.port, args.baud, timeout=1)
    except (serial.SerialException, OSError) as error:
        raise UsageError(f"cannot open {args.port}: {error}") from None
    try:
        return asyncio.run(console(uart_driver(stream), options))
    except AccessError as error:
        raise ToolchainError(str(error)) from None
    except (serial.SerialException, OSError) as error:
        raise ToolchainError(f"{args.port}: {error}") from None
