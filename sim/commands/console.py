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
                    "once; remove or insert a lane, clear the errors, inject a fault; dump "
                    "a lane's flip-flops and RAM (a build with --live-resync).")
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
    console.add_argument("--dump", metavar="FILE", type=path,
                         help="quick dump (a build with --live-resync): freeze --dump-lane, "
                              "read its flip-flops and RAM through the management port while "
                              "the others run, insert it again; write {register: value} to "
                              "FILE (JSON) and the RAM image to <FILE stem>-memory.bin")
    console.add_argument("--dump-lane", type=integer(0, 2), default=1, metavar="LANE",
                         help="the lane --dump reads (default: %(default)s)")
    console.add_argument("--lane-kind", choices=("workload", "picorv32", "picorv32-rtl"),
                         default="workload",
                         help="the lanes of the build, for --dump's register names "
                              "(default: %(default)s)")
    console.add_argument("--program", metavar="FILE", type=path,
                         help="with --lane-kind picorv32: the build's program")
    console.add_argument("--ram-bytes", type=integer(1024, 2**28), metavar="BYTES",
                         default=8192, help="with a CPU --lane-kind: each lane's RAM "
                                            "(default: %(default)s)")
    return console


def _board_lane(args):
    """The build's lanes, for --dump (checked before the port is opened)."""
    from ftvoter.boards.lanes import BoardLane

    from ..programs import ProgramError
    cpu = args.lane_kind != "workload"
    if cpu and args.program is None:
        raise UsageError(f"--lane-kind {args.lane_kind} needs --program (the build's)")
    if not cpu and args.program is not None:
        raise UsageError("--program is for a CPU --lane-kind")
    try:
        return BoardLane(args.lane_kind, program=args.program, ram_bytes=args.ram_bytes)
    except (TypeError, ValueError, ProgramError) as error:
        raise UsageError(str(error)) from None


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
                                 inject=args.inject, dump=args.dump, dump_lane=args.dump_lane,
                                 board_lane=_board_lane(args) if args.dump else None)
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
