"""Check bits of a lane RAM, and the rollback that repairs an upset word with them."""

import pytest
from amaranth.hdl import Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.hdl.rollback import Rollback
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.memory_check import check_bits

INIT = [0x0101_0101 * k for k in range(16)]


class ProbedMemory(AXI4LiteMemory):
    """The RAM, with its memories reachable by the test (to upset a stored word)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        self.words, self.checks = m.submodules["mem"], m.submodules["mem_check"]
        return m


def test_check_needs_undo():
    with pytest.raises(TypeError, match=r"^Check must be a bool, on a RAM with undo, "
                                        r"not True$"):
        AXI4LiteMemory(depth=16, check=True)


def test_check_bits_follow_byte_writes_and_catch_an_upset():
    dut = ProbedMemory(depth=16, init=INIT, undo=True, check=True)
    seen = {}

    async def bench(ctx):
        bus, undo = dut.bus, dut.undo
        # A byte write to word 2, and a word write to word 4.
        for addr, data, strb in ((2 * 4, 0x0000_00FE, 0b0001), (4 * 4, 0x0703_0001, 0b1111)):
            ctx.set(bus.awvalid, 1)
            ctx.set(bus.wvalid, 1)
            ctx.set(bus.awaddr, addr)
            ctx.set(bus.wdata, data)
            ctx.set(bus.wstrb, strb)
            ctx.set(bus.bready, 1)
            await ctx.tick()
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            await ctx.tick()
        seen["bad"] = []
        for addr in range(16):
            ctx.set(undo.raddr, addr)
            seen["bad"].append(ctx.get(undo.rbad))
        # An upset of word 9's bit 13 (no write: its check bits stay).
        ctx.set(dut.words.data[9], INIT[9] ^ 1 << 13)
        ctx.set(undo.raddr, 9)
        seen["upset"] = ctx.get(undo.rbad)
        seen["word2"] = ctx.get(dut.words.data[2])
        seen["check2"] = ctx.get(dut.checks.data[2])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["bad"] == [0] * 16
    assert seen["upset"] == 1
    assert seen["word2"] == 0x0202_02FE and seen["check2"] == check_bits(0x0202_02FE)


def test_rollback_repairs_an_upset_word_from_the_other_lane():
    # Two lanes' RAMs under a rollback controller; the test plays the lanes: both read
    # word 3 (lane 1's copy was upset before), both write byte 0 of word 5 (lane 1's was
    # upset in byte 3, which it keeps), then lane 1 diverges. The rollback puts back word 5
    # with its old check bits (lane 1's upset stays visible) and repairs lane 1's word 3
    # with lane 0's copy (its own fails its check bits).
    m = Module()
    rams = [ProbedMemory(depth=16, init=INIT, undo=True, check=True) for _ in range(2)]
    m.submodules.ram0, m.submodules.ram1 = rams
    m.submodules.rb = rb = Rollback(lanes=2, state_width=4, ram=rams[0].undo.signature.flip(),
                                    log_depth=4)
    for i, ram in enumerate(rams):
        connect(m, getattr(rb, f"ram{i}"), ram.undo)
    seen = {}

    async def bench(ctx):
        ctx.set(rb.online, 0b11)
        await ctx.tick()
        ctx.set(rams[1].words.data[3], INIT[3] ^ 1 << 30)
        ctx.set(rams[1].words.data[5], INIT[5] ^ 1 << 28)
        for ram in rams:
            ctx.set(ram.bus.arvalid, 1)
            ctx.set(ram.bus.araddr, 3 * 4)
            ctx.set(ram.bus.rready, 1)
        await ctx.tick()                 # the read: a checkpoint in the same cycle
        for ram in rams:
            ctx.set(ram.bus.arvalid, 0)
            ctx.set(ram.bus.awvalid, 1)
            ctx.set(ram.bus.wvalid, 1)
            ctx.set(ram.bus.awaddr, 5 * 4)
            ctx.set(ram.bus.wdata, 0xAA)
            ctx.set(ram.bus.wstrb, 0b0001)
            ctx.set(ram.bus.bready, 1)
        ctx.set(rb.state1, 1)            # lane 1 diverges (it read another word)
        await ctx.tick()
        for ram in rams:
            ctx.set(ram.bus.awvalid, 0)
            ctx.set(ram.bus.wvalid, 0)
        assert ctx.get(rb.ok) and not ctx.get(rb.equal)
        ctx.set(rb.trigger, 1)
        await ctx.tick()
        ctx.set(rb.trigger, 0)
        cycles = 0
        while ctx.get(rb.restoring):
            cycles += 1
            await ctx.tick()
        seen.update(cycles=cycles, length=ctx.get(rb.cycles), repairs=ctx.get(rb.repairs),
                    words=[[ctx.get(ram.words.data[k]) for k in (3, 5)] for ram in rams],
                    checks=[ctx.get(ram.checks.data[5]) for ram in rams])

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["words"] == [[INIT[3], INIT[5]], [INIT[3], INIT[5] ^ 1 << 28]]
    assert seen["checks"] == [check_bits(INIT[5])] * 2
    assert seen["repairs"] == 1
    # One undo entry per lane, one word read: 2 cycles, and the one that ends it.
    assert seen["cycles"] == seen["length"] == 3
