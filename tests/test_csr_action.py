"""The access policies, one class each (R, W, RW, RW1C, RW1S): construction, rejected
arguments, and behaviour in amaranth.sim, driven through the field port as a bank would."""

import pytest
from amaranth.sim import Simulator

from ftvoter.hdl.csr import Access, CSRBank, Field, Register, RegisterMap
from ftvoter.hdl.csr_action import RW, RW1C, RW1S, FieldPortSignature, R, W


def simulate(dut, body, *, clock=True):
    sim = Simulator(dut)
    if clock:                   # R and W store nothing: they have no clock domain
        sim.add_clock(1e-6)
    sim.add_testbench(body)
    sim.run()


async def write(ctx, dut, data, mask=None):
    """Write ``data`` under ``mask`` (all bits by default) in one cycle."""
    ctx.set(dut.port.w_stb, 1)
    ctx.set(dut.port.w_data, data)
    ctx.set(dut.port.w_mask, (1 << dut.width) - 1 if mask is None else mask)
    await ctx.tick()
    ctx.set(dut.port.w_stb, 0)


class TestFieldPortSignature:
    def test_init(self):
        sig = FieldPortSignature(4)
        assert sig.width == 4
        assert sig == FieldPortSignature(4) and sig != FieldPortSignature(5)
        assert repr(sig) == "FieldPortSignature(4)"
        assert set(sig.members) == {"r_data", "r_stb", "w_stb", "w_data", "w_mask"}

    @pytest.mark.parametrize("width", [0, -1, True, 1.5])
    def test_init_wrong_width(self, width):
        with pytest.raises(TypeError,
                           match=rf"^Field width must be a positive integer, not {width!r}$"):
            FieldPortSignature(width)


@pytest.mark.parametrize("cls", [R, W, RW, RW1C, RW1S])
def test_init_wrong_width(cls):
    with pytest.raises(TypeError, match=r"^Field width must be a positive integer, not 0$"):
        cls(0)


@pytest.mark.parametrize("cls", [RW, RW1C, RW1S])
def test_init_wrong_init(cls):
    with pytest.raises(ValueError, match=r"^Field init must fit in 4 bits, not 16$"):
        cls(4, init=16)
    with pytest.raises(ValueError, match=r"^Field init must fit in 4 bits, not -1$"):
        cls(4, init=-1)
    with pytest.raises(TypeError, match=r"^Field init must be an integer, not '1'$"):
        cls(4, init="1")


class TestR:
    def test_init(self):
        dut = R(8)
        assert dut.width == 8
        assert set(dut.signature.members) == {"port", "r_data", "r_stb"}

    def test_sim(self):
        dut = R(8)
        seen = {}

        async def body(ctx):
            ctx.set(dut.r_data, 0xA5)
            seen["read"] = ctx.get(dut.port.r_data)          # combinational
            ctx.set(dut.port.r_stb, 1)
            seen["r_stb"] = ctx.get(dut.r_stb)
            ctx.set(dut.port.r_stb, 0)
            ctx.set(dut.port.w_stb, 1)                        # ignored: nothing is stored
            ctx.set(dut.port.w_mask, 0xFF)
            await ctx.delay(1e-6)
            ctx.set(dut.port.w_stb, 0)
            seen["after_write"] = ctx.get(dut.port.r_data)
            ctx.set(dut.r_data, 0x3C)
            seen["live"] = ctx.get(dut.port.r_data)

        simulate(dut, body, clock=False)
        assert seen == {"read": 0xA5, "r_stb": 1, "after_write": 0xA5, "live": 0x3C}


class TestW:
    def test_init(self):
        assert set(W(4).signature.members) == {"port", "w_data", "w_stb"}

    def test_sim(self):
        dut = W(4)
        seen = {}

        async def body(ctx):
            ctx.set(dut.port.w_stb, 1)
            ctx.set(dut.port.w_data, 0b1010)
            ctx.set(dut.port.w_mask, 0b1111)
            seen["strobe"] = (ctx.get(dut.w_stb), ctx.get(dut.w_data), ctx.get(dut.port.r_data))
            ctx.set(dut.port.w_mask, 0)                      # no byte of the field written
            seen["masked"] = ctx.get(dut.w_stb)
            await ctx.delay(1e-6)
            ctx.set(dut.port.w_stb, 0)
            seen["after"] = ctx.get(dut.w_stb)

        simulate(dut, body, clock=False)
        assert seen == {"strobe": (1, 0b1010, 0), "masked": 0, "after": 0}


class TestRW:
    def test_init(self):
        dut = RW(8, init=0x5A)
        assert dut.init == 0x5A and dut.data.init == 0x5A
        assert set(dut.signature.members) == {"port", "data"}

    def test_sim(self):
        dut = RW(16, init=0x1234)
        seen = {}

        async def body(ctx):
            seen["reset"] = ctx.get(dut.port.r_data)
            ctx.set(dut.port.w_stb, 1)
            ctx.set(dut.port.w_data, 0xABCD)
            ctx.set(dut.port.w_mask, 0x00FF)                 # the low byte only
            seen["same_cycle"] = ctx.get(dut.data)           # takes effect at the edge
            await ctx.tick()
            ctx.set(dut.port.w_stb, 0)
            seen["written"] = ctx.get(dut.data)
            await ctx.tick()
            seen["held"] = ctx.get(dut.port.r_data)

        simulate(dut, body)
        assert seen == {"reset": 0x1234, "same_cycle": 0x1234, "written": 0x12CD,
                        "held": 0x12CD}


class TestRW1C:
    def test_init(self):
        dut = RW1C(4, init=0b0001)
        assert dut.data.init == 1
        assert set(dut.signature.members) == {"port", "data", "set"}

    def test_sim(self):
        dut = RW1C(4)
        seen = {}

        async def body(ctx):
            ctx.set(dut.set, 0b0110)
            await ctx.tick()
            ctx.set(dut.set, 0)
            await ctx.tick()
            seen["set"] = ctx.get(dut.port.r_data)           # sticky: still set
            await write(ctx, dut, 0b0010, mask=0)            # not under the strobes
            seen["masked"] = ctx.get(dut.data)
            await write(ctx, dut, 0b1010)                    # 1 clears, 0 leaves
            seen["cleared"] = ctx.get(dut.data)

        simulate(dut, body)
        assert seen == {"set": 0b0110, "masked": 0b0110, "cleared": 0b0100}

    def test_hardware_set_wins_over_software_clear(self):
        # In one cycle the hardware sets bits 0 and 2 while software writes 1 to bits 1
        # and 2: bit 1 is cleared, bit 2 stays set (the set wins, no error is lost), bit 0
        # is set. One cycle later a clear of bit 2 alone clears it.
        dut = RW1C(4, init=0b0110)
        seen = {}

        async def body(ctx):
            ctx.set(dut.set, 0b0101)
            await write(ctx, dut, 0b0110)
            ctx.set(dut.set, 0)
            seen["race"] = ctx.get(dut.data)
            await write(ctx, dut, 0b0100)
            seen["after"] = ctx.get(dut.data)

        simulate(dut, body)
        assert seen == {"race": 0b0101, "after": 0b0001}


class TestRW1S:
    def test_init(self):
        dut = RW1S(4, init=0b1000)
        assert dut.data.init == 0b1000
        assert set(dut.signature.members) == {"port", "data", "clear"}

    def test_sim(self):
        dut = RW1S(4)
        seen = {}

        async def body(ctx):
            await write(ctx, dut, 0b0011)
            seen["set"] = ctx.get(dut.port.r_data)
            await write(ctx, dut, 0b0000)                    # 0 leaves
            seen["zeros"] = ctx.get(dut.data)
            ctx.set(dut.clear, 0b0001)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            seen["cleared"] = ctx.get(dut.data)

        simulate(dut, body)
        assert seen == {"set": 0b0011, "zeros": 0b0011, "cleared": 0b0010}

    def test_software_set_wins_over_hardware_clear(self):
        # The hardware clears bits 1 and 3 in the cycle software sets bit 3: bit 1 is
        # cleared, bit 3 stays set (the set wins, no request is lost).
        dut = RW1S(4, init=0b0010)
        seen = {}

        async def body(ctx):
            ctx.set(dut.clear, 0b1010)
            await write(ctx, dut, 0b1000)
            ctx.set(dut.clear, 0)
            seen["race"] = ctx.get(dut.data)

        simulate(dut, body)
        assert seen == {"race": 0b1000}


def test_bank_rw1s():
    # A bank field of policy RW1S: set by writing 1, cleared by the hardware's port.
    regmap = RegisterMap("t", [Register("REQ", 0x0, [Field("BITS", 0, 8, Access.RW1S)])],
                         size=4)
    bank = CSRBank(regmap)
    assert Access.RW1S.action is RW1S
    seen = {}

    async def body(ctx):
        ctx.set(bank.access.en, 1)
        ctx.set(bank.access.write, 1)
        ctx.set(bank.access.wdata, 0b101)
        ctx.set(bank.access.wstrb, 0xF)
        await ctx.tick()
        ctx.set(bank.access.write, 0)
        seen["set"] = (ctx.get(bank.port("REQ", "BITS")), ctx.get(bank.access.rdata))
        ctx.set(bank.port("REQ", "BITS", "_clear"), 0b001)
        await ctx.tick()
        seen["cleared"] = ctx.get(bank.access.rdata)

    simulate(bank, body)
    assert seen == {"set": (0b101, 0b101), "cleared": 0b100}
