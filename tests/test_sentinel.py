"""The Wishbone-to-AXI4-Lite adapter and Sentinel as a CPU lane, in amaranth.sim.

The adapter is driven from a Wishbone testbench and answered by ``axi_sim.serve``. Sentinel
runs in a ``CpuLane`` whose I/O bus is answered by programs/README.md's I/O map, and must
leave the lane what the ISS predicts for the same program. About 35-65 s in all, most of it
transactions.c (2,321 instructions, ~53,600 cycles at 1,500-2,100 cycles/s).
"""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ftvoter.hdl.signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR, AXI4LiteSignature
from ftvoter.hdl.units.cpu import CpuLane
from ftvoter.hdl.units.sentinel import SentinelCore
from ftvoter.hdl.units.wb2axil import WishboneSignature, WishboneToAXI4Lite
from ftvoter.sim import iss, programs
from ftvoter.sim.models import MemoryModel, Read, Write

from axi_sim import serve

# Sentinel assembles its microcode with m5meta, which uses pyparsing's old names.
pytestmark = pytest.mark.filterwarnings(
    "ignore::pyparsing.warnings.PyparsingDeprecationWarning")

# --- the adapter alone ----------------------------------------------------------------------

def drive(ctx, interface, **values):
    for name, value in values.items():
        ctx.set(getattr(interface, name), value)


def simulate(dut, main, *background):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for testbench in background:
        sim.add_testbench(testbench, background=True)
    sim.add_testbench(main)
    sim.run()


async def wb_cycle(ctx, wb, adr, *, we=0, dat_w=0, sel=0xF, limit=100):
    """Run one Wishbone classic cycle; return ``(dat_r, err)`` sampled with the termination."""
    drive(ctx, wb, adr=adr, we=we, dat_w=dat_w, sel=sel, cyc=1, stb=1)
    err_port = wb.err if "err" in wb.signature.members else wb.ack & 0
    for _ in range(limit):
        _, _, ack, err, dat_r = await ctx.tick().sample(wb.ack, err_port, wb.dat_r)
        if ack or err:
            drive(ctx, wb, cyc=0, stb=0)
            return dat_r, err
    raise AssertionError(f"no termination of the cycle at 0x{adr:08x}")


def check_axi_rules(bus, errors):
    """Background testbench: a valid stays high, with the same payload, until its ready."""
    channels = {"aw": ("awaddr", "awprot"), "w": ("wdata", "wstrb"), "ar": ("araddr", "arprot")}
    names = [(c, [f"{c}valid", f"{c}ready", *fields]) for c, fields in channels.items()]
    ports = [getattr(bus, n) for _, fields in names for n in fields]

    async def testbench(ctx):
        held = {}
        async for _, _, *values in ctx.tick().sample(*ports):
            now = {}
            for channel, fields in names:
                valid, ready, *payload = values[:len(fields)]
                values = values[len(fields):]
                if channel in held and (not valid or payload != held[channel]):
                    errors.append(f"{channel} changed before its handshake")
                if valid and not ready:
                    now[channel] = payload
            held = now
    return testbench


class TestWishboneSignature:
    def test_init(self):
        sig = WishboneSignature(addr_width=30)
        assert (sig.addr_width, sig.data_width, sig.granularity, sig.features) == \
            (30, 32, 8, frozenset())
        assert set(sig.members) == {"adr", "dat_w", "dat_r", "sel", "cyc", "stb", "we", "ack"}
        assert sig == WishboneSignature(addr_width=30, data_width=32, granularity=8)
        assert sig != WishboneSignature(addr_width=30, features=("err",))
        assert repr(WishboneSignature(addr_width=4, granularity=32, features=["err"])) == \
            "WishboneSignature(addr_width=4, data_width=32, granularity=32, features=('err',))"
        assert WishboneSignature(addr_width=4, granularity=32).members["sel"].shape == 1

    @pytest.mark.parametrize("kwargs, message", [
        ({"addr_width": 0}, r"^Address width must be an integer from 1 to 30, not 0$"),
        ({"addr_width": 31}, r"^Address width must be an integer from 1 to 30, not 31$"),
        ({"addr_width": True}, r"^Address width must be an integer from 1 to 30, not True$"),
        ({"addr_width": 8, "data_width": 64}, r"^Data width must be 32, not 64$"),
        ({"addr_width": 8, "granularity": 16}, r"^Granularity must be 8 or 32, not 16$"),
        ({"addr_width": 8, "features": "err"},
         r"^Features must be an iterable of names from \('err',\), not 'err'$"),
        ({"addr_width": 8, "features": 3},
         r"^Features must be an iterable of names from \('err',\), not 3$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            WishboneSignature(**kwargs)


class TestWishboneToAXI4Lite:
    def test_init(self):
        dut = WishboneToAXI4Lite()
        assert dut.wb.signature == WishboneSignature(addr_width=30).flip()
        assert dut.bus.signature == AXI4LiteSignature(addr_width=32, data_width=32)
        assert "err" in WishboneToAXI4Lite(features=("err",)).wb.signature.members

    @pytest.mark.parametrize("kwargs, message", [
        ({"addr_width": 32}, r"^Address width must be an integer from 1 to 30, not 32$"),
        ({"granularity": 1}, r"^Granularity must be 8 or 32, not 1$"),
        ({"features": ("stall",)},
         r"^Features must be an iterable of names from \('err',\), not \('stall',\)$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            WishboneToAXI4Lite(**kwargs)

    @pytest.mark.parametrize("stall, granularity", [(0.0, 8), (0.6, 8), (0.6, 32)])
    def test_each_cycle_once(self, stall, granularity):
        # Random reads and writes with stalls on every AXI channel: the target sees each
        # Wishbone cycle once, at byte address adr << 2 with wstrb from sel, in order, and
        # each read returns what the target holds; no valid drops or changes early.
        dut = WishboneToAXI4Lite(granularity=granularity)
        rng = random.Random(f"{stall}-{granularity}")
        memory, log, expected, answers, errors = MemoryModel(), [], [], [], []
        shadow = MemoryModel()

        async def initiator(ctx):
            hot = [rng.getrandbits(30) for _ in range(4)]   # words used again and again
            for _ in range(150):
                adr, we = rng.choice([rng.getrandbits(30), *hot]), rng.random() < 0.5
                dat_w, sel = rng.getrandbits(32), rng.randrange(16)
                sel = sel if granularity == 8 else sel & 1
                strb = sel if granularity == 8 else 0xF * sel
                dat_r, err = await wb_cycle(ctx, dut.wb, adr, we=we, dat_w=dat_w, sel=sel)
                assert not err
                if we:
                    shadow.write(adr * 4, dat_w, strb)
                    expected.append(Write(adr * 4, dat_w, strb))
                else:
                    answers.append((dat_r, shadow.read(adr * 4)))
                    expected.append(Read(adr * 4, shadow.read(adr * 4)))
                for _ in range(rng.choice([0, 0, 1, 2])):   # 0: back to back
                    await ctx.tick()
            await ctx.tick().repeat(10)

        simulate(dut, initiator, serve(dut.bus, memory, log, random.Random(3), stall=stall),
                 check_axi_rules(dut.bus, errors))
        assert errors == []
        assert log == expected
        assert answers and all(got == want for got, want in answers)
        assert any(t.addr >= 2**31 for t in log)    # the top address bits get through

    def test_stalled_write_then_read(self):
        # A write and a read with every channel stalled: AW and W wait for their own
        # ready, ack comes in the response's cycle, and not before.
        dut = WishboneToAXI4Lite()
        seen = []

        async def stalled(ctx, n, *low):
            for _ in range(n):
                assert not any(ctx.get(v) for v in (dut.wb.ack, *low))
                await ctx.tick()

        async def target(ctx):
            bus = dut.bus
            await ctx.tick().until(bus.awvalid & bus.wvalid)
            await stalled(ctx, 3)                                 # AW and W stalled
            drive(ctx, bus, awready=1)
            seen.append(ctx.get(bus.awaddr))
            await ctx.tick()
            drive(ctx, bus, awready=0, wready=1)
            assert not ctx.get(bus.awvalid) and ctx.get(bus.wvalid)
            seen.append((ctx.get(bus.wdata), ctx.get(bus.wstrb)))
            await ctx.tick()
            drive(ctx, bus, wready=0)
            await stalled(ctx, 2, bus.wvalid)                     # B late
            drive(ctx, bus, bvalid=1)
            assert ctx.get(bus.bready) and ctx.get(dut.wb.ack)
            await ctx.tick()
            drive(ctx, bus, bvalid=0)
            await ctx.tick().until(bus.arvalid)
            await stalled(ctx, 2)                                 # AR stalled
            drive(ctx, bus, arready=1)
            seen.append(ctx.get(bus.araddr))
            await ctx.tick()
            drive(ctx, bus, arready=0)
            await stalled(ctx, 2, bus.arvalid)                    # R late
            drive(ctx, bus, rdata=0xCAFE_F00D, rvalid=1)
            assert ctx.get(bus.rready) and ctx.get(dut.wb.ack)
            await ctx.tick()
            drive(ctx, bus, rvalid=0)

        async def initiator(ctx):
            await wb_cycle(ctx, dut.wb, 0x0400_0001, we=1, dat_w=0x1234_5678, sel=0b0110)
            await ctx.tick()
            assert await wb_cycle(ctx, dut.wb, 0x3FFF_FFFF) == (0xCAFE_F00D, 0)

        simulate(dut, initiator, target)
        assert seen == [0x1000_0004, (0x1234_5678, 0b0110), 0xFFFF_FFFC]

    @pytest.mark.parametrize("features", [(), ("err",)])
    def test_error_response(self, features):
        # SLVERR ends the cycle with err when the bus has it, else with ack.
        dut = WishboneToAXI4Lite(features=features)
        results = []

        def terminations(ctx):
            return ctx.get(dut.wb.ack), ctx.get(dut.wb.err) if features else 0

        async def target(ctx):
            bus = dut.bus
            drive(ctx, bus, awready=1, wready=1, arready=1)
            for resp in (AXI4_RESP_SLVERR, AXI4_RESP_OKAY):
                await ctx.tick().until(bus.arvalid)
                await ctx.tick()
                drive(ctx, bus, rvalid=1, rresp=resp, rdata=0x55)
                results.append(terminations(ctx))
                await ctx.tick()
                drive(ctx, bus, rvalid=0)
            await ctx.tick().until(bus.awvalid)
            await ctx.tick()
            drive(ctx, bus, bvalid=1, bresp=AXI4_RESP_SLVERR)
            results.append(terminations(ctx))
            await ctx.tick()
            drive(ctx, bus, bvalid=0)

        async def initiator(ctx):
            assert (await wb_cycle(ctx, dut.wb, 1))[0] == 0x55
            await wb_cycle(ctx, dut.wb, 2)
            await wb_cycle(ctx, dut.wb, 3, we=1)

        simulate(dut, initiator, target)
        if features:
            assert results == [(0, 1), (1, 0), (0, 1)]
        else:
            assert results == [(1, 0), (1, 0), (1, 0)]

    def test_abandoned_cycle(self):
        # The initiator drops a read after two cycles; the AXI read still completes once,
        # and its late response does not end the next cycle, which gets its own data.
        dut = WishboneToAXI4Lite()
        memory, log = MemoryModel(words={1: 0x1111, 2: 0x2222}), []

        async def initiator(ctx):
            drive(ctx, dut.wb, adr=1, cyc=1, stb=1)
            await ctx.tick().repeat(2)
            drive(ctx, dut.wb, cyc=0, stb=0)
            await ctx.tick()
            assert await wb_cycle(ctx, dut.wb, 2) == (0x2222, 0)

        simulate(dut, initiator, serve(dut.bus, memory, log, random.Random(5), stall=0.9))
        assert log == [Read(4, 0x1111), Read(8, 0x2222)]


# --- Sentinel as a CPU lane -----------------------------------------------------------------

class IoPath:
    """The I/O path of programs/README.md, as ``serve`` wants it: CONSOLE, EXIT, path memory
    (requests from ``image``, then what was written; unwritten words read 0)."""

    def __init__(self, image=b""):
        self.words = {iss.REQUESTS + 4 * i: w for i, w in enumerate(words_of(image))}
        self.console, self.exit_code = bytearray(), None

    def read(self, addr):
        return self.words.get(addr, 0)

    def write(self, addr, data, strb):
        assert strb == 0xF and addr % 4 == 0, "only aligned words go to I/O"
        self.words[addr] = data
        if addr == iss.CONSOLE:
            self.console.append(data & 0xFF)
        elif addr == iss.EXIT:
            self.exit_code = data - (1 << 32) if data >> 31 else data


def words_of(ram):
    return [int.from_bytes(ram[i:i + 4], "little") for i in range(0, len(ram), 4)]


def run_lane(ram, io=b"", *, stall=0.0, limit=100_000, irq_at=None):
    """Run Sentinel in a CpuLane until the EXIT write's response; return what it did."""
    lane = CpuLane(SentinelCore(), ram_bytes=16384, image=words_of(ram))
    m, cycles, retired = Module(), Signal(32), Signal(32)
    m.submodules.lane = lane
    m.d.sync += cycles.eq(cycles + 1)
    with m.If(lane.core.retired):
        m.d.sync += retired.eq(retired + 1)
    path, log, out, bus = IoPath(io), [], {}, lane.bus

    async def main(ctx):
        if irq_at is not None:
            await ctx.tick().until(cycles == irq_at)
            out["before_irq"] = list(log)
            ctx.set(lane.irq, 1)
        await ctx.tick().until(bus.bvalid & bus.bready & (bus.awaddr == iss.EXIT) |
                               (cycles == limit))
        out.update(cycles=ctx.get(cycles), retired=ctx.get(retired))

    simulate(m, main, serve(bus, path, log, random.Random(11), stall=stall))
    out.update(console=bytes(path.console), exit_code=path.exit_code,
               writes=[(t.addr, t.data) for t in log if isinstance(t, Write)],
               reads=[(t.addr, t.data) for t in log if isinstance(t, Read)])
    return out


# A tiny RV32I assembler (the unprivileged spec's formats), for the hand-written programs.
def _i(imm, rs1, f3, rd, op):
    return (imm & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op


def _s(imm, rs2, rs1, f3):
    return (imm >> 5 & 0x7F) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1F) << 7 | 0x23


def _li(rd, value):
    low = ((value & 0xFFF) ^ 0x800) - 0x800
    return [((value - low) & 0xFFFFF000) | rd << 7 | 0x37, _i(low, rd, 0, rd, 0x13)]


def _csr(f3, csr, rs1, rd=0):   # CSRRW 1, CSRRS 2, CSRRSI 6
    return _i(csr, rs1, f3, rd, 0x73)


def _ram(words):
    ram = bytearray(16384)
    ram[:4 * len(words)] = b"".join(w.to_bytes(4, "little") for w in words)
    return bytes(ram)


T6, RES = 31, 30   # x31: the I/O base, x30: the results area
SPIN = 0x0000_006F  # jal x0, 0


def subword_program():
    """Byte and halfword stores and loads in RAM, every result written to the results area."""
    words = [*_li(T6, iss.IO_BASE), *_li(RES, iss.RESULTS), *_li(1, 0x8081_F0FF),
             *_li(2, 0x200), _s(0, 1, 2, 2), *_li(3, 0xAABB_CCDD),
             _s(1, 3, 2, 0), _s(6, 3, 2, 1), _s(9, 3, 2, 0)]            # sb, sh, sb
    for k, (f3, offset) in enumerate([(0, 0), (4, 1), (0, 3), (1, 2), (5, 6), (1, 6),
                                      (2, 0), (2, 4), (2, 8), (4, 9)]):
        words += [_i(offset, 2, f3, 4, 0x03), _s(4 * k, 4, RES, 2)]     # load, sw result
    words += [_i(iss.REQUESTS - iss.IO_BASE, T6, 2, 5, 0x03),          # lw from the path
              _s(40, 5, RES, 2), _s(4, 0, T6, 2), SPIN]                 # EXIT 0
    return _ram(words)


class TestSentinelCore:
    def test_init(self):
        core = SentinelCore()
        assert core.bus.signature == AXI4LiteSignature(addr_width=32, data_width=32)
        assert set(core.signature.members) == {"bus", "irq", "retired"}
        assert core.adapter.wb.signature == WishboneSignature(addr_width=30).flip()
        # Sentinel's own bus signature (without amaranth-soc) has the same members.
        assert {n: (m.flow, m.shape) for n, m in core.adapter.wb.signature.flip().members.items()} \
            == {n: (m.flow, m.shape) for n, m in core.cpu.bus.signature.members.items()}
        lane = CpuLane(core, ram_bytes=16384)
        assert lane.core is core and len(lane.irq) == 1
        assert isinstance(core.cpu, wiring.Component)

    def test_subword_accesses_match_iss(self):
        ram, io = subword_program(), (0x1357_9BDF).to_bytes(4, "little")
        gold = iss.run(ram, io=io)
        ours = run_lane(ram, io, stall=0.5, limit=5000)
        assert gold.stopped == "exit" and len(gold.io_writes) == 12
        assert (ours["writes"], ours["reads"]) == (gold.io_writes, gold.io_reads)
        assert ours["exit_code"] == gold.exit_code == 0
        assert ours["retired"] == gold.steps - 1   # the EXIT store retires at the next fetch

    @pytest.mark.long     # 53 s in amaranth.sim; the shorter programs above run in make test
    def test_transactions_matches_iss(self):
        elf = programs.build_program(programs.example("transactions"))
        io = programs.encode_requests(programs.example_requests())
        gold = iss.run(elf, io=io)
        ours = run_lane(programs.image(elf, 16384), io, stall=0.3, limit=30 * gold.steps)
        assert ours["console"] == gold.console == \
            b"transactions 12 requests 0 errors digest 3923e96e\n"
        assert ours["exit_code"] == gold.exit_code == 0
        assert (ours["writes"], ours["reads"]) == (gold.io_writes, gold.io_reads)
        assert ours["retired"] == gold.steps - 1
        assert ours["cycles"] < 30 * gold.steps    # about 23 cycles per instruction

    def test_irq_reaches_the_core(self):
        # mtvec = handler, mie.MEIE, mstatus.MIE, then spin: nothing happens until irq
        # rises; the handler writes mcause (machine external interrupt) to EXIT.
        handler = [_csr(2, 0x342, 0, rd=10), _s(4, 10, T6, 2), SPIN]   # a0 = mcause; EXIT
        setup = [*_li(T6, iss.IO_BASE), *_li(5, 4 * 11), _csr(1, 0x305, 5),  # mtvec
                 *_li(5, 0x800), _csr(2, 0x304, 5),                          # mie.MEIE
                 _csr(6, 0x300, 8)]                                          # mstatus.MIE
        words = [*setup, *[SPIN] * (11 - len(setup)), *handler]
        ours = run_lane(_ram(words), irq_at=400, limit=2000)
        assert ours["before_irq"] == []
        assert ours["writes"] == [(iss.EXIT, 0x8000_000B)]
