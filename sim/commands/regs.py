"""``ftvoter regs``: write a register map as Markdown, a C header, JSON, SystemRDL or
IP-XACT."""

from ._common import emit, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    regs = commands.add_parser(
        "regs", help="write the error register map as Markdown, a C header, JSON, SystemRDL "
                     "or IP-XACT",
        description="Write the error registers' map, generated from their description in "
                    "ftvoter.hdl.registers: Markdown (docs/registers.md), a C header, "
                    "JSON (registers with name, offset, access, reset, fields with lsb, "
                    "width, access, reset and enum values), SystemRDL 2.0 (rdl: an addrmap "
                    "for PeakRDL's tools) or IP-XACT (ipxact: an IEEE 1685-2014 component "
                    "with one memory map).")
    regs.add_argument("--format", choices=("md", "c", "json", "rdl", "ipxact"), default="md",
                      help="output format (default: %(default)s)")
    regs.add_argument("--map", choices=("error", "fault"), default="error",
                      help="which registers: the bridge's error registers, or the fault "
                           "injector's (FaultRegisters) (default: %(default)s)")
    regs.add_argument("-o", "--output", metavar="FILE", type=path, default="-",
                      help="where to write ('-': standard output, the default)")
    return regs


def run(args):
    from ftvoter.hdl.fault_regs import FAULT_REGISTERS
    from ftvoter.hdl.registers import ERROR_REGISTERS
    regmap = {"error": ERROR_REGISTERS, "fault": FAULT_REGISTERS}[args.map]
    text = {"md": regmap.as_markdown, "c": regmap.as_c_header,
            "json": regmap.as_json, "rdl": regmap.as_rdl,
            "ipxact": regmap.as_ipxact}[args.format]()
    return emit(text, args.output)
