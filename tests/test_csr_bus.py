"""AXI4LiteCSRBridge, the one AXI4-Lite target of the register banks: construction, its
arbitration (busy, then a write, then a read; one access per cycle) and its responses."""

import pytest
from amaranth.hdl import Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from ftvoter.hdl.csr import Access, CSRAccessSignature, CSRBank, Field, Register, RegisterMap
from ftvoter.hdl.csr_bus import AXI4LiteCSRBridge
from ftvoter.hdl.signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR, AXI4LiteSignature

MAP = RegisterMap("t", [
    Register("A", 0x0, [Field("VALUE", 0, 32, Access.RW)]),
    Register("B", 0x4, [Field("VALUE", 0, 32, Access.RW, reset=0xB0B0)]),
], size=8)


def bench():
    """A bridge in front of a bank of :data:`MAP`."""
    m = Module()
    m.submodules.bridge = bridge = AXI4LiteCSRBridge(3)
    m.submodules.bank = bank = CSRBank(MAP)
    connect(m, bridge.csr, bank.access)
    return m, bridge


def simulate(m, body):
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(body)
    sim.run()


def offer_write(ctx, bus, addr, data):
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)


def offer_read(ctx, bus, addr):
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)


class TestCSRAccessSignature:
    def test_init(self):
        sig = CSRAccessSignature(5)
        assert sig.addr_width == 5
        assert sig == CSRAccessSignature(5) and sig != CSRAccessSignature(8)
        assert repr(sig) == "CSRAccessSignature(5)"

    def test_init_wrong(self):
        with pytest.raises(TypeError,
                           match=r"^Address width must be a positive integer, not 0$"):
            CSRAccessSignature(0)


class TestAXI4LiteCSRBridge:
    def test_init(self):
        bridge = AXI4LiteCSRBridge(5)
        assert bridge.addr_width == 5
        members = bridge.signature.members
        assert members["bus"].signature == AXI4LiteSignature(addr_width=5, data_width=32).flip()
        assert members["csr"].signature == CSRAccessSignature(5)

    @pytest.mark.parametrize("width", [0, "8"])
    def test_init_wrong(self, width):
        with pytest.raises(TypeError,
                           match=rf"^Address width must be a positive integer, not {width!r}$"):
            AXI4LiteCSRBridge(width)

    def test_write_then_read(self):
        # A write is taken in the cycle AW and W are both offered (ready in that cycle, B
        # from the next); a read likewise, with the data read in the cycle it was taken.
        m, bridge = bench()
        bus = bridge.bus
        seen = {}

        async def body(ctx):
            ctx.set(bus.bready, 1)
            ctx.set(bus.rready, 1)
            offer_write(ctx, bus, 0x0, 0xCAFE)
            seen["ready"] = (ctx.get(bus.awready), ctx.get(bus.wready), ctx.get(bridge.csr.en))
            await ctx.tick()
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            seen["b"] = (ctx.get(bus.bvalid), ctx.get(bus.bresp))
            offer_read(ctx, bus, 0x0)
            seen["arready"] = ctx.get(bus.arready)
            await ctx.tick()
            ctx.set(bus.arvalid, 0)
            seen["r"] = (ctx.get(bus.rvalid), ctx.get(bus.rdata), ctx.get(bus.rresp),
                         ctx.get(bus.bvalid))
            await ctx.tick()
            seen["idle"] = (ctx.get(bus.rvalid), ctx.get(bridge.csr.en))

        simulate(m, body)
        assert seen == {"ready": (1, 1, 1), "b": (1, AXI4_RESP_OKAY), "arready": 1,
                        "r": (1, 0xCAFE, AXI4_RESP_OKAY, 0), "idle": (0, 0)}

    def test_write_waits_for_both_beats(self):
        m, bridge = bench()
        bus = bridge.bus
        seen = {}

        async def body(ctx):
            ctx.set(bus.awaddr, 0x0)
            ctx.set(bus.awvalid, 1)                     # AW alone: not taken
            seen["aw_alone"] = (ctx.get(bus.awready), ctx.get(bridge.csr.en))
            await ctx.tick()
            ctx.set(bus.wvalid, 1)
            seen["both"] = ctx.get(bus.awready)

        simulate(m, body)
        assert seen == {"aw_alone": (0, 0), "both": 1}

    def test_write_before_read(self):
        # AW, W and AR offered together: the write goes first, the read a cycle later,
        # and it returns the value just written.
        m, bridge = bench()
        bus = bridge.bus
        seen = {}

        async def body(ctx):
            ctx.set(bus.bready, 1)
            ctx.set(bus.rready, 1)
            offer_write(ctx, bus, 0x4, 0x1234)
            offer_read(ctx, bus, 0x4)
            seen["first"] = (ctx.get(bus.awready), ctx.get(bus.arready))
            await ctx.tick()
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            seen["second"] = (ctx.get(bus.awready), ctx.get(bus.arready))
            await ctx.tick()
            ctx.set(bus.arvalid, 0)
            seen["rdata"] = ctx.get(bus.rdata)

        simulate(m, body)
        assert seen == {"first": (1, 0), "second": (0, 1), "rdata": 0x1234}

    def test_busy_holds_off_accesses(self):
        # While busy (another initiator has the CSR port) nothing is taken; the waiting
        # write is taken in the first cycle without busy.
        m, bridge = bench()
        bus = bridge.bus
        seen = {"ready": []}

        async def body(ctx):
            ctx.set(bridge.busy, 1)
            offer_write(ctx, bus, 0x0, 7)
            offer_read(ctx, bus, 0x4)
            for cycle in range(3):
                if cycle == 2:
                    ctx.set(bridge.busy, 0)
                seen["ready"].append((ctx.get(bus.awready), ctx.get(bus.arready),
                                      ctx.get(bridge.csr.en)))
                await ctx.tick()

        simulate(m, body)
        assert seen["ready"] == [(0, 0, 0), (0, 0, 0), (1, 0, 1)]

    def test_error_answers_slverr(self):
        m, bridge = bench()
        bus = bridge.bus
        seen = {}

        async def body(ctx):
            ctx.set(bridge.error, 1)
            offer_write(ctx, bus, 0x0, 1)
            await ctx.tick()
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            offer_read(ctx, bus, 0x4)
            seen["bresp"] = ctx.get(bus.bresp)
            await ctx.tick()
            ctx.set(bus.arvalid, 0)
            seen["rresp"] = ctx.get(bus.rresp)

        simulate(m, body)
        assert seen == {"bresp": AXI4_RESP_SLVERR, "rresp": AXI4_RESP_SLVERR}

    def test_a_write_every_other_cycle(self):
        # With AW and W always offered and B always accepted, writes are taken every other
        # cycle: the cycle after a write has its B pending.
        m, bridge = bench()
        bus = bridge.bus
        taken = []

        async def body(ctx):
            ctx.set(bus.bready, 1)
            offer_write(ctx, bus, 0x0, 1)
            for _ in range(6):
                taken.append(ctx.get(bus.awready))
                await ctx.tick()

        simulate(m, body)
        assert taken == [1, 0, 1, 0, 1, 0]
