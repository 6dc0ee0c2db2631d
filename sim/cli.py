"""The ``ftvoter`` command line."""

import argparse
import os
import re
import signal
import sys
import time
from pathlib import Path

from ftvoter.analysis.files import OutputError, write_atomic

from .toolchain import ToolchainError

__all__ = ["main"]


class _UsageError(Exception):
    """Bad arguments: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (the usage itself is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer(low, high):
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


def _int(text):
    """An argparse type: a decimal integer in ASCII digits (for options with choices)."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}")
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None


#: Bounds of the numeric options: what the hardware fields hold, or (delays, widths) what
#: converts in seconds rather than hours.
_U32 = 2**32 - 1
_positive = _integer(1, _U32)
_natural = _integer(0, _U32)
#: Simulator (or synthesis) processes at most: 8 per CPU.
_MAX_WORKERS = 8 * (os.cpu_count() or 1)


def _mhz(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MHz, not {text!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a clock above 0 and up to 1000 MHz, "
                                         f"not {text!r}")
    return value


def _path(text):
    """An argparse type: a file or folder name, never empty (which would mean '.')."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file or folder name, not an empty one")
    return text


def _verilog_name(text):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", text):
        raise argparse.ArgumentTypeError(f"expected a Verilog identifier (letters, digits, "
                                         f"'_', '$'; not starting with a digit), not "
                                         f"{text!r}")
    return text


def _add_lockstep_options(parser, *, ram_default=0):
    from .designs import LANE_KINDS
    parser.add_argument("--lanes", type=_int, choices=(2, 3), default=2,
                        help="number of lanes: 2 (DMR) or 3 (TMR) (default: %(default)s)")
    parser.add_argument("--lane", choices=sorted(LANE_KINDS), default="workload",
                        help="lane kind; 'workload' is the LFSR-driven reference lane "
                             "(default: %(default)s)")
    parser.add_argument("--offset", type=_integer(0, 64), default=0, metavar="K",
                        help="delayed lockstep: lane 1 runs K cycles behind lane 0, 0 to 64 "
                             "(2 lanes only; default: %(default)s)")
    parser.add_argument("--seed", type=_positive, default=1,
                        help="the lanes' LFSR seed, 1 to 2**32-1 (default: %(default)s)")
    parser.add_argument("--addr-width", type=_integer(1, 64), default=16, metavar="BITS",
                        help="AXI4-Lite address width, up to 64 (default: %(default)s)")
    parser.add_argument("--data-width", type=_int, choices=(32, 64), default=32,
                        metavar="BITS", help="AXI4-Lite data width, 32 or 64 "
                                             "(default: %(default)s)")
    parser.add_argument("--io-words", type=_integer(1, 2**16), default=256, metavar="WORDS",
                        help="size of the lanes' I/O window in words, a power of two "
                             "(default: %(default)s)")
    _add_bridge_options(parser, lanes=False)
    parser.add_argument("--faults", action="append", metavar="PATTERN",
                        help="build the fault injector with saboteurs on the lane registers "
                             "matching PATTERN (shell-style, on 'lane1.regfile.r3' or "
                             "'regfile.r3'; repeat for more; '*' for all), exposed as the "
                             "fault__* ports (default: no injector)")
    parser.add_argument("--ram", type=_integer(0, 2**16), default=ram_default, metavar="WORDS",
                        help="end the bus in an on-chip RAM of WORDS words, with "
                             "counters, instead of exporting it as ports; 0 exports the "
                             "bus (default: %(default)s)")


def _add_bridge_options(parser, *, lanes=True):
    if lanes:
        parser.add_argument("--lanes", type=_int, choices=(2, 3), default=2,
                            help="number of lane ports: 2 (DMR) or 3 (TMR) "
                                 "(default: %(default)s)")
    parser.add_argument("--paths", type=_int, choices=(1, 2), default=1,
                        help="secondary paths; with 2, an operation that fails on one is "
                             "retried on the other (default: %(default)s)")
    parser.add_argument("--policy", choices=("halt", "diagnose"), default="halt",
                        help="DMR divergence with no self_error: 'halt' stops forwarding "
                             "(fail-safe), 'diagnose' asks the lanes for a self-test "
                             "(default: %(default)s)")
    parser.add_argument("--timeout", type=_integer(2, 65535), default=64, metavar="CYCLES",
                        help="cycles a path has to answer before it is marked failed, 2 to "
                             "65535 (default: %(default)s)")
    parser.add_argument("--csr-base", type=_integer(0, 2**64 - 1), default=None, metavar="ADDR",
                        help="byte address of the 256-byte register window in the lanes' "
                             "address space; every other address goes to the paths "
                             "(default: the top 256 bytes)")


def _lockstep_params(args):
    return {"lanes": args.lanes, "lane": args.lane, "offset": args.offset,
            "seed": args.seed, "addr_width": args.addr_width, "data_width": args.data_width,
            "io_words": args.io_words, "ram": args.ram, "paths": args.paths,
            "policy": args.policy, "timeout": args.timeout, "csr_base": args.csr_base,
            "faults": args.faults}


def _build_parser():
    parser = _Parser(
        prog="ftvoter",
        description="Lockstep fault tolerance for FPGAs: export gateware, simulate, "
                    "benchmark.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    verilog = commands.add_parser(
        "verilog", help="write a design as a self-contained Verilog module",
        description="Write a design as one self-contained Verilog module. Ports use "
                    "Amaranth's flattening (lane0_bus__awaddr); the clock is 'clk' and "
                    "the synchronous, active-high reset 'rst' (absent from purely "
                    "combinational designs such as the voter).")
    components = verilog.add_subparsers(dest="design", required=True, metavar="DESIGN")

    def output_options(sub):
        sub.add_argument("-o", "--output", metavar="FILE", type=_path, default="-",
                         help="where to write the Verilog ('-': standard output, "
                              "the default)")
        sub.add_argument("--name", metavar="MODULE", type=_verilog_name,
                         help="Verilog module name (default: ftvoter_<design>)")

    comparator = components.add_parser(
        "comparator", help="lockstep comparator (ports lane0.., mismatch, disagree, "
                           "syndrome)",
        description="Lockstep comparator. Ports: clk, rst, lane0..lane<N-1> [W-1:0], "
                    "mismatch, disagree [N-1:0], syndrome [W-1:0]. mismatch is asserted "
                    "one cycle after a cycle in which the lanes differ (same cycle with "
                    "--comb); syndrome holds the differing bits of the first mismatch "
                    "since reset.")
    comparator.add_argument("--width", type=_integer(1, 16384), default=32, metavar="W",
                            help="width of each lane's value in bits, up to 16384 (default: "
                                 "%(default)s)")
    comparator.add_argument("--lanes", type=_int, choices=(2, 3), default=2,
                            help="number of lanes (default: %(default)s)")
    comparator.add_argument("--offset", type=_integer(0, 1024), default=0, metavar="K",
                            help="delayed lockstep: delay lane 0 by K cycles before "
                                 "comparing, up to 1024 (default: %(default)s)")
    comparator.add_argument("--comb", action="store_true",
                            help="combinational mismatch and disagree (0 cycles of "
                                 "latency instead of 1)")
    output_options(comparator)

    voter = components.add_parser(
        "voter", help="bitwise 2-of-3 majority voter (ports lane0..2, out, disagree)",
        description="Bitwise 2-of-3 majority voter, purely combinational. Ports: "
                    "lane0, lane1, lane2 [W-1:0], out [W-1:0], disagree [2:0] (bit i: "
                    "lane i differs from out).")
    voter.add_argument("--width", type=_integer(1, 16384), default=8, metavar="W",
                       help="width of each lane's value in bits, up to 16384 (default: "
                            "%(default)s)")
    output_options(voter)

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
    _add_bridge_options(bridge)
    bridge.add_argument("--addr-width", type=_integer(1, 64), default=16, metavar="BITS",
                        help="AXI4-Lite address width of lanes and paths (default: "
                             "%(default)s)")
    output_options(bridge)

    lockstep = components.add_parser(
        "lockstep", help="lanes in lockstep behind the voting bridge",
        description="N lanes in lockstep behind the voting bridge (or, with --offset, a "
                    "delayed-lockstep comparator that only detects). Ports: clk, rst, "
                    "path0_bus__<axi> (and path1_bus__<axi> with --paths 2), mgmt__<axi>, "
                    "mgmt_irq, irq, self_error, online, mismatch, disagree [N-1:0]; with "
                    "--offset, syndrome instead of mgmt. With --ram the paths end in "
                    "on-chip RAMs and counters (cycles, writes, reads, mismatches, "
                    "first_mismatch) are ports instead.")
    _add_lockstep_options(lockstep)
    output_options(lockstep)

    sim = commands.add_parser(
        "sim", help="run the lockstep demo against an AXI4-Lite RAM model",
        description="Simulate the lockstep demo under Verilator with cocotb, its bus "
                    "answered by cocotbext-axi's AxiLiteRam; write an FST waveform and "
                    "print a summary (cycles, transactions, mismatches).")
    sim.add_argument("--cycles", type=_positive, default=10_000,
                     help="clock cycles to simulate (default: %(default)s)")
    sim.add_argument("--waves", metavar="FILE", type=_path, default="build/demo.fst",
                     help="waveform to write: FST, or VCD if FILE ends in .vcd (default: "
                          "%(default)s); 'none' for none")
    sim.add_argument("--flip", metavar="LANE.SITE[BIT]@CYCLE",
                     help="flip one bit of a lane register at a cycle, e.g. "
                          "'lane1.regfile.r3[7]@500'")
    _add_lockstep_options(sim)

    bench = commands.add_parser(
        "bench", help="measure simulation speed of the lockstep demo",
        description="Measure the simulation speed (cycles/s) of the lockstep demo under "
                    "Verilator: with a cocotb coroutine awaiting every clock edge, and "
                    "with Python waiting in one long stretch. The bus ends in an on-chip "
                    "RAM, so no bus model runs in Python.")
    bench.add_argument("--cycles", type=_positive, default=200_000,
                       help="cycles per measurement (default: %(default)s)")
    bench.add_argument("--json", metavar="FILE", type=_path,
                       help="also write the figures to FILE as JSON")
    _add_lockstep_options(bench, ram_default=256)
    sites = commands.add_parser(
        "sites", help="list the fault sites of a lockstep design as JSON",
        description="List the fault sites (lane registers with saboteurs) as JSON: per site "
                    "its index (the value of fault__site), name (lane1.regfile.r3), lane, "
                    "register and width; bits are named lane1.regfile.r3[7]. The design "
                    "comes from a campaign SPEC (its [design] and faults.sites) or from the "
                    "options.")
    sites.add_argument("spec", nargs="?", metavar="SPEC", type=_path,
                       help="campaign spec (TOML); overrides the design options")
    _add_lockstep_options(sites)
    sites.add_argument("-o", "--output", metavar="FILE", type=_path, default="-",
                       help="where to write ('-': standard output, the default)")

    campaign = commands.add_parser(
        "campaign", help="run a fault-insertion campaign and print its outcome table",
        description="Run the fault-insertion campaign described by SPEC (TOML; see the "
                    "README): build the campaign bench once, check the golden run, run "
                    "every injection in parallel shards under Verilator, classify each "
                    "into masked, latent, corrected, isolated, wrong_lane, halted, "
                    "false_alarm, sdc, hang or sim_error, and append one JSON line per "
                    "injection to DIR/results.jsonl (with DIR/manifest.json). A progress "
                    "line shows count, rate and ETA on standard error. Exit status: 0 "
                    "done, 1 tool failure, 2 bad spec or arguments, 130 interrupted (the "
                    "completed injections are kept: finish with --resume).")
    campaign.add_argument("spec", metavar="SPEC", type=_path, help="campaign spec (TOML)")
    campaign.add_argument("-o", "--output", metavar="DIR", type=_path,
                          help="result folder (default: reports/<campaign name>)")
    campaign.add_argument("--workers", type=_integer(1, _MAX_WORKERS),
                          default=os.cpu_count() or 1,
                          help="parallel simulator processes (default: the number of "
                               "CPUs, %(default)s here)")
    campaign.add_argument("--resume", action="store_true",
                          help="finish the campaign already in DIR: run only the "
                               "injections it does not hold (a finished one is only "
                               "summarised again)")
    campaign.add_argument("--fresh", action="store_true",
                          help="discard the results already in DIR and start again")
    campaign.add_argument("--quiet", action="store_true",
                          help="no progress line")

    throughput = commands.add_parser(
        "bench-campaign", help="measure campaign throughput against the naive way and C++",
        description="Run the campaign of SPEC three ways on the same Verilated bench and "
                    "print injections/s and bench cycles/s: the campaign engine (with "
                    "--workers and with one), a plain C++ loop over the same injections "
                    "(no cocotb, no VPI: the physical limit), and the naive way (cocotb "
                    "driving the clock and awaiting every edge) on a sample; then the "
                    "ratios.")
    throughput.add_argument("spec", nargs="?", default="campaigns/dmr.toml", metavar="SPEC",
                            type=_path, help="campaign spec (default: %(default)s)")
    throughput.add_argument("--workers", type=_integer(1, _MAX_WORKERS),
                            default=os.cpu_count() or 1,
                            help="campaign workers (default: the number of CPUs, "
                                 "%(default)s here)")
    throughput.add_argument("--naive", type=_integer(1, 100_000), default=200, metavar="N",
                            help="injections run the naive way (default: %(default)s)")
    throughput.add_argument("--json", metavar="FILE", type=_path,
                            help="also write the figures to FILE as JSON")

    report = commands.add_parser(
        "report", help="write a campaign's report: DIR/index.html and DIR/summary.json",
        description="Write the report of the campaign results in DIR: a self-contained "
                    "page DIR/index.html (settings, outcome table with 95% intervals, "
                    "coverage and ISO 26262-style metrics, latency percentiles, plots, and "
                    "the availability of four architectures with the campaign's measured "
                    "shares), the plots as PNG files, and DIR/summary.json with every "
                    "figure on the page.")
    report.add_argument("directory", metavar="DIR", type=_path, help="campaign result folder")
    report.add_argument("--config", metavar="FILE", type=_path,
                        help="availability parameters (TOML, keys as 'ftvoter availability "
                             "--help' lists); the campaign's measured masked share, "
                             "coverage and isolation override them")

    availability = commands.add_parser(
        "availability", help="print availability, downtime and silent corruption",
        description="Solve the availability models (continuous-time Markov chains, "
                    "docs/availability.md) of simplex, ha_cluster, dmr_lockstep and tmr "
                    "and print availability, nines, downtime in minutes per year and "
                    "silent data corruption in FIT. Parameters (TOML keys for --config): "
                    "permanent_fit, transient_fit (fault rates per lane or node, FIT), "
                    "masked, coverage, isolation, isolation_tmr, silent (shares from 0 to "
                    "1), mttr, reboot, restart, resync, failover (hours; restart: the time "
                    "for the lockstep lanes' work to start again after a lane is inserted, "
                    "since today's LANE_CMD INSERT resets every lane).")
    availability.add_argument("--config", metavar="FILE", type=_path, help="parameters (TOML)")
    availability.add_argument("--campaign", metavar="DIR", type=_path,
                              help="take masked, coverage and isolation from the campaign "
                                   "results in DIR")
    availability.add_argument("--json", action="store_true",
                              help="print JSON: per architecture its availability, nines, "
                                   "downtime and the parameters used")
    availability.add_argument("--prism", metavar="DIR", type=_path,
                              help="also write each model as DIR/<architecture>.prism (a "
                                   "PRISM CTMC with the label \"up\")")

    synth = commands.add_parser(
        "synth", help="synthesise the lockstep demo for a dev board (YoWASP tools)",
        description="Build the lockstep demo (lanes, voting bridge, error registers, "
                    "on-chip RAM; LEDs show each lane's state, the first button injects a "
                    "fault) for a board with yosys, nextpnr and the packer from the YoWASP "
                    "wheels, write the bitstream and a JSON summary (utilisation, Fmax per "
                    "clock, pass/fail against the requested clock). With --compare: build "
                    "1, 2 and 3 lanes and synthesise the bridge and one lane alone, and "
                    "write the comparison as JSON and a Markdown table.")
    synth.add_argument("--board", choices=("icebreaker", "ulx3s"), default="icebreaker",
                       help="the board (default: %(default)s)")
    synth.add_argument("--lanes", type=_int, choices=(1, 2, 3), default=2,
                       help="1 (simplex, nothing checked), 2 (DMR) or 3 (TMR) "
                            "(default: %(default)s)")
    synth.add_argument("--freq", type=_mhz, metavar="MHZ",
                       help="clock to meet, MHz (default: the board's oscillator)")
    synth.add_argument("--compare", action="store_true",
                       help="build simplex, DMR and TMR and the component areas")
    synth.add_argument("--seeds", type=_integer(1, 100), default=5,
                       help="with --compare: nextpnr placement seeds per build; the median "
                            "Fmax is compared (default: %(default)s)")
    synth.add_argument("--workers", type=_integer(1, _MAX_WORKERS),
                       help="with --compare: builds at once (default: one per CPU)")
    synth.add_argument("-o", "--output", metavar="DIR", type=_path,
                       help="build folder (default: build/synth/<board>)")

    console = commands.add_parser(
        "console", help="the board's management console over its UART",
        description="Talk to a board running the lockstep demo over its UART management "
                    "port (framing in ftvoter.boards.uart): show lane states, error causes, "
                    "counters and new events, refreshed every second (Ctrl-C ends), or "
                    "once; remove or insert a lane, clear the errors, inject a fault.")
    console.add_argument("--port", required=True, metavar="DEV", type=_path,
                         help="serial device (e.g. /dev/ttyUSB1)")
    console.add_argument("--baud", type=_positive, default=115200,
                         help="baud rate (default: %(default)s)")
    console.add_argument("--lanes", type=_int, choices=(2, 3), default=2,
                         help="lanes of the build (default: %(default)s)")
    console.add_argument("--once", action="store_true", help="show the status once")
    console.add_argument("--remove", type=_integer(0, 2), metavar="LANE",
                         help="take a lane out")
    console.add_argument("--insert", type=_integer(0, 2), metavar="LANE",
                         help="resynchronise a lane and bring it back")
    console.add_argument("--clear", action="store_true", help="clear the error causes")
    console.add_argument("--disarm", action="store_true",
                         help="disarm the fault registers (a programmed fault ends)")
    console.add_argument("--inject", metavar="SITE[:MASK[:MODEL[:CYCLES]]]",
                         help="program a fault to start just after it is armed: site "
                              "index (ftvoter sites), bit mask (default 1), model 0 flip / "
                              "1 stuck-at-0 / 2 stuck-at-1 (default 0), cycles a stuck-at "
                              "lasts (default 0: until disarmed)")

    summary = commands.add_parser(
        "summary", help="print the outcome table of a campaign folder",
        description="Print the outcome counts and latency percentiles of the campaign "
                    "results in DIR (results.jsonl), as 'ftvoter campaign' does at its end.")
    summary.add_argument("directory", metavar="DIR", type=_path, help="campaign result folder")
    summary.add_argument("--json", action="store_true", help="print the figures as JSON")

    regs = commands.add_parser(
        "regs", help="write the error register map as Markdown, a C header or JSON",
        description="Write the error registers' map, generated from their description in "
                    "ftvoter.hdl.registers: Markdown (docs/registers.md), a C header, or "
                    "JSON (registers with name, offset, access, reset, fields with lsb, "
                    "width, access, reset and enum values).")
    regs.add_argument("--format", choices=("md", "c", "json"), default="md",
                      help="output format (default: %(default)s)")
    regs.add_argument("--map", choices=("error", "fault"), default="error",
                      help="which registers: the bridge's error registers, or the fault "
                           "injector's (FaultRegisters) (default: %(default)s)")
    regs.add_argument("-o", "--output", metavar="FILE", type=_path, default="-",
                      help="where to write ('-': standard output, the default)")
    return parser


def _emit(text, output):
    """Write a command's text to standard output ('-') or, atomically, to a file."""
    if output == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_atomic(Path(output), text)
    return 0


def _cmd_sites(args):
    import json

    from .designs import build
    params = _lockstep_params(args)
    params["faults"] = params["faults"] or ["*"]
    params["ram"] = 0
    if args.spec is not None:
        from .spec import SpecError, load_spec
        try:
            spec = load_spec(args.spec)
        except SpecError as error:
            raise _UsageError(str(error)) from None
        params.update({key: spec.design[key] for key in ("lane", "lanes", "offset",
                                                          "policy")},
                      seed=spec.workload["seed"], faults=spec.faults["sites"])
    try:
        lockstep = build("lockstep", params)
    except (TypeError, ValueError) as error:
        raise _UsageError(str(error)) from None
    sites = [{"index": index, **site.as_dict()}
             for index, site in enumerate(lockstep.injector.sites)]
    text = json.dumps({"sites": sites, "bits": sum(site["width"] for site in sites)},
                      indent=2) + "\n"
    return _emit(text, args.output)


def _cmd_campaign(args):
    def stop(signum, frame):
        raise KeyboardInterrupt
    # SIGTERM stops a campaign as Ctrl-C does: shards stopped, completed injections kept.
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return _campaign(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _campaign(args):
    from .campaign import CampaignError, format_summary, run_campaign, summary
    from .results import ResultStore, ResultStoreError
    from .spec import SpecError, load_spec
    if args.fresh and args.resume:
        raise _UsageError("--fresh and --resume exclude each other")
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        raise _UsageError(str(error)) from None
    directory = Path(args.output or Path("reports") / spec.name)
    try:
        figures = run_campaign(spec, directory, workers=args.workers, resume=args.resume,
                               fresh=args.fresh, progress=not args.quiet)
    except (ResultStoreError, SpecError) as error:
        raise _UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    except KeyboardInterrupt:
        store = ResultStore(directory)
        if not store.manifest.exists():
            print("\nftvoter campaign: interrupted before any injection ran; nothing was "
                  "written", file=sys.stderr)
            return 130
        done = len(store.records())
        print(f"\nftvoter campaign: interrupted with {done} injections recorded in "
              f"{directory}; finish with: ftvoter campaign {args.spec} -o {directory} "
              f"--resume", file=sys.stderr)
        return 130
    records = ResultStore(directory).records()
    if figures.get("ran"):
        rate = figures["ran"] / figures["seconds"]
        print(f"ftvoter campaign: {figures['ran']} injections in {figures['seconds']:.1f} s "
              f"({rate:.0f}/s, {figures['workers']} workers); {figures['sim_errors']} "
              f"simulator errors")
    print(format_summary(summary(records), f"{spec.name}: {directory}"))
    return 0


def _cmd_bench_campaign(args):
    import json

    from .campaign import CampaignError
    from .campaign_bench import campaign_throughput, print_throughput
    from .spec import SpecError, load_spec
    try:
        spec = load_spec(args.spec)
        rows, ratios = campaign_throughput(spec, workers=args.workers, naive=args.naive)
    except SpecError as error:
        raise _UsageError(str(error)) from None
    except CampaignError as error:
        raise ToolchainError(str(error)) from None
    print_throughput(spec, rows, ratios, args.workers)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"spec": spec.source, "rows": rows,
                                                  "ratios": ratios}, indent=2))
    return 0


def _parameters(args):
    from ftvoter.analysis.availability import Parameters, load_parameters
    try:
        return load_parameters(args.config) if args.config is not None else Parameters()
    except ValueError as error:
        raise _UsageError(str(error)) from None


def _cmd_report(args):
    from ftvoter.analysis.report import write_report
    parameters = _parameters(args)
    try:
        page = write_report(args.directory, parameters)
    except (FileNotFoundError, ValueError) as error:
        raise _UsageError(str(error)) from None
    print(f"ftvoter report: {page}")
    return 0


def _cmd_availability(args):
    import json
    from dataclasses import replace

    from ftvoter.analysis import availability as av
    parameters = _parameters(args)
    if args.campaign:
        from ftvoter.analysis.stats import campaign_parameters, load
        try:
            _, records = load(args.campaign)
            parameters = replace(parameters, **campaign_parameters(records))
        except (FileNotFoundError, ValueError) as error:
            raise _UsageError(str(error)) from None
    results = [av.evaluate(name, parameters) for name in av.ARCHITECTURES]
    if args.prism:
        folder = Path(args.prism)
        for name in av.ARCHITECTURES:
            write_atomic(folder / f"{name}.prism", av.to_prism(av.build(name, parameters)))
    if args.json:
        print(json.dumps({r["architecture"]: {k: v for k, v in r.items()
                                              if k != "architecture"} for r in results},
                         indent=2))
        return 0
    print(f"  {'architecture':<14} {'availability':>14} {'nines':>6} "
          f"{'downtime min/yr':>16} {'silent corruption FIT':>22}")
    for r in results:
        print(f"  {r['architecture']:<14} {100 * r['availability']:>13.6f}% "
              f"{r['nines']:>6.2f} {r['downtime_minutes_per_year']:>16.3g} "
              f"{r['sdc_fit']:>22.3g}")
    print("  parameters: " + ", ".join(f"{k}={v:.6g}" for k, v in
                                        parameters.as_dict().items()))
    return 0


def _cmd_synth(args):
    import json
    try:
        from ftvoter.boards import synth
    except ImportError as error:
        raise ToolchainError(f"synthesis needs the 'synth' extra ({error.name} is missing): "
                             f"pip install -e '.[synth]'") from None
    folder = Path(args.output or Path("build") / "synth" / args.board)
    try:
        if args.compare:
            from ftvoter.boards.compare import compare
            figures, table = compare(args.board, folder, freq_mhz=args.freq,
                                     seeds=args.seeds, workers=args.workers)
            write_atomic(folder / "compare.json", json.dumps(figures, indent=2))
            write_atomic(folder / "compare.md", table)
            print(table)
            return 0
        summary = synth.build_board(args.board, args.lanes,
                                    build_dir=folder / f"lanes{args.lanes}", freq_mhz=args.freq)
    except synth.SynthError as error:
        raise ToolchainError(str(error)) from None
    write_atomic(folder / f"lanes{args.lanes}" / "summary.json", json.dumps(summary, indent=2))
    print(f"ftvoter synth: {summary['device']}, {args.lanes} lane(s): "
          f"Fmax {summary['fmax_mhz']} MHz, requested {summary['requested_mhz']} MHz: "
          f"{'met' if summary['meets'] else 'NOT met'}")
    for cell, used in summary["utilisation"].items():
        print(f"  {cell:<16} {used['used']:>6} / {used['available']}")
    print(f"  bitstream        {summary['bitstream']}")
    return 0 if summary["meets"] else 1


def _cmd_console(args):
    try:
        import serial
    except ImportError:
        raise ToolchainError("the console needs pyserial: pip install pyserial") from None
    from ftvoter.boards.console import (
        FAULT,
        ManagementClient,
        ManagementError,
        format_status,
        parse_inject,
        status,
    )
    fault = None
    if args.inject is not None:
        try:
            fault = parse_inject(args.inject)
        except ValueError as error:
            raise _UsageError(str(error)) from None
    for option, lane in (("--remove", args.remove), ("--insert", args.insert)):
        if lane is not None and lane >= args.lanes:
            raise _UsageError(f"{option} {lane}: there are {args.lanes} lanes (0 to "
                              f"{args.lanes - 1})")
    try:
        stream = serial.Serial(args.port, args.baud, timeout=1)
    except (serial.SerialException, OSError) as error:
        raise _UsageError(f"cannot open {args.port}: {error}") from None
    client = ManagementClient(stream)
    try:
        # Actions in the order an operator repairs a lane: end the fault, take a lane out,
        # clear the causes, bring a lane back; then (a new experiment) inject.
        if args.disarm:
            client.fault_write(FAULT["CONTROL"], 0)
        if args.remove is not None:
            client.lane_command(args.remove, "remove")
        if args.clear:
            client.clear_errors()
        if args.insert is not None:
            client.lane_command(args.insert, "insert")
        if fault is not None:
            site, mask, model, cycles = fault
            client.inject(site, mask, model, duration=cycles)
        while True:
            print(format_status(status(client, args.lanes)), flush=True)
            if args.once:
                return 0
            time.sleep(1)
    except ManagementError as error:
        raise ToolchainError(str(error)) from None
    except (serial.SerialException, OSError) as error:
        raise ToolchainError(f"{args.port}: {error}") from None


def _cmd_summary(args):
    import json

    from ftvoter.analysis.stats import load_campaign

    from .campaign import format_summary, summary
    try:
        campaign = load_campaign(args.directory)
    except (FileNotFoundError, ValueError) as error:
        raise _UsageError(str(error)) from None
    problems = campaign.problems()
    if problems:
        print(f"ftvoter summary: {problems}", file=sys.stderr)
    figures = summary(campaign.records)
    figures.update(planned=campaign.planned, problems=problems)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(format_summary(figures, str(args.directory)))
    return 0


def _cmd_regs(args):
    from ftvoter.hdl.fault_regs import FAULT_REGISTERS
    from ftvoter.hdl.registers import ERROR_REGISTERS
    regmap = {"error": ERROR_REGISTERS, "fault": FAULT_REGISTERS}[args.map]
    text = {"md": regmap.as_markdown, "c": regmap.as_c_header,
            "json": regmap.as_json}[args.format]()
    return _emit(text, args.output)


def _cmd_verilog(args):
    from .toolchain import export_verilog
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
        params = _lockstep_params(args)
    try:
        path = export_verilog(args.design, params, name=args.name)
    except (TypeError, ValueError) as error:
        raise _UsageError(str(error)) from None
    text = path.read_text()
    return _emit(text, args.output)


def main(argv=None):
    parser = _build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    for arg in argv:
        # argparse reads '--option=--' as an empty list of values instead of refusing it.
        if re.fullmatch(r"--?[^=\s]+=--", arg):
            parser.error(f"argument {arg[:-3]}: expected a value, not '--'")
    args = parser.parse_args(argv)
    handlers = {"verilog": _cmd_verilog, "regs": _cmd_regs, "sites": _cmd_sites,
                "campaign": _cmd_campaign, "summary": _cmd_summary,
                "bench-campaign": _cmd_bench_campaign, "report": _cmd_report,
                "availability": _cmd_availability, "synth": _cmd_synth,
                "console": _cmd_console}
    if args.command in ("sim", "bench"):
        from . import runs
        handlers[args.command] = getattr(runs, f"cmd_{args.command}")
    try:
        return handlers[args.command](args)
    except _UsageError as error:
        parser.exit(2, f"ftvoter: error: {error}\n")
    except OutputError as error:
        # A path that cannot be written (a file where a folder belongs, no permission) is
        # bad usage; a write that failed (a full disk) is a failed run.
        parser.exit(2 if error.usage else 1, f"ftvoter: error: {error}\n")
    except ToolchainError as error:
        parser.exit(1, f"ftvoter: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "ftvoter: interrupted\n")
