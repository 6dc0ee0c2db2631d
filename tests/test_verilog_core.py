"""VerilogCore (a user's Verilog core as a lane core) and register_lane_kind.

PicoRV32's ``picorv32_axi`` and ``picorv32_wb`` stand in for a user's cores: their fault
sites must be exactly those of :class:`PicoRV32Core` (built by its own code from the same
Verilog and parameters), and every mistake in a wrapper must be one message naming the
port or file. The README's example is run as a user would run it (a fresh Python process
in the repository) and its console compared with crc32 compiled natively; a Wishbone core
(``picorv32_wb``) runs crc32 the same way.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.lib import wiring

from ftvoter.hdl.signatures import AXI4LiteSignature
from ftvoter.hdl.units.cpu import CpuLane
from ftvoter.hdl.units.picorv32 import PICORV32_PARAMETERS, PicoRV32Core, picorv32_source
from ftvoter.hdl.units.verilog_core import VerilogCore
from ftvoter.sim import designs
from ftvoter.sim.designs import build, register_lane_kind, registered_lane_kinds, resolve

ROOT = Path(__file__).resolve().parent.parent
AXI = ["awvalid", "awready", "awaddr", "awprot", "wvalid", "wready", "wdata", "wstrb",
       "bvalid", "bready", "arvalid", "arready", "araddr", "arprot", "rvalid", "rready",
       "rdata"]
TIES = {"irq": 0, "pcpi_wr": 0, "pcpi_rd": 0, "pcpi_wait": 0, "pcpi_ready": 0}
WISHBONE = {"adr": "wbm_adr_o", "dat_w": "wbm_dat_o", "dat_r": "wbm_dat_i",
            "we": "wbm_we_o", "sel": "wbm_sel_o", "stb": "wbm_stb_o", "ack": "wbm_ack_i",
            "cyc": "wbm_cyc_o"}
AXI_BUS = AXI4LiteSignature(addr_width=32, data_width=32)


def axi_core(*, port_map=None, ties=TIES, **kwargs):
    """picorv32_axi as a user would wrap it, with ``port_map`` entries changed."""
    arguments = {"parameters": PICORV32_PARAMETERS, "clock": "clk", "reset": "resetn",
                 "reset_active_low": True, **kwargs}
    ports = {**{member: f"mem_axi_{member}" for member in AXI}, "trap": "trap"}
    for member, port in (port_map or {}).items():
        if port is None:
            del ports[member]
        else:
            ports[member] = port
    return VerilogCore([picorv32_source()], "picorv32_axi", port_map=ports, ties=ties,
                       **arguments)


def wb_core(*, port_map=None):
    """picorv32_wb (a 32-bit byte address, byte selects, active-high reset)."""
    return VerilogCore([picorv32_source()], "picorv32_wb", parameters=PICORV32_PARAMETERS,
                       clock="wb_clk_i", reset="wb_rst_i", bus="wishbone",
                       port_map={**WISHBONE, "trap": "trap", **(port_map or {})}, ties=TIES)


@pytest.fixture
def kinds():
    """Lane kinds registered by a test are removed after it."""
    before = dict(designs.LANE_KINDS)
    yield
    for kind in registered_lane_kinds():
        if kind not in before:
            del designs.LANE_KINDS[kind]
            del designs._REGISTERED[kind]


# -- construction ----------------------------------------------------------------------

def test_init_axi4lite():
    core = axi_core()
    members = core.signature.members
    assert members["bus"].flow == wiring.Out and members["bus"].signature == AXI_BUS
    assert members["trap"].flow == wiring.Out and members["trap"].shape == 1
    assert "irq" not in members and "self_error" not in members
    assert len(core.state_out) == core.netlist.state_width
    assert core.top == "picorv32_axi" and core.bus_kind == "axi4lite" and core.adapter is None
    assert re.match(r"^ftv_picorv32_axi_[0-9a-f]{8}$", core.netlist.name)
    CpuLane(core, image=[0x0000006F])      # the lane accepts it
    assert "cell \\" + core.netlist.name in rtlil.convert(core)


def test_sites_equal_picorv32_core():
    # The same Verilog and parameters through PicoRV32Core's own code: the same sites,
    # in the same order, at the same offsets.
    ours, theirs = axi_core(), PicoRV32Core()
    assert ours.sites == theirs.sites
    assert ours.netlist.state_width == theirs.netlist.state_width
    assert [name for name, _ in ours.site_registers()] == \
        [name for name, _ in theirs.site_registers()]
    assert "picorv32_core.reg_pc" in [site.name for site in ours.sites]
    # Other parameters: other sites (the comparison is not vacuous).
    other = axi_core(parameters={**PICORV32_PARAMETERS, "ENABLE_COUNTERS": 0})
    assert other.netlist.state_width < theirs.netlist.state_width


def test_extras_and_optional_members():
    core = axi_core(port_map={"wstrb": None, "awprot": None, "trap": None,
                              "irq": "irq", "self_error": "trap"},
                    ties={key: value for key, value in TIES.items() if key != "irq"})
    members = core.signature.members
    assert members["irq"].flow == wiring.In and members["irq"].shape == 32
    assert members["self_error"].flow == wiring.Out and "trap" not in members
    lane = CpuLane(core)
    assert len(lane.irq) == 32
    text = rtlil.convert(core)
    assert "connect \\bus__wstrb 4'1111" in text     # no wstrb: every write a whole word


def test_init_wishbone():
    core = wb_core()
    assert core.signature.members["bus"].signature == AXI_BUS
    assert core.bus_kind == "wishbone"
    adapter = core.adapter.signature.members["wb"].signature
    assert (adapter.addr_width, adapter.granularity, adapter.features) == (30, 8, frozenset())
    names = [site.name for site in core.sites]
    assert "picorv32_core.reg_pc" in names and "state" in names
    CpuLane(core)
    assert "cell \\" + core.netlist.name in rtlil.convert(core)


WB_WORD = """
module wb_word(input clk, input rst, output reg [{adr}:0] adr, output [31:0] dat_w,
               input [31:0] dat_r, output cyc, output stb, output we, input ack{sel});
  always @(posedge clk) if (rst) adr <= 0; else if (ack) adr <= adr + 1;
  assign dat_w = dat_r; assign cyc = 1; assign stb = 1; assign we = 1;
endmodule
"""
WB_WORD_MAP = {"adr": "adr", "dat_w": "dat_w", "dat_r": "dat_r", "cyc": "cyc", "stb": "stb",
               "we": "we", "ack": "ack"}


def wb_word(tmp_path, adr=29, sel=""):
    path = tmp_path / "wb_word.v"
    path.write_text(WB_WORD.format(adr=adr, sel=sel))
    return [path]


def test_wishbone_word_address(tmp_path):
    # A 16-bit word address, no sel: granularity 32, every access a whole word.
    core = VerilogCore(wb_word(tmp_path, adr=15), "wb_word", bus="wishbone",
                       port_map=WB_WORD_MAP)
    adapter = core.adapter.signature.members["wb"].signature
    assert (adapter.addr_width, adapter.granularity) == (16, 32)
    assert [site.name for site in core.sites] == ["adr"]
    rtlil.convert(CpuLane(core))


# -- construction errors: each one message ----------------------------------------------

def error(exception, pattern):
    return pytest.raises(exception, match="^" + pattern + "$")


def test_wrong_bus():
    with error(ValueError, r"Bus must be 'axi4lite' or 'wishbone', not 'apb'"):
        axi_core(bus="apb")
    with error(TypeError, r"Bus must be 'axi4lite' or 'wishbone', not 1"):
        axi_core(bus=1)


def test_wrong_port_map_type():
    with error(TypeError, r"Port map must be a dict of bus members to port names, not "
                          r"\['clk'\]"):
        VerilogCore([picorv32_source()], "picorv32_axi", port_map=["clk"])
    with error(TypeError, r"port_map\['awvalid'\] must be a port name \(a string\), not 3"):
        axi_core(port_map={"awvalid": 3})


def test_unknown_member():
    with error(ValueError, r"Port map names a member that the axi4lite bus does not have "
                           r"\(members are .*\): 'awvaild'"):
        axi_core(port_map={"awvaild": "mem_axi_awvalid"})
    with error(ValueError, r"Port map names a member that the wishbone bus does not have "
                           r"\(members are adr, .*\): 'awvalid'"):
        VerilogCore([picorv32_source()], "picorv32_wb", bus="wishbone",
                    port_map={**WISHBONE, "awvalid": "wbm_stb_o"})


def test_missing_member():
    with error(ValueError, r"Port map lacks required axi4lite members: awvalid, rdata"):
        axi_core(port_map={"awvalid": None, "rdata": None})


def test_missing_port():
    with error(ValueError, r"Core picorv32_axi has no port 'mem_axi_awvaild' "
                           r"\(port_map\['awvalid'\]\)"):
        axi_core(port_map={"awvalid": "mem_axi_awvaild"})


def test_wrong_direction():
    with error(ValueError, r"Port 'mem_axi_awready' of core picorv32_axi is an input, but "
                           r"port_map\['awvalid'\] must be an output of the core"):
        axi_core(port_map={"awvalid": "mem_axi_awready", "awready": "mem_axi_awvalid"})


def test_wrong_width():
    with error(ValueError, r"Port 'pcpi_insn' of core picorv32_axi is 32 bits wide, but "
                           r"port_map\['awprot'\] must be 3 bits wide"):
        axi_core(port_map={"awprot": "pcpi_insn"})


def test_port_given_twice():
    with error(ValueError, r"Port 'mem_axi_araddr' of core picorv32_axi is given twice: "
                           r"port_map\['awaddr'\] and port_map\['araddr'\]"):
        axi_core(port_map={"awaddr": "mem_axi_araddr"})
    with error(ValueError, r"Port 'irq' of core picorv32_axi is given twice: "
                           r"port_map\['irq'\] and ties\['irq'\]"):
        axi_core(port_map={"irq": "irq"})


def test_unconnected_input():
    with error(ValueError, r"Core picorv32_axi has inputs that are not connected \(give "
                           r"each in port_map or ties\): pcpi_wr, irq"):
        axi_core(ties={"pcpi_rd": 0, "pcpi_wait": 0, "pcpi_ready": 0})


def test_missing_clock_and_reset():
    with error(ValueError, r"Core picorv32_axi has no port 'clock' \(the clock\)"):
        axi_core(clock="clock")
    with error(ValueError, r"Core picorv32_axi has no port 'rst' \(the reset\)"):
        axi_core(reset="rst")
    with error(ValueError, r"Port 'trap' of core picorv32_axi is an output, but the reset "
                           r"must be an input of the core"):
        axi_core(reset="trap", port_map={"trap": None})


def test_wrong_clock():
    with error(ValueError, r"The flip-flops of core picorv32_axi are clocked by 'clk', not "
                           r"by the clock given, 'resetn'"):
        axi_core(clock="resetn", reset="clk")


def test_wrong_ties():
    with error(ValueError, r"Port 'trap' of core picorv32_axi is an output, but "
                           r"ties\['trap'\] must be an input of the core"):
        axi_core(port_map={"trap": None}, ties={**TIES, "trap": 0})
    with error(ValueError, r"Port 'irq' of core picorv32_axi is 32 bits wide; "
                           r"ties\['irq'\] cannot be 4294967296"):
        axi_core(ties={**TIES, "irq": 1 << 32})
    with error(ValueError, r"Core picorv32_axi has no port 'irqs' \(ties\['irqs'\]\)"):
        axi_core(ties={**TIES, "irqs": 0})
    with error(TypeError, r"Tie irq must be a non-negative integer, not '0'"):
        axi_core(ties={**TIES, "irq": "0"})
    with error(TypeError, r"Ties must be a dict of port names to integers, not 0"):
        axi_core(ties=0)


def test_wrong_reset_polarity_type():
    with error(TypeError, r"Reset active low must be True or False, not 1"):
        axi_core(reset_active_low=1)


def test_wishbone_widths(tmp_path):
    with error(ValueError, r"Port 'adr' of core wb_word is 31 bits wide, but "
                           r"port_map\['adr'\] must be a word address of 1 to 30 bits or a "
                           r"byte address of 32 bits"):
        VerilogCore(wb_word(tmp_path, adr=30), "wb_word", bus="wishbone",
                    port_map=WB_WORD_MAP)
    with error(ValueError, r"Port 'sel' of core wb_word is 2 bits wide, but "
                           r"port_map\['sel'\] must be 4 bits wide"):
        VerilogCore(wb_word(tmp_path, sel=", output [1:0] sel"), "wb_word", bus="wishbone",
                    port_map={**WB_WORD_MAP, "sel": "sel"})
    with error(ValueError, r"Port 'wbm_ack_i' of core picorv32_wb is 1 bit wide, but "
                           r"port_map\['dat_r'\] must be 32 bits wide"):
        wb_core(port_map={"ack": "wbm_dat_i", "dat_r": "wbm_ack_i"})


def test_file_errors(tmp_path):
    # A port map that is complete, so that what fails is the file.
    port_map = {member: member for member in AXI}
    path = tmp_path / "core.v"
    path.write_text("module core(input clk);\n  reg q q;\nendmodule\n")
    with pytest.raises(ValueError) as info:
        VerilogCore([path], "core", port_map=port_map)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"^Yosys failed on {re.escape(str(path))}: {re.escape(str(path))}:2: "
                    rf"ERROR: syntax error", message)
    with error(FileNotFoundError, rf"No such Verilog source file: "
                                  rf"{re.escape(repr(str(tmp_path / 'none.v')))}"):
        VerilogCore([tmp_path / "none.v"], "core", port_map=port_map)
    path.write_text("module core(input clk);\nendmodule\n")
    with error(ValueError, rf"Yosys failed on {re.escape(str(path))}: "
                           rf"ERROR: Module `nope' not found!"):
        VerilogCore([path], "nope", port_map=port_map)


# -- register_lane_kind -------------------------------------------------------------------

def test_register_lane_kind(kinds):
    core = register_lane_kind("mycore", axi_core)
    assert isinstance(core, VerilogCore)
    assert "mycore" in designs.LANE_KINDS and registered_lane_kinds() == ("mycore",)
    ours = build("lockstep", {"lane": "mycore", "lanes": 2, "faults": ["*"]})
    theirs = build("lockstep", {"lane": "picorv32", "lanes": 2, "faults": ["*"]})
    assert [site.name for site in ours.injector.sites] == \
        [site.name for site in theirs.injector.sites]
    assert "lane1.picorv32_core.reg_pc" in [site.name for site in ours.injector.sites]
    # The core's design is part of the parameters (so of every cache key)...
    params = resolve("lockstep", {"lane": "mycore"})
    assert re.match(r"^[0-9a-f]{64}$", params["_lane_digest"])
    assert resolve("lockstep", params) == params
    assert "_lane_digest" not in resolve("lockstep", {"lane": "picorv32"})
    # ... and changes with it.
    register_lane_kind("mycore", lambda: axi_core(
        parameters={**PICORV32_PARAMETERS, "ENABLE_COUNTERS": 0}))
    assert resolve("lockstep", {"lane": "mycore"})["_lane_digest"] != params["_lane_digest"]


def test_register_lane_kind_errors(kinds):
    with error(TypeError, r"Lane kind must be a string, not 3"):
        register_lane_kind(3, axi_core)
    with error(ValueError, r"Lane kind must be a name of letters, digits, '-' and '_' "
                           r"starting with a letter, not 'my core'"):
        register_lane_kind("my core", axi_core)
    with error(ValueError, r"Lane kind picorv32 is built in; register the core under "
                           r"another name, not 'picorv32'"):
        register_lane_kind("picorv32", axi_core)
    with error(TypeError, r"Core factory must be a callable that returns a core, not 3"):
        register_lane_kind("mycore", 3)
    with error(TypeError, r"Core factory of lane kind mycore must return a component with "
                          r"bus Out\(AXI4LiteSignature\(.*\)\), not None"):
        register_lane_kind("mycore", lambda: None)
    with error(ValueError, r"Core picorv32_axi has no port 'mem_axi_awvaild' "
                           r"\(port_map\['awvalid'\]\)"):
        register_lane_kind("mycore", lambda: axi_core(port_map={"awvalid":
                                                                "mem_axi_awvaild"}))
    assert registered_lane_kinds() == ()


def test_run_program_refuses_an_unregistered_kind():
    from ftvoter.sim.program_run import run_program
    with error(ValueError, r"A program needs a CPU lane \(picorv32, sentinel, "
                           r"picorv32-rtl\), not 'mycore'"):
        run_program({"lane": "mycore", "lanes": 2}, "programs/crc32.c", cycles=10)


# -- in lockstep under Verilator ----------------------------------------------------------

def readme_section():
    text = (ROOT / "README.md").read_text()
    start = text.index("### Your own core as a lane\n")
    end = re.compile(r"^#{2,3} ", re.MULTILINE).search(text, start + 4)
    return text[start:end.start() if end else len(text)]


def readme_blocks(kind):
    return re.findall(rf"^```{kind}\n(.*?)^```$", readme_section(), re.MULTILINE | re.DOTALL)


def native_crc32():
    from ftvoter.sim.programs import example, run_native
    return run_native(example("crc32")).console.decode()


def test_readme_error_is_the_real_one():
    # The message the README shows for a misspelt port is VerilogCore's.
    shown = [block for block in readme_blocks("text") if block.startswith("ValueError")]
    assert len(shown) == 1
    with pytest.raises(ValueError) as info:
        axi_core(port_map={"awvalid": "mem_axi_awvaild"})
    assert shown[0] == f"ValueError: {info.value}\n"


def test_readme_example_without_a_build(kinds, monkeypatch, capsys):
    # The README's example through the real run_program, with only the Verilator run
    # replaced (by crc32's native console): the registration, the kind accepted, its
    # digest in the build's parameters and the printed sites, in seconds.
    from ftvoter.sim import program_run
    seen = []

    def simulate(params, testcase, env, **kwargs):
        seen.append(params)
        return {"console": native_crc32().encode().hex(), "exit_code": 0,
                "mismatch_events": 0, "io_writes": [], "io_reads": []}
    monkeypatch.setattr(program_run, "simulate", simulate)
    [code] = readme_blocks("python")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    [params] = seen
    assert params["lane"] == "mycore" and params["lanes"] == 2
    assert params["_lane_digest"] == designs._REGISTERED["mycore"]
    assert capsys.readouterr().out == readme_blocks("text")[0]


@pytest.mark.tb
@pytest.mark.long     # 65-75 s cold (most of it the Verilator build), 4 s warm
def test_readme_example():
    # The README's example, run as a user runs it: its whole output must be the one the
    # README shows, and the console crc32 compiled natively prints.
    [code] = readme_blocks("python")
    shown = readme_blocks("text")[0]
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=1200)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines(keepends=True)
    assert re.match(r"^\d+ registers, \d+ flip-flop bits a lane$", lines[0])
    assert "".join(lines[1:-1]) == native_crc32()
    assert lines[-1] == "exit 0, 0 mismatches\n"
    assert result.stdout == shown
    print(f"README example: {elapsed:.0f} s")


@pytest.mark.tb
@pytest.mark.long     # 41-69 s cold (most of it the Verilator build), a few seconds warm
def test_wishbone_core_runs_crc32(kinds):
    # The Wishbone path (adapter, byte address) as it runs: picorv32_wb in DMR lockstep.
    from ftvoter.sim.program_run import run_program
    register_lane_kind("mywb", wb_core)
    figures = run_program({"lane": "mywb", "lanes": 2}, "programs/crc32.c",
                          cycles=3_000_000)
    assert figures["console"].decode() == native_crc32()
    assert figures["exit_code"] == 0 and figures["mismatch_events"] == 0
