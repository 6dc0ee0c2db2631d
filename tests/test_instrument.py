"""Tests of ftvoter.hdl.instrument: sites, saboteurs and the state port on any lane.

Behaviour is checked by simulating the instrumented Verilog under Verilator with a tiny
generated C++ harness (one line of hexadecimal inputs in, one line of outputs out, per
clock cycle) and comparing it, cycle for cycle, with an independent model of the same
design: the original Amaranth component in amaranth.sim, or a Python model of the
hand-written Verilog. A fault is modelled on the model's side by changing the register
right after the clock edge (``ctx.set`` on the register in amaranth.sim), which is what
the saboteur must do in hardware. This is the lightest robust way: amaranth.sim cannot
simulate an ``Instance``, and Yosys' ``sim`` has no convenient way to read the state
back every cycle. Models are built once per test session (cached in the build folder,
keyed by the Verilog), so a warm run takes seconds.
"""

import fcntl
import hashlib
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Cat, ClockDomain, ClockSignal, Module, ResetSignal, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ftvoter.hdl import instrument as instrument_module
from ftvoter.hdl.instrument import (
    NETLISTS,
    Site,
    append_netlists,
    instrument_amaranth,
    instrument_verilog,
)
from ftvoter.sim import toolchain

PICORV32 = {"ENABLE_COUNTERS": 0, "ENABLE_REGS_DUALPORT": 1, "TWO_STAGE_SHIFT": 1,
            "BARREL_SHIFTER": 0, "COMPRESSED_ISA": 0, "ENABLE_MUL": 0, "ENABLE_DIV": 0,
            "ENABLE_IRQ": 0, "ENABLE_TRACE": 0, "CATCH_MISALIGN": 1, "CATCH_ILLINSN": 1}
FTV_INPUTS = ("ftv_flip", "ftv_force", "ftv_value", "ftv_load", "ftv_state_in")


# -- designs under test ----------------------------------------------------------------

class Accumulator(wiring.Component):
    add: In(3)
    total: Out(6)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.total.eq(self.total + self.add)
        return m


class Counter(wiring.Component):
    """A counter with an enable, a shift register, a parity bit and a submodule."""
    en: In(1)
    din: In(1)
    count: Out(8)
    shift: Out(4)
    total: Out(6)
    parity: Out(1)

    def __init__(self):
        super().__init__()
        self.acc = Accumulator()
        self.odd = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.acc = self.acc
        with m.If(self.en):
            m.d.sync += self.count.eq(self.count + 1)
        m.d.sync += [self.shift.eq(Cat(self.din, self.shift[:-1])),
                     self.odd.eq(self.odd ^ self.din)]
        m.d.comb += [self.acc.add.eq(self.shift[:3]), self.total.eq(self.acc.total),
                     self.parity.eq(self.odd)]
        return m


class RamLane(wiring.Component):
    """A 4x8 Amaranth memory with a synchronous read port."""
    addr: In(2)
    wdata: In(8)
    we: In(1)
    rdata: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=8, depth=4, init=[1, 2, 3, 4])
        write, read = mem.write_port(), mem.read_port()
        m.d.comb += [write.addr.eq(self.addr), write.data.eq(self.wdata),
                     write.en.eq(self.we), read.addr.eq(self.addr), self.rdata.eq(read.data)]
        return m


class AsyncReset(wiring.Component):
    """A toggle on a domain with an asynchronous reset, driven from ports."""
    clk_in: In(1)
    rst_in: In(1)
    q: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain(async_reset=True)
        m.d.comb += [ClockSignal().eq(self.clk_in), ResetSignal().eq(self.rst_in)]
        m.d.sync += self.q.eq(~self.q)
        return m


#: The registers of :class:`Counter` as written above: {site name: signal of ``dut``}.
def counter_registers(dut):
    return {"count": dut.count, "shift": dut.shift, "odd": dut.odd, "acc.total": dut.acc.total}


COUNTER_SITES = {"count": 8, "shift": 4, "odd": 1, "acc.total": 6}

SMALL_V = """\
module small (
    input clk, input rst, input en, input we,
    input [1:0] waddr, input [1:0] raddr, input [7:0] din,
    output [7:0] acc_q, output [3:0] cnt_q, output [2:0] state_q, output [7:0] rdata);
  reg [7:0] acc;            // with an enable
  reg [3:0] cnt;            // with a synchronous reset
  reg [2:0] state;          // plain
  reg [7:0] mem [0:3];      // a 4x8 memory
  always @(posedge clk) begin
    if (en) acc <= acc + din;
    if (rst) cnt <= 4'd0; else cnt <= cnt + 4'd1;
    state <= {state[1:0], state[2] ^ din[0]};
    if (we) mem[waddr] <= din;
  end
  assign acc_q = acc;
  assign cnt_q = cnt;
  assign state_q = state;
  assign rdata = mem[raddr];
endmodule
"""

SMALL_SITES = {"acc": 8, "cnt": 4, "state": 3, "mem[0]": 8, "mem[1]": 8, "mem[2]": 8,
               "mem[3]": 8}


def small_model(rows, faults=None):
    """Python model of SMALL_V: outputs and registers each cycle (before the edge).

    ``faults(cycle, registers)`` may change the registers after the edge of ``cycle``."""
    regs = {"acc": 0, "cnt": 0, "state": 0, "mem[0]": 0, "mem[1]": 0, "mem[2]": 0,
            "mem[3]": 0}
    trace = []
    for cycle, row in enumerate(rows):
        trace.append(({"acc_q": regs["acc"], "cnt_q": regs["cnt"], "state_q": regs["state"],
                       "rdata": regs[f"mem[{row['raddr']}]"]}, dict(regs)))
        after = dict(regs)
        if row["en"]:
            after["acc"] = (regs["acc"] + row["din"]) & 0xFF
        after["cnt"] = 0 if row["rst"] else (regs["cnt"] + 1) & 0xF
        after["state"] = ((regs["state"] << 1) & 0b110) | ((regs["state"] >> 2) ^ row["din"]) & 1
        if row["we"]:
            after[f"mem[{row['waddr']}]"] = row["din"]
        regs = after
        if row.get("ftv_load"):               # only a load of zeros is modelled
            assert row["ftv_state_in"] == 0
            regs = dict.fromkeys(regs, 0)
        if faults is not None:
            faults(cycle, regs)
    return trace


@pytest.fixture(scope="module")
def counter():
    return instrument_amaranth(Counter(), name="ftv_counter")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "small.v"
    path.write_text(SMALL_V)
    return path


@pytest.fixture(scope="module")
def small(small_file):
    return instrument_verilog([small_file], "small", name="ftv_small")


def picorv32_file():
    pytest.importorskip("pythondata_cpu_picorv32")
    import pythondata_cpu_picorv32
    return Path(pythondata_cpu_picorv32.data_location) / "picorv32.v"


# -- Verilator harness -----------------------------------------------------------------

def _ports(inst):
    """The harness's input and output ports, ``[(name, width)]``, in line order."""
    state = inst.state_width
    widths = {"ftv_load": 1}
    inputs = [(port, width) for port, (direction, width) in inst.ports.items()
              if direction == "i" and port != inst.clock]
    inputs += [(port, widths.get(port, state)) for port in FTV_INPUTS]
    outputs = [(port, width) for port, (direction, width) in inst.ports.items()
               if direction == "o"] + [("ftv_state_out", state)]
    return inputs, outputs


def _harness_cpp(inst):
    inputs, outputs = _ports(inst)
    lines = []
    for port, width in inputs:
        lines.append("        std::cin >> hex;")
        lines.append(f"        top.{port} = std::stoull(hex, nullptr, 16);" if width <= 64
                     else f"        put(top.{port}.data(), {(width + 31) // 32}, hex);")
    lines.append("        top.eval();")
    for port, width in outputs:
        lines.append(f'        std::printf("%llx ", (unsigned long long)top.{port});'
                     if width <= 64 else f"        show(top.{port}.data(), "
                                         f"{(width + 31) // 32});")
    return HARNESS.replace("@CLOCK@", inst.clock).replace("@STEP@", "\n".join(lines))


HARNESS = """\
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

static void put(uint32_t* words, int count, const std::string& hex) {
    for (int i = 0; i < count; ++i) {
        int end = (int)hex.size() - 8 * i, start = end - 8 < 0 ? 0 : end - 8;
        words[i] = end > 0 ? (uint32_t)std::stoul(hex.substr(start, end - start), nullptr, 16)
                           : 0;
    }
}

static void show(const uint32_t* words, int count) {
    for (int i = count - 1; i >= 0; --i) std::printf("%08x", words[i]);
    std::printf(" ");
}

int main(int argc, char** argv) {
    VerilatedContext context;
    context.commandArgs(argc, argv);
    Vtop top{&context};
    std::string hex;
    top.@CLOCK@ = 0;
    top.eval();
    while (std::cin >> hex) {  // one line per cycle: "c" and the inputs
@STEP@
        std::printf("\\n");
        top.@CLOCK@ = 1;
        top.eval();
        top.@CLOCK@ = 0;
        top.eval();
    }
    top.final();
    return 0;
}
"""


def build_harness(inst):
    """Build (once per Verilog text) the Verilator harness of ``inst``; return its path."""
    toolchain.setup_environment()
    cpp = _harness_cpp(inst)
    key = hashlib.sha256((inst.verilog + cpp).encode()).hexdigest()[:16]
    folder = toolchain.build_root() / "instrument-test" / f"{inst.name}-{key}"
    binary = folder / "obj" / "harness"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            (folder / "design.v").write_text(inst.verilog)
            (folder / "harness.cpp").write_text(cpp)
            result = subprocess.run(
                ["verilator", "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal",
                 "-Wno-lint", "-Wno-style", "--prefix", "Vtop", "--top-module", inst.name,
                 "-Mdir", "obj", "-o", "harness", "-CFLAGS", "-O0", "design.v",
                 "harness.cpp"], cwd=folder, capture_output=True, text=True,
                env={**os.environ, "MAKEFLAGS": "OPT_FAST=-O0 OPT_SLOW=-O0"})
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return binary


def run_netlist(inst, rows):
    """Run the instrumented netlist; return, per cycle, ``{output: value}`` sampled
    before the clock edge (``ftv_state_out`` included)."""
    inputs, outputs = _ports(inst)
    text = "".join("c " + " ".join(f"{row.get(port, 0):x}" for port, _ in inputs) + "\n"
                   for row in rows)
    result = subprocess.run([build_harness(inst)], input=text, capture_output=True,
                            text=True, check=True)
    lines = result.stdout.splitlines()
    assert len(lines) == len(rows), result.stderr
    return [{port: int(word, 16) for (port, _), word in zip(outputs, line.split(),
                                                             strict=True)}
            for line in lines]


def run_counter_model(rows, faults=None):
    """Run the original :class:`Counter` in amaranth.sim with the same inputs.

    ``faults(ctx, registers, cycle)`` runs right after the edge that ends ``cycle``.
    Returns, per cycle, ``(outputs, registers)`` sampled before the edge."""
    dut = Counter()
    registers = counter_registers(dut)
    trace = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        for cycle, row in enumerate(rows):
            for port in ("en", "din"):
                ctx.set(getattr(dut, port), row.get(port, 0))
            trace.append(({port: ctx.get(getattr(dut, port))
                           for port in ("count", "shift", "total", "parity")},
                          {name: ctx.get(signal) for name, signal in registers.items()}))
            await ctx.tick()
            if faults is not None:
                faults(ctx, registers, cycle)

    sim.add_testbench(testbench)
    sim.run()
    return trace


def state_vector(inst, registers):
    """Pack register values into a state vector at the sites' offsets."""
    sites = {site.name: site for site in inst.sites}
    return sum(value << sites[name].offset for name, value in registers.items())


def assert_matches(inst, netlist, model):
    """Outputs and state of the netlist equal the model's in every cycle."""
    for cycle, (got, (outputs, registers)) in enumerate(zip(netlist, model, strict=True)):
        expected = {**outputs, "ftv_state_out": state_vector(inst, registers)}
        assert got == expected, f"cycle {cycle}"


def random_rows(cycles, seed, ports):
    rng = random.Random(seed)
    return [{port: rng.getrandbits(width) for port, width in ports.items()}
            for _ in range(cycles)]


def bit_of(inst, site, bit):
    [match] = [s for s in inst.sites if s.name == site]
    return 1 << (match.offset + bit)


# -- 1. sites --------------------------------------------------------------------------

class TestSites:
    def test_amaranth(self, counter):
        assert {site.name: site.width for site in counter.sites} == COUNTER_SITES
        assert counter.state_width == sum(COUNTER_SITES.values()) == 19
        assert counter.clock == "clk"
        assert counter.ports == {"clk": ("i", 1), "rst": ("i", 1), "en": ("i", 1),
                                 "din": ("i", 1), "count": ("o", 8), "shift": ("o", 4),
                                 "total": ("o", 6), "parity": ("o", 1)}

    def test_verilog(self, small):
        assert {site.name: site.width for site in small.sites} == SMALL_SITES
        assert small.state_width == 47
        assert small.name == "ftv_small"
        assert re.search(r"^module ftv_small\(", small.verilog, re.MULTILINE)

    def test_verilog_without_memories(self, small_file):
        inst = instrument_verilog([small_file], "small", name="ftv_small_nomem",
                                  memories=False)
        assert {site.name: site.width for site in inst.sites} == {"acc": 8, "cnt": 4,
                                                                  "state": 3}
        assert inst.state_width == 15

    def test_amaranth_memory(self):
        inst = instrument_amaranth(RamLane(), name="ftv_ram")
        sites = {site.name: site.width for site in inst.sites}
        assert {name: sites.get(name) for name in ("mem[0]", "mem[1]", "mem[2]", "mem[3]")} \
            == dict.fromkeys(("mem[0]", "mem[1]", "mem[2]", "mem[3]"), 8)
        # Four 8-bit words and the 8-bit data register of the synchronous read port.
        assert inst.state_width == 40

    def test_layout(self, counter, small):
        for inst in (counter, small):
            offsets = [site.offset for site in inst.sites]
            assert offsets == sorted(offsets)
            assert all(a.offset + a.width == b.offset
                       for a, b in zip(inst.sites, inst.sites[1:], strict=False))
            assert len({site.name for site in inst.sites}) == len(inst.sites)
        assert Site("count", 6, 8).bit_name(7) == "count[7]"
        assert Site("decoded_imm_j", 0, 31, lsb=1).bit_name(0) == "decoded_imm_j[1]"

    def test_cached(self, small_file):
        first = instrument_verilog([small_file], "small", name="ftv_small")
        files = list((toolchain.build_root() / "instrument").glob("ftv_small-*.json"))
        assert files and all(path.with_suffix(".v").exists() for path in files)
        again = instrument_verilog([small_file], "small", name="ftv_small")
        assert (again.verilog, again.sites, again.ports) == (first.verilog, first.sites,
                                                             first.ports)


# -- 2. behaviour ----------------------------------------------------------------------

COUNTER_INPUTS = {"en": 1, "din": 1}


class TestCounterBehaviour:
    def test_no_fault(self, counter):
        rows = random_rows(300, 1, COUNTER_INPUTS)
        assert_matches(counter, run_netlist(counter, rows), run_counter_model(rows))

    @pytest.mark.parametrize("site, bit, cycle", [("count", 3, 40), ("shift", 0, 7),
                                                  ("odd", 0, 100), ("acc.total", 5, 63)])
    def test_flip(self, counter, site, bit, cycle):
        rows = random_rows(200, 2, COUNTER_INPUTS)
        rows[cycle]["ftv_flip"] = bit_of(counter, site, bit)

        def flip(ctx, registers, at):
            if at == cycle:
                ctx.set(registers[site], ctx.get(registers[site]) ^ (1 << bit))
        netlist = run_netlist(counter, rows)
        assert_matches(counter, netlist, run_counter_model(rows, flip))
        # Exactly that bit differs from a fault-free run right after the edge.
        golden = run_netlist(counter, [{**row, "ftv_flip": 0} for row in rows])
        assert [netlist[k]["ftv_state_out"] ^ golden[k]["ftv_state_out"]
                for k in (cycle, cycle + 1)] == [0, bit_of(counter, site, bit)]

    def test_flip_lands_with_enable_low(self, counter):
        rows = [{"en": 0, "din": 0} for _ in range(20)]
        rows[5]["ftv_flip"] = bit_of(counter, "count", 6)
        states = [row["ftv_state_out"] for row in run_netlist(counter, rows)]
        assert states[:6] == [0] * 6
        assert states[6:] == [bit_of(counter, "count", 6)] * 14

    def test_stuck_at(self, counter):
        rows = random_rows(200, 3, COUNTER_INPUTS)
        for cycle in range(50, 120):
            rows[cycle].update(ftv_force=bit_of(counter, "count", 0) | bit_of(counter,
                                                                                 "shift", 2),
                               ftv_value=bit_of(counter, "shift", 2))

        def stuck(ctx, registers, at):
            if 50 <= at < 120:
                ctx.set(registers["count"], ctx.get(registers["count"]) & ~1)
                ctx.set(registers["shift"], ctx.get(registers["shift"]) | 4)
        netlist = run_netlist(counter, rows)
        assert_matches(counter, netlist, run_counter_model(rows, stuck))
        held = [row["count"] & 1 for row in netlist[51:121]]
        assert held == [0] * 70

    def test_load_and_read_back(self, counter):
        rows = random_rows(120, 4, COUNTER_INPUTS)
        loaded = random.Random(5).getrandbits(counter.state_width)
        ones = (1 << counter.state_width) - 1
        loads = {30: loaded, 60: loaded ^ ones}     # each bit loaded with 0 and with 1
        for cycle, state in loads.items():
            rows[cycle].update(ftv_load=1, ftv_state_in=state,
                               ftv_flip=ones, ftv_force=ones)   # load wins over faults
        sites = {site.name: site for site in counter.sites}

        def load(ctx, registers, at):
            if at in loads:
                for name, signal in registers.items():
                    site = sites[name]
                    ctx.set(signal, (loads[at] >> site.offset) & ((1 << site.width) - 1))
        netlist = run_netlist(counter, rows)
        assert [netlist[cycle + 1]["ftv_state_out"] for cycle in loads] == list(loads.values())
        assert_matches(counter, netlist, run_counter_model(rows, load))

    def test_checker_catches_a_wrong_expectation(self, counter):
        """The comparison can fail: a model that flips a different bit is caught."""
        rows = random_rows(100, 6, COUNTER_INPUTS)
        rows[20]["ftv_flip"] = bit_of(counter, "count", 2)

        def wrong(ctx, registers, at):
            if at == 20:
                ctx.set(registers["count"], ctx.get(registers["count"]) ^ 2)
        with pytest.raises(AssertionError, match="cycle 21"):
            assert_matches(counter, run_netlist(counter, rows), run_counter_model(rows, wrong))


SMALL_INPUTS = {"rst": 1, "en": 1, "we": 1, "waddr": 2, "raddr": 2, "din": 8}


class TestVerilogBehaviour:
    def rows(self, seed):
        rows = random_rows(300, seed, SMALL_INPUTS)
        for row in rows:
            row["rst"] = int(row["rst"] and random.Random(row["din"]).random() < 0.1)
        rows[0].update(ftv_load=1, ftv_state_in=0)     # no undefined start state
        return rows

    def check(self, inst, netlist, model):
        for cycle, (got, (outputs, registers)) in enumerate(zip(netlist, model,
                                                                strict=True)):
            if cycle:
                assert got == {**outputs, "ftv_state_out": state_vector(inst, registers)}, \
                    f"cycle {cycle}"

    def test_no_fault(self, small):
        rows = self.rows(7)
        self.check(small, run_netlist(small, rows), small_model(rows))

    def test_flip_memory_word_and_enable_register(self, small):
        rows = self.rows(8)
        rows[90]["en"] = 0
        rows[90]["ftv_flip"] = bit_of(small, "mem[2]", 5) | bit_of(small, "acc", 7)

        def flip(cycle, registers):
            if cycle == 90:
                registers["mem[2]"] ^= 1 << 5
                registers["acc"] ^= 1 << 7
        self.check(small, run_netlist(small, rows), small_model(rows, flip))


class TestParity:
    """Parity on the memory words of SMALL_V (``parity=["mem*"]``): the netlist raises
    ``ftv_parity_error`` in the cycle after an upset of a protected word, and only then;
    otherwise it behaves as SMALL_V does (checked against the Python model)."""

    @pytest.fixture(scope="class")
    @classmethod
    def guarded(cls, small_file):
        return instrument_verilog([small_file], "small", name="ftv_small_parity",
                                  parity=["mem*"])

    def check(self, inst, netlist, model):
        """Outputs and the original sites' state equal the model's; return the cycles
        with a parity error."""
        original = sum(((1 << site.width) - 1) << site.offset for site in inst.sites
                       if not site.name.endswith(".parity"))
        errors = []
        for cycle, (got, (outputs, registers)) in enumerate(zip(netlist, model,
                                                                strict=True)):
            if cycle:
                assert {port: got[port] for port in outputs} == outputs, f"cycle {cycle}"
                assert got["ftv_state_out"] & original == \
                    state_vector(inst, registers), f"cycle {cycle}"
                if got["ftv_parity_error"]:
                    errors.append(cycle)
        return errors

    def test_sites(self, guarded, small):
        names = [site.name for site in guarded.sites]
        assert [n for n in names if n.endswith(".parity")] == \
            [f"mem[{k}].parity" for k in range(4)]
        assert guarded.state_width == small.state_width + 4
        assert guarded.ports["ftv_parity_error"] == ("o", 1)

    def test_no_fault_no_error(self, guarded):
        rows = TestVerilogBehaviour().rows(7)
        assert self.check(guarded, run_netlist(guarded, rows), small_model(rows)) == []

    @pytest.mark.parametrize("site, bit, error", [
        ("mem[2]", 5, True), ("mem[0]", 0, True), ("mem[3].parity", 0, True),
        ("acc", 7, False),      # not protected
    ])
    def test_flip(self, guarded, site, bit, error):
        rows = TestVerilogBehaviour().rows(8)
        for row in rows[85:95]:
            row["we"] = 0       # the flipped word is not rewritten meanwhile
        rows[90]["ftv_flip"] = bit_of(guarded, site, bit)

        def flip(cycle, registers):
            if cycle == 90 and site in registers:
                registers[site] ^= 1 << bit
        assert self.check(guarded, run_netlist(guarded, rows), small_model(rows, flip)) == \
            ([91] if error else [])

    def test_errors(self, small_file):
        with pytest.raises(ValueError, match=r"^Parity pattern 'regs\*' matches no register "
                                             r"of small$"):
            instrument_verilog([small_file], "small", name="ftv_small_p2", parity=["regs*"])
        with pytest.raises(TypeError, match=r"^Parity must be a non-empty list of site "
                                            r"patterns, not 'mem\*'$"):
            instrument_verilog([small_file], "small", parity="mem*")


class TestWorkloadLane:
    """WorkloadLane keeps its own sites (StateRegisters); the instrumentation of the same
    lane finds the same flip-flops, bit for bit, but for the bits Yosys proves constant
    (those of the bus address registers above the I/O window), which no synthesised lane
    has either."""

    def test_same_sites(self):
        from amaranth.hdl import Value

        from ftvoter.hdl.units.workload import WorkloadLane
        native = {name: len(Value.cast(register)) for name, register in
                  WorkloadLane(seed=1, addr_width=16, io_words=16).site_registers()}
        netlist = instrument_amaranth(WorkloadLane(seed=1, addr_width=16, io_words=16),
                                      name="ftv_workload")
        # The netlist names registers as Amaranth's hierarchy does: the lane's own
        # control registers at the top, its bus registers as the port names.
        renamed = {}
        for site in netlist.sites:
            name = site.name.replace("bus__", "bus.")
            if "." not in name:
                name = f"ctrl.{name}"
            renamed[name] = site
        assert set(renamed) == set(native)
        for name, site in renamed.items():
            if name in ("bus.awaddr", "bus.araddr"):
                # Word addresses of a 16-word window: bits 2-5 vary, the rest are 0.
                assert (site.lsb, site.width) == (2, 4), name
            else:
                assert (site.lsb, site.width) == (0, native[name]), name


# -- 3. PicoRV32 -----------------------------------------------------------------------

class TestPicoRV32:
    """DESIGN.md §3 measured 1,497 flip-flop bits with the register file and 463 without:
    the counts must be within 10% of those."""

    def test_with_register_file(self):
        inst = instrument_verilog([picorv32_file()], "picorv32_axi", params=PICORV32,
                                  name="ftv_picorv32")
        sites = {site.name: site.width for site in inst.sites}
        assert sites["picorv32_core.reg_pc"] == 32
        assert all(sites[f"picorv32_core.cpuregs[{index}]"] == 32 for index in range(1, 32))
        assert abs(inst.state_width - 1497) <= 150
        assert inst.clock == "clk"
        assert inst.ports["mem_axi_rdata"] == ("i", 32)
        assert inst.ports["resetn"] == ("i", 1)

    def test_without_register_file(self):
        inst = instrument_verilog([picorv32_file()], "picorv32_axi", params=PICORV32,
                                  name="ftv_picorv32_nomem", memories=False)
        names = [site.name for site in inst.sites]
        assert "picorv32_core.reg_pc" in names
        assert not any("cpuregs" in name for name in names)
        assert abs(inst.state_width - 463) <= 46

    def test_lints(self, tmp_path):
        inst = instrument_verilog([picorv32_file()], "picorv32_axi", params=PICORV32,
                                  name="ftv_picorv32")
        (tmp_path / "ftv_picorv32.v").write_text(inst.verilog)
        toolchain.setup_environment()
        result = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint",
                                 "-Wno-style", "ftv_picorv32.v"], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]


# -- the instance and the exporter's registry ------------------------------------------

class Wrapper(wiring.Component):
    en: In(1)
    count: Out(8)
    state: Out(19)

    def __init__(self, inst, **overrides):
        super().__init__()
        self.inst, self.overrides = inst, overrides

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        ports = {"clk": ClockSignal("sync"), "rst": 0, "en": self.en, "din": 0,
                 "count": self.count, "shift": Signal(4), "total": Signal(6),
                 "parity": Signal()}
        ports.update(self.overrides)
        m.submodules.lane = self.inst.instance(ports, state_out=self.state)
        return m


class TestInstance:
    def test_export_appends_the_netlist(self, counter, tmp_path):
        text = verilog.convert(Wrapper(counter), name="wrapper", emit_src=False)
        assert NETLISTS["ftv_counter"] == counter.verilog
        full = append_netlists(text)
        assert full.count("module ftv_counter(") == 1
        assert append_netlists(full) == full
        assert append_netlists("module other(); endmodule\n") == "module other(); endmodule\n"
        (tmp_path / "wrapper.v").write_text(full)
        toolchain.setup_environment()
        result = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint",
                                 "-Wno-style", "--top-module", "wrapper", "wrapper.v"],
                                cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]

    def test_missing_port(self, counter):
        ports = {"clk": Signal(), "rst": 0, "en": 0, "din": 0, "count": Signal(8),
                 "shift": Signal(4), "total": Signal(6)}
        with pytest.raises(ValueError, match=r"^Ports of ftv_counter not connected: parity$"):
            counter.instance(ports)

    def test_unknown_port(self, counter):
        ports = {"clk": Signal(), "rst": 0, "en": 0, "din": 0, "count": Signal(8),
                 "shift": Signal(4), "total": Signal(6), "parity": Signal(), "bogus": 0}
        with pytest.raises(ValueError, match=r"^Module ftv_counter has no port bogus$"):
            counter.instance(ports)

    def test_wrong_width(self, counter):
        ports = {"clk": Signal(), "rst": 0, "en": 0, "din": 0, "count": Signal(4),
                 "shift": Signal(4), "total": Signal(6), "parity": Signal()}
        with pytest.raises(ValueError, match=r"^Port count is 8 bits wide, but the value "
                                             r"given is 4 bits wide$"):
            counter.instance(ports)
        ports["count"] = Signal(8)
        with pytest.raises(ValueError, match=r"^Port ftv_flip is 19 bits wide, but the "
                                             r"value given is 3 bits wide$"):
            counter.instance(ports, flip=Signal(3))
        with pytest.raises(ValueError, match=r"^Port en is 1 bits wide; it cannot take 2$"):
            counter.instance({**ports, "en": 2})
        with pytest.raises(TypeError, match=r"^Output port count must be given an "
                                            r"assignable value, not 0$"):
            counter.instance({**ports, "count": 0})


# -- 4. errors -------------------------------------------------------------------------

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


class TestErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"^No such Verilog source file: "
                                                    r"'.*nope\.v'$"):
            instrument_verilog([tmp_path / "nope.v"], "nope")

    def test_syntax_error(self, tmp_path):
        path = write(tmp_path, "bad.v", "module bad(input clk, output reg q)\n"
                                        "always @(posedge clk) q <= ~q;\nendmodule\n")
        with pytest.raises(ValueError) as error:
            instrument_verilog([path], "bad")
        message = str(error.value)
        assert "\n" not in message
        assert re.match(rf"^Yosys failed on {re.escape(str(path))}: "
                        rf"{re.escape(str(path))}:2: ERROR: syntax error", message)

    def test_unknown_top(self, small_file):
        with pytest.raises(ValueError, match=r"^Yosys failed on .*small\.v: .*nope.*$"):
            instrument_verilog([small_file], "nope")

    def test_unknown_parameter(self, small_file):
        with pytest.raises(ValueError, match=r"^Yosys failed on .*small\.v: .*WIDTH.*$"):
            instrument_verilog([small_file], "small", params={"WIDTH": 3})

    def test_bad_arguments(self, small_file):
        with pytest.raises(TypeError, match=r"^Parameter WIDTH must be an int or a str, "
                                            r"not 1\.5$"):
            instrument_verilog([small_file], "small", params={"WIDTH": 1.5})
        with pytest.raises(TypeError, match=r"^Parameter WIDTH must be an int or a str, "
                                            r"not True$"):
            instrument_verilog([small_file], "small", params={"WIDTH": True})
        with pytest.raises(TypeError, match=r"^Files must be a non-empty list of paths, "
                                            r"not \[\]$"):
            instrument_verilog([], "small")
        with pytest.raises(TypeError, match=r"^Top module must be a string, not 3$"):
            instrument_verilog([small_file], 3)
        with pytest.raises(ValueError, match=r"^Module name must be a Verilog identifier, "
                                             r"not 'a b'$"):
            instrument_verilog([small_file], "small", name="a b")
        with pytest.raises(TypeError, match=r"^Memories must be True or False, not 1$"):
            instrument_verilog([small_file], "small", memories=1)
        with pytest.raises(TypeError, match=r"^Define X must be an int or a str or None, "
                                            r"not \[\]$"):
            instrument_verilog([small_file], "small", defines={"X": []})
        with pytest.raises(TypeError, match=r"^Component must be an Amaranth "
                                            r"wiring.Component, not 3$"):
            instrument_amaranth(3, name="x")

    def test_two_clocks(self, tmp_path):
        path = write(tmp_path, "clocks.v", "module clocks(input a, input b, output reg p, "
                                           "output reg q);\nalways @(posedge a) p <= ~p;\n"
                                           "always @(posedge b) q <= ~q;\nendmodule\n")
        with pytest.raises(ValueError, match=r"^Flip-flops must all be on one clock; "
                                             r"found clock nets a, b$"):
            instrument_verilog([path], "clocks")

    def test_async_reset(self, tmp_path):
        path = write(tmp_path, "areset.v", "module areset(input clk, input rst, "
                                           "output reg q);\nalways @(posedge clk or posedge "
                                           "rst) if (rst) q <= 0; else q <= ~q;\nendmodule\n")
        with pytest.raises(ValueError, match=r"^Cell .* \(driving q\) of areset is a \$adff, which "
                                             r"cannot be instrumented"):
            instrument_verilog([path], "areset")

    def test_amaranth_async_reset(self):
        with pytest.raises(ValueError, match=r"^Cell .* \(driving q\) of ftv_async is a "
                                             r"\$adff, which cannot be instrumented"):
            instrument_amaranth(AsyncReset(), name="ftv_async")

    def test_latch(self, tmp_path):
        path = write(tmp_path, "latch.v", "module latch(input g, input d, output reg q);\n"
                                          "always @* if (g) q = d;\nendmodule\n")
        with pytest.raises(ValueError, match=r"^Cell .* of latch is a \$dlatch"):
            instrument_verilog([path], "latch")

    def test_parameters_and_defines(self, tmp_path):
        path = write(tmp_path, "param.v", "module param #(parameter W = 2, parameter S = "
                                          "\"no\") (input clk, output reg [W-1:0] q);\n"
                                          "always @(posedge clk) q <= q + (S == \"y y\" ? "
                                          "`STEP : 0);\nendmodule\n")
        inst = instrument_verilog([path], "param", params={"W": 5, "S": "y y"},
                                  defines={"STEP": 1})
        assert inst.sites == [Site("q", 0, 5)]
        with pytest.raises(ValueError, match=r"^Design param has no flip-flops to instrument$"):
            instrument_verilog([path], "param", params={"W": 5}, defines={"STEP": 1})


def test_cache_key_covers_the_code():
    """The cache key hashes instrument.py itself (a changed rewrite is never stale)."""
    source = Path(instrument_module.__file__).read_bytes()
    assert source in b"".join(
        (Path(instrument_module.__file__).parent / name).read_bytes()
        for name in ("instrument.py", "instrument_rtlil.py", "instrument_yosys.py"))
