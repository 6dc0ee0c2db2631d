"""Direct checks of the two rules everything else leans on: sticky bits never lose an
event, and lane states change only as documented."""

from amaranth.sim import Simulator

from ftvoter.hdl.csr import Access, CSRBank, Field, Register, RegisterMap
from ftvoter.hdl.lanes import RESYNC_RESET_CYCLES, LaneManager
from ftvoter.hdl.registers import ERROR_REGISTERS, EVENT_KINDS, LANE_OPS

MAP = RegisterMap("t", [
    Register("CAUSE", 0x0, [Field("BITS", 0, 8, Access.RW1C)]),
    Register("CTRL", 0x4, [Field("LOW", 0, 8, Access.RW), Field("HIGH", 8, 8, Access.RW),
                           Field("GO", 16, 1, Access.WO)]),
    Register("STAT", 0x8, [Field("VALUE", 0, 32, Access.RO)]),
], size=16)


def simulate(dut, body):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(body)
    sim.run()


async def access(ctx, bank, addr, data=None, strb=0xF):
    """One register access; returns the value read (reads) or None (writes)."""
    ctx.set(bank.access.en, 1)
    ctx.set(bank.access.addr, addr)
    ctx.set(bank.access.write, data is not None)
    ctx.set(bank.access.wdata, data or 0)
    ctx.set(bank.access.wstrb, strb)
    value = ctx.get(bank.access.rdata)
    await ctx.tick()
    ctx.set(bank.access.en, 0)
    return None if data is not None else value


class TestCSRBank:
    def test_rw1c_set_wins_over_clear(self):
        bank = CSRBank(MAP)
        seen = {}

        async def body(ctx):
            ctx.set(bank.port("CAUSE", "BITS", "_set"), 0b0110)
            await ctx.tick()
            ctx.set(bank.port("CAUSE", "BITS", "_set"), 0)
            seen["set"] = await access(ctx, bank, 0x0)
            await access(ctx, bank, 0x0, 0b0010)            # clear bit 1 only
            seen["cleared"] = await access(ctx, bank, 0x0)
            # Hardware sets bit 2 again in the very cycle software clears it: it stays set.
            ctx.set(bank.port("CAUSE", "BITS", "_set"), 0b0100)
            await access(ctx, bank, 0x0, 0b0100)
            ctx.set(bank.port("CAUSE", "BITS", "_set"), 0)
            seen["race"] = await access(ctx, bank, 0x0)
            await access(ctx, bank, 0x0, 0b0100)
            seen["after"] = await access(ctx, bank, 0x0)

        simulate(bank, body)
        assert seen == {"set": 0b0110, "cleared": 0b0100, "race": 0b0100, "after": 0}

    def test_rw_strobes_wo_ro(self):
        bank = CSRBank(MAP)
        seen = {}

        async def body(ctx):
            await access(ctx, bank, 0x4, 0x00AABBCC, strb=0b0001)   # byte 0 only
            seen["ctrl"] = await access(ctx, bank, 0x4)
            ctx.set(bank.access.en, 1)
            ctx.set(bank.access.write, 1)
            ctx.set(bank.access.addr, 0x4)
            ctx.set(bank.access.wdata, 1 << 16)
            ctx.set(bank.access.wstrb, 0b0100)
            seen["go"] = (ctx.get(bank.port("CTRL", "GO", "_write")),
                          ctx.get(bank.port("CTRL", "GO")))
            await ctx.tick()
            ctx.set(bank.access.en, 0)
            seen["go_after"] = ctx.get(bank.port("CTRL", "GO", "_write"))
            ctx.set(bank.port("STAT", "VALUE"), 0xDEADBEEF)
            seen["stat"] = await access(ctx, bank, 0x8)
            await access(ctx, bank, 0x8, 0)                         # RO: ignored
            seen["stat_after"] = await access(ctx, bank, 0x8)
            seen["unmapped"] = await access(ctx, bank, 0xC)

        simulate(bank, body)
        assert seen == {"ctrl": 0xCC, "go": (1, 1), "go_after": 0, "stat": 0xDEADBEEF,
                        "stat_after": 0xDEADBEEF, "unmapped": 0}


class TestLaneManager:
    def test_transitions(self):
        dut = LaneManager(3)
        kinds = {v: k for k, v in EVENT_KINDS.items()}
        events, seen = [], {}

        def states(ctx):
            # The lane manager's state is LANE_STATE's value (two bits per lane).
            return list(ERROR_REGISTERS.decode("LANE_STATE", ctx.get(dut.state)).values())

        async def tick(ctx):
            if ctx.get(dut.event_valid):
                events.append((kinds[ctx.get(dut.event_kind)], ctx.get(dut.event_lane)))
            seen.setdefault("rejected", 0)
            seen["rejected"] += ctx.get(dut.rejected)
            await ctx.tick()

        async def command(ctx, lane, op):
            ctx.set(dut.cmd, 1)
            ctx.set(dut.cmd_lane, lane)
            ctx.set(dut.cmd_op, LANE_OPS[op])
            await tick(ctx)
            ctx.set(dut.cmd, 0)
            await tick(ctx)

        async def body(ctx):
            seen["reset"] = states(ctx)
            ctx.set(dut.isolate, 0b010)
            await tick(ctx)
            ctx.set(dut.isolate, 0)
            seen["isolated"] = states(ctx)
            await command(ctx, 0, "REMOVE")
            await command(ctx, 2, "REMOVE")            # the last online lane: refused
            seen["removed"] = states(ctx)
            await command(ctx, 1, "INSERT")
            await command(ctx, 0, "INSERT")            # another lane is syncing: refused
            seen["syncing"] = (states(ctx), ctx.get(dut.syncing))
            for _ in range(5):                         # not safe: no reset yet
                seen.setdefault("early_reset", 0)
                seen["early_reset"] += ctx.get(dut.lanes_reset)
                await tick(ctx)
            ctx.set(dut.safe, 1)
            resets = 0
            for _ in range(RESYNC_RESET_CYCLES + 3):
                resets += ctx.get(dut.lanes_reset)
                await tick(ctx)
            seen["resets"] = resets
            seen["synced"] = states(ctx)
            await command(ctx, 0, "INSERT")
            for _ in range(RESYNC_RESET_CYCLES + 3):
                await tick(ctx)
            seen["final"] = states(ctx)

        simulate(dut, body)
        assert seen["reset"] == ["ONLINE"] * 3
        assert seen["isolated"] == ["ONLINE", "BROKEN", "ONLINE"]
        assert seen["removed"] == ["REMOVED", "BROKEN", "ONLINE"]
        assert seen["syncing"] == (["REMOVED", "SYNCING", "ONLINE"], 1)
        assert seen["early_reset"] == 0
        assert seen["resets"] == RESYNC_RESET_CYCLES
        assert seen["synced"] == ["REMOVED", "ONLINE", "ONLINE"]
        assert seen["final"] == ["ONLINE"] * 3
        assert seen["rejected"] == 2
        assert events == [("BROKEN", 1), ("REMOVED", 0), ("FIXED", 1), ("INSERTED", 0)]
