"""The RAM's memory port (dirty bitmap, word read and write) and the block copier."""

import random

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from ftvoter.hdl.mem_copy import GROUP, MemoryCopier
from ftvoter.hdl.units.memory import AXI4LiteMemory, MemoryCopySignature

from axi_sim import read, write


def _with_copy_domain(dut):
    """The RAM and its copy domain, whose clock the simulator runs beside sync's (in
    phase; a clock derived by a comb assignment would tick a delta cycle late)."""
    m = Module()
    m.submodules.dut = dut
    m.domains.copy = ClockDomain("copy", reset_less=True)
    return m


class TestMemoryPort:
    def test_signature(self):
        dut = AXI4LiteMemory(depth=64, copy_domain="copy", block_words=8)
        assert dut.copy.signature.flip() == MemoryCopySignature(abits=6, data_width=32,
                                                                blocks=8)
        assert len(dut.copy.dirty) == 8 and len(dut.copy.raddr) == 6
        assert "copy" not in AXI4LiteMemory(depth=64).signature.members

    @pytest.mark.parametrize("kwargs, message", [
        ({"copy_domain": 1}, r"^Copy domain must be a domain name, on a RAM that is neither "
                             r"flops nor resettable, not 1$"),
        ({"copy_domain": "copy", "flops": True}, r"^Copy domain must be"),
        ({"copy_domain": "copy", "resettable": True}, r"^Copy domain must be"),
        ({"copy_domain": "copy", "block_words": 3}, r"^Block words must be a power of two "
                                                    r"that divides the depth, not 3$"),
        ({"copy_domain": "copy", "block_words": 128}, r"^Block words must be"),
    ])
    def test_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            AXI4LiteMemory(depth=64, **kwargs)

    def test_dirty_read_write(self):
        init = [0x1000 + i for i in range(64)]
        dut = AXI4LiteMemory(depth=64, init=init, copy_domain="copy", block_words=8)
        sim = Simulator(_with_copy_domain(dut))
        sim.add_clock(1e-6)
        sim.add_clock(1e-6, domain="copy")
        seen = {}

        async def bench(ctx):
            copy = dut.copy
            assert ctx.get(copy.dirty) == 0
            # Bus writes set their block's bit (word 9: block 1; word 63: block 7); a write
            # with no byte strobe writes nothing and sets nothing.
            await write(ctx, [dut.bus], 9 * 4, 0xAAAA_0009)
            await write(ctx, [dut.bus], 63 * 4, 0x0000_5500, strb=0b0010)
            await write(ctx, [dut.bus], 20 * 4, 0xFFFF_FFFF, strb=0)
            seen["dirty"] = ctx.get(copy.dirty)
            # The port reads any word in the same cycle, the written ones included.
            for index, want in ((0, 0x1000), (9, 0xAAAA_0009), (63, 0x103F & ~0xFF00 | 0x5500),
                                (20, 0x1014)):
                ctx.set(copy.raddr, index)
                assert ctx.get(copy.rdata) == want, index
            # A port write stores a whole word and sets no dirty bit; the bus reads it.
            ctx.set(copy.waddr, 33)
            ctx.set(copy.wdata, 0xC0DE_0033)
            ctx.set(copy.we, 1)
            await ctx.tick()
            ctx.set(copy.we, 0)
            assert ctx.get(copy.dirty) == seen["dirty"]
            assert await read(ctx, [dut.bus], 33 * 4) == 0xC0DE_0033
            # Clear empties the bitmap; a bus write in the same cycle keeps its bit.
            ctx.set(copy.clear, 1)
            await ctx.tick()
            ctx.set(copy.clear, 0)
            seen["cleared"] = ctx.get(copy.dirty)

        sim.add_testbench(bench)
        sim.run()
        assert seen["dirty"] == (1 << 1) | (1 << 7)
        assert seen["cleared"] == 0


def _copy(blocks, block_words, dirty, source, depth):
    """Run the copier over ``dirty``; return the writes (address, data) and cycles busy."""
    abits = max(1, (depth - 1).bit_length())
    dut = MemoryCopier(abits=abits, data_width=32, blocks=blocks, block_words=block_words)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = {"writes": [], "busy": 0}

    async def bench(ctx):
        ctx.set(dut.blocks, dirty)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(blocks * block_words + blocks + 64):
            if not ctx.get(dut.busy):
                break
            out["busy"] += 1
            ctx.set(dut.src_data, source[ctx.get(dut.src_addr)])
            if ctx.get(dut.we):
                assert ctx.get(dut.waddr) == ctx.get(dut.src_addr)
                out["writes"].append((ctx.get(dut.waddr), ctx.get(dut.wdata)))
            await ctx.tick()
        assert not ctx.get(dut.busy)

    sim.add_testbench(bench)
    sim.run()
    return out


class TestMemoryCopier:
    @pytest.mark.parametrize("blocks, block_words, seed", [
        (256, 16, 1), (256, 16, 2), (40, 4, 3), (16, 1, 4), (3, 8, 5),
    ])
    def test_copies_every_word_of_the_dirty_blocks(self, blocks, block_words, seed):
        rng = random.Random(seed)
        depth = blocks * block_words
        source = [rng.getrandbits(32) for _ in range(depth)]
        dirty = 0
        for _ in range(rng.randrange(1, 9)):
            dirty |= 1 << rng.randrange(blocks)
        out = _copy(blocks, block_words, dirty, source, depth)
        chosen = [b for b in range(blocks) if dirty >> b & 1]
        expected = [(b * block_words + w, source[b * block_words + w])
                    for b in chosen for w in range(block_words)]
        assert out["writes"] == expected
        # Documented bound: a word per cycle, plus the skips.
        groups = -(-blocks // GROUP)
        assert out["busy"] <= len(chosen) * block_words + groups + len(chosen) * GROUP

    def test_nothing_dirty_is_not_busy(self):
        out = _copy(256, 16, 0, [0] * 4096, 4096)
        assert out == {"writes": [], "busy": 0}

    def test_all_dirty(self):
        source = list(range(64))
        out = _copy(16, 4, (1 << 16) - 1, source, 64)
        assert out["writes"] == list(zip(range(64), source, strict=True))
        assert out["busy"] == 64

    @pytest.mark.parametrize("kwargs, error, message", [
        ({"abits": 0, "data_width": 32, "blocks": 4, "block_words": 4}, TypeError,
         r"^Address width must be a positive integer, not 0$"),
        ({"abits": 4, "data_width": 32, "blocks": 4, "block_words": 3}, ValueError,
         r"^Block words must be a power of two"),
        ({"abits": 4, "data_width": 32, "blocks": 8, "block_words": 4}, ValueError,
         r"not 8 x 4 words in 4 bits$"),
    ])
    def test_wrong(self, kwargs, error, message):
        with pytest.raises(error, match=message):
            MemoryCopier(**kwargs)
