"""``ftvoter verilog``: write a design as a self-contained Verilog module."""

from ftvoter.hdl.encodings import ADDR_WIDTH

from ._common import (
    UsageError,
    add_bridge_options,
    add_lockstep_options,
    decimal,
    emit,
    integer,
    lockstep_params,
    path,
    verilog_name,
)

__all__ = ["add_parser", "run"]


def add_parser(commands):
    verilog = commands.add_parser(
        "verilog", help="write a design as a self-contained Verilog module",
        description="Write a design as one self-contained Verilog module. Ports use "
                    "Amaranth's flattening (lane0_bus__awaddr); the clock is 'clk' and "
                    "the synchronous, active-high reset 'rst' (absent from purely "
                    "combinational designs such as the voter).")
    components = verilog.add_subparsers(dest="design", required=True, metavar="DESIGN")
    _add_comparator(components)
    _add_voter(components)
    _add_bridge(components)
    _add_lockstep(components)
    return verilog


def _output_options(sub):
    sub.add_argument("-o", "--output", metavar="FILE", type=path, default="-",
                     help="where to write the Verilog ('-': standard output, "
                          "the default)")
    sub.add_argument("--name", metavar="MODULE", type=verilog_name,
                     help="Verilog module name (default: ftvoter_<design>)")


def _add_comparator(components):
    comparator = components.add_parser(
        "comparator", help="lockstep comparator (ports lane0.., mismatch, disagree, "
                           "syndrome)",
        description="Lockstep comparator. Ports: clk, rst, lane0..lane<N-1> [W-1:0], "
                    "mismatch, disagree [N-1:0], syndrome [W-1:0]. mismatch is asserted "
                    "one cycle after a cycle in which the lanes differ (same cycle with "
                    "--comb); syndrome holds the differing bits of the first mismatch "
                    "since reset.")
    comparator.add_argument("--width", type=integer(1, 16384), default=32, metavar="W",
                            help="width of each lane's value in bits, up to 16384 (default: "
                                 "%(default)s)")
    comparator.add_argument("--lanes", type=decimal, choices=(2, 3), default=2,
                            help="number of lanes (default: %(default)s)")
    comparator.add_argument("--offset", type=integer(0, 1024), default=0, metavar="K",
                            help="delayed lockstep: delay lane 0 by K cycles before "
                                 "comparing, up to 1024 (default: %(default)s)")
    comparator.add_argument("--comb", action="store_true",
                            help="combinational mismatch and disagree (0 cycles of "
                                 "latency instead of 1)")
    _output_options(comparator)


def _add_voter(components):
    voter = components.add_parser(
        "voter", help="bitwise 2-of-3 majority voter (ports lane0..2, out, disagree)",
        description="Bitwise 2-of-3 majority voter, purely combinational. Ports: "
                    "lane0, lane1, lane2 [W-1:0], out [W-1:0], disagree [2:0] (bit i: "
                    "lane i differs from out).")
    voter.add_argument("--width", type=integer(1, 16384), default=8, metavar="W",
                       help="width of each lane's value in bits, up to 16384 (default: "
                            "%(default)s)")
    _output_options(voter)


def _add_bridge(components):
    bridge = components.add_parser(
        "bridge", help="voting bridge with error registers (ports lane<i>_bus__*, "
                       "path<j>_bus__*, mgmt__*)",
        description="The voting bridge: AXI4-Lite target ports for the lanes, "
                    "initiator ports for the paths, the error registers. Ports: clk, rst, "
                    "lane<i>_bus__<axi>, lane<i>_self_error, lane<i>_irq, path<j>_bus__<axi>, "
                    "mgmt__<axi> (AXI4-Lite target, 8-bit address), irq_in, mgmt_irq, "
                    "online, lane_freeze, lanes_reset, mismatch, disagree; with --policy "
                    "diagnose also diag_request, lane<i>_diag_done, lane<i>_diag_pass. "
                    "<axi> is awaddr awprot awvalid awready wdata wstrb wvalid wready bresp "
                    "bvalid bready araddr arprot arvalid arready rdata rresp rvalid rready.")
    add_bridge_options(bridge)
    bridge.add_argument("--addr-width", type=integer(1, 64), default=ADDR_WIDTH, metavar="BITS",
                        help="AXI4-Lite address width of lanes and paths (default: "
                             "%(default)s)")
    _output_options(bridge)


def _add_lockstep(components):
    lockstep = components.add_parser(
        "lockstep", help="lanes in lockstep behind the voting bridge",
        description="N lanes in lockstep behind the voting bridge (or, with --offset, a "
                    "delayed-lockstep comparator that only detects). Ports: clk, rst, "
                    "path0_bus__<axi> (and path1_bus__<axi> with --paths 2), mgmt__<axi>, "
                    "mgmt_irq, irq, self_error, online, mismatch, disagree [N-1:0]; with "
                    "--offset, syndrome instead of mgmt. With --ram the paths end in "
                    "on-chip RAMs and counters (cycles, writes, reads, mismatches, "
                    "first_mismatch) are ports instead.")
    add_lockstep_options(lockstep)
    _output_options(lockstep)


def run(args):
    from ..toolchain import export_verilog
    if args.design == "comparator":
        params = {"width": args.width, "lanes": args.lanes, "offset": args.offset,
                  "comb": args.comb}
    elif args.design == "voter":
        params = {"width": args.width}
    elif args.design == "bridge":
        params = {"lanes": args.lanes, "paths": args.paths, "policy": args.policy,
                  "timeout": args.timeout, "addr_width": args.addr_width,
                  "csr_base": args.csr_base}
    else:
        params = lockstep_params(args)
    try:
        written = export_verilog(args.design, params, name=args.name)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    text = written.read_text()
    return emit(text, args.output)
