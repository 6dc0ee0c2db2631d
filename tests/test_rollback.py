"""Rollback: the checkpoint controller on its own, and DMR lockstep that rolls back."""

import pytest
from amaranth.hdl import Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator
from test_lockstep import SCRATCH, SEED, run

from ftvoter.boards.driver import RegisterDriver
from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.lane_state import elaborate_with_state
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.rollback import Rollback
from ftvoter.hdl.units.memory import AXI4LiteMemory, MemoryUndoSignature
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel

UNDO = MemoryUndoSignature(abits=4, data_width=8)


class TestRollbackControl:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Lane count must be 2 or 3, not 4$"):
            Rollback(lanes=4, state_width=8)
        with pytest.raises(TypeError, match=r"^State width must be a positive integer, "
                                            r"not 0$"):
            Rollback(lanes=2, state_width=0)
        with pytest.raises(TypeError, match=r"^RAM must be a MemoryUndoSignature or None, "
                                            r"not 'x'$"):
            Rollback(lanes=2, state_width=8, ram="x")
        with pytest.raises(TypeError, match=r"^Log depth must be an integer from 1 to 256, "
                                            r"not 0$"):
            Rollback(lanes=2, state_width=8, log_depth=0)
        with pytest.raises(TypeError, match=r"^Rollback must be a bool, not 1$"):
            Lockstep(lambda: WorkloadLane(seed=SEED), rollback=1)
        with pytest.raises(ValueError, match=r"^Delayed lockstep has no voting bridge: "
                                             r"rollback must be left at its default"):
            Lockstep(lambda: WorkloadLane(seed=SEED), offset=1, rollback=True)

    def test_checkpoint_restore_and_undo_log(self):
        # Two lanes whose "state" and RAM writes the test drives. A model: the checkpoint
        # is the last state seen equal in a cycle without a request handshake; the undo
        # log puts back, newest first, the old words of the writes since.
        dut = Rollback(lanes=2, state_width=8, ram=UNDO, log_depth=4)
        seen = {}

        async def bench(ctx):
            ctx.set(dut.online, 0b11)
            ctx.set(dut.state0, 0x11)
            ctx.set(dut.state1, 0x11)
            await ctx.tick()
            assert ctx.get(dut.ok) and ctx.get(dut.equal)
            # Cycle A: equal (checkpoint 0x22) and both lanes write word 3 (old 0x30).
            ctx.set(dut.state0, 0x22)
            ctx.set(dut.state1, 0x22)
            for port in (dut.ram0, dut.ram1):
                ctx.set(port.wr, 1)
                ctx.set(port.wr_addr, 3)
                ctx.set(port.wr_old, 0x30)
                ctx.set(port.wr_data, 0x31)
                ctx.set(port.wr_strb, 1)
            await ctx.tick()
            # Lane 1 diverges: a different state, and a write only lane 1 makes.
            ctx.set(dut.state0, 0x23)
            ctx.set(dut.state1, 0x63)
            ctx.set(dut.ram0.wr, 0)
            ctx.set(dut.ram1.wr_addr, 5)
            ctx.set(dut.ram1.wr_old, 0x50)
            await ctx.tick()
            ctx.set(dut.ram1.wr, 0)
            assert not ctx.get(dut.equal) and ctx.get(dut.ok)
            ctx.set(dut.trigger, 1)
            await ctx.tick()
            ctx.set(dut.trigger, 0)
            writes, cycles = {0: [], 1: []}, 0
            while ctx.get(dut.restoring):
                cycles += 1
                assert ctx.get(dut.load) == 0b11 and ctx.get(dut.state_in) == 0x22
                assert ctx.get(dut.ram0.hold) and ctx.get(dut.ram1.hold)
                for lane, port in enumerate((dut.ram0, dut.ram1)):
                    if ctx.get(port.we):
                        writes[lane].append((ctx.get(port.waddr), ctx.get(port.wdata)))
                await ctx.tick()
            seen.update(writes=writes, cycles=cycles, ok=ctx.get(dut.ok),
                        length=ctx.get(dut.cycles))
            # Equal again, but no transaction has completed since: still no rollback.
            ctx.set(dut.state1, 0x23)
            await ctx.tick()
            seen["ok_before_progress"] = ctx.get(dut.ok)
            ctx.set(dut.complete, 1)
            await ctx.tick()
            ctx.set(dut.complete, 0)
            await ctx.tick()
            seen["ok_after_progress"] = ctx.get(dut.ok)

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()
        # Lane 0 wrote word 3 only; lane 1 word 3, then word 5: put back newest first.
        assert seen["writes"] == {0: [(3, 0x30)], 1: [(5, 0x50), (3, 0x30)]}
        assert seen["cycles"] == 3 and seen["length"] == 3     # longest log + 1
        assert not seen["ok"] and not seen["ok_before_progress"]
        assert seen["ok_after_progress"]

    def test_request_handshake_invalidates(self):
        dut = Rollback(lanes=2, state_width=4)
        seen = []

        async def bench(ctx):
            ctx.set(dut.online, 0b11)
            await ctx.tick()
            ctx.set(dut.accept, 1)
            ctx.set(dut.state1, 1)           # diverged in the cycle of the handshake
            await ctx.tick()
            ctx.set(dut.accept, 0)
            seen.append(ctx.get(dut.ok))
            ctx.set(dut.state1, 0)           # equal again: a new checkpoint
            await ctx.tick()
            seen.append(ctx.get(dut.ok))

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()
        assert seen == [0, 1]


class TestLaneState:
    def test_state_port_reads_and_loads_every_register(self):
        lane = WorkloadLane(seed=SEED)
        fragment, state = elaborate_with_state(lane, None)
        registers = lane.state_registers()
        names = {name for name, _, _ in state.names}
        # Every register the lane's own sites name is in the state vector.
        assert all(any(name.endswith(site.split(".")[-1]) for name in names)
                   for site in registers)
        m = Module()
        m.submodules.lane = fragment
        m.submodules.memory = memory = AXI4LiteMemory(
            addr_width=lane.bus.signature.addr_width, depth=256)
        connect(m, lane.bus, memory.bus)
        sim = Simulator(m)
        sim.add_clock(1e-6)
        seen = {}

        async def bench(ctx):
            for _ in range(50):
                await ctx.tick()
            snapshot = ctx.get(state.state_out)
            for _ in range(30):
                await ctx.tick()
            seen["moved"] = ctx.get(state.state_out) != snapshot
            ctx.set(state.state_in, snapshot)
            ctx.set(state.load, 1)
            await ctx.tick()
            ctx.set(state.load, 0)
            seen["loaded"] = ctx.get(state.state_out) == snapshot

        sim.add_testbench(bench)
        sim.run()
        assert seen == {"moved": True, "loaded": True}


def lane():
    return WorkloadLane(seed=SEED)


class TestLockstepRollback:
    def test_transient_is_rolled_back(self):
        # Scratch RAM has no parity: without rollback lane 1's flip halts DMR
        # (tests/test_lockstep.py). With it, both lanes go back to the last checkpoint
        # and go on: both online, not halted, the I/O trace is the golden model's.
        lockstep = Lockstep(lane, rollback=True)
        log, mismatches, disagree, online, halted = run(
            lockstep, 1200, flip=(300, 1, SCRATCH, 1 << 4))
        assert mismatches and mismatches[0] > 300
        assert online == 0b11 and not halted
        assert len(log) > 150
        assert log == WorkloadModel(seed=SEED).trace(len(log))

    def test_rollback_counted_and_logged(self):
        lockstep = Lockstep(lane, rollback=True)
        regs = lockstep.bridge.registers
        sim = Simulator(LockstepDemo(lockstep, ram_words=256))
        sim.add_clock(1e-6)
        seen = {"events": [], "rollbacks": 0}

        async def bench(ctx):
            for cycle in range(600):
                if cycle == 300:
                    signal = lockstep.units[1].state_registers()[SCRATCH[0]]
                    ctx.set(signal, ctx.get(signal) ^ 16)
                seen["rollbacks"] += ctx.get(lockstep.rollback)
                if ctx.get(regs.event_valid):
                    seen["events"].append((ctx.get(regs.event_kind), ctx.get(regs.event_lane)))
                await ctx.tick()

        sim.add_testbench(bench)
        sim.run()
        assert seen["rollbacks"] == 1
        assert seen["events"] == [(4, 0)]       # one event: ROLLBACK, first online lane 0

    def test_permanent_fault_halts_after_one_rollback(self):
        # A stuck bit diverges again after the rollback, before any I/O completes: the
        # policy (halt) decides.
        lockstep = Lockstep(lane, rollback=True)
        sim = Simulator(LockstepDemo(lockstep, ram_words=256))
        sim.add_clock(1e-6)
        seen = {"rollbacks": 0}

        async def bench(ctx):
            signal = lockstep.units[1].state_registers()[SCRATCH[0]]
            for cycle in range(600):
                if cycle >= 300:
                    ctx.set(signal, ctx.get(signal) | 1 << 4)
                seen["rollbacks"] += ctx.get(lockstep.rollback)
                await ctx.tick()
            seen["halted"] = ctx.get(lockstep.halted)

        sim.add_testbench(bench)
        sim.run()
        assert seen["halted"] and seen["rollbacks"] >= 1


class TestLiveResync:
    @pytest.mark.parametrize("leave", ["REMOVE", pytest.param("FREEZE", marks=pytest.mark.long),
                                       "unplug"])
    def test_lane_rejoins_without_restart(self, leave):
        # Lane 1 leaves (removed, frozen or unplugged), lane 0 goes on alone; INSERT
        # copies lane 0's state into lane 1 while it runs: the trace is the golden
        # model's all along (nothing restarted), both lanes online, no divergence after.
        lockstep = Lockstep(lane, live_resync=True, rollback=True)
        top = LockstepDemo(lockstep, ram_words=256)
        log, seen = [], {}

        async def testbench(ctx):
            regs = RegisterDriver(Mgmt(ctx, top.mgmt))
            for _ in range(300):
                await ctx.tick()
            if leave == "unplug":
                ctx.set(lockstep.present, 0b01)
                await ctx.tick()
            else:
                await regs.lane_command(1, leave)
            await ctx.tick()
            seen["online_out"] = ctx.get(lockstep.online)
            for _ in range(200):
                await ctx.tick()
            if leave == "unplug":
                ctx.set(lockstep.present, 0b11)
            await regs.lane_command(1, "INSERT")
            resets = 0
            for _ in range(40):
                resets += ctx.get(lockstep.bridge.lanes_reset)
                await ctx.tick()
            seen["resets"] = resets
            seen["stop"] = ctx.get(lockstep.resync_stop)
            seen["flops"] = ctx.get(lockstep.resync_flops)
            seen["online_after"] = ctx.get(lockstep.online)
            mismatches = 0
            for _ in range(400):
                mismatches += ctx.get(lockstep.mismatch) + ctx.get(lockstep.rollback)
                await ctx.tick()
            seen["mismatches_after"] = mismatches
            seen["online_end"] = ctx.get(lockstep.online)

        from test_lockstep import Mgmt, monitor
        sim = Simulator(top)
        sim.add_clock(1e-6)
        sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
        sim.add_testbench(testbench)
        sim.run()
        assert seen["online_out"] == 0b01
        assert seen["resets"] == 0
        assert seen["online_after"] == seen["online_end"] == 0b11
        assert seen["mismatches_after"] == 0
        assert 1 <= seen["stop"] <= 8
        assert seen["flops"] == lockstep.state_ports[0].width
        assert len(log) > 100
        assert log == WorkloadModel(seed=SEED).trace(len(log))


class TestSplitMerge:
    # Two moments for the SPLIT command: at 296 cycles it used to come with a request of
    # lane 1 in flight, which the split lane then waited for on the split path for ever.
    @pytest.mark.parametrize("split_at", [296, 300])
    def test_split_runs_alone_then_merges(self, split_at):
        # SPLIT takes lane 1 out of the vote: it runs on its own on the split path (its
        # own RAM there) while lane 0 keeps the golden trace on path 0; MERGE brings it
        # back by a live resync from lane 0; both in lockstep again, nothing restarted.
        from amaranth.lib.wiring import connect as wire
        from test_lockstep import Mgmt, monitor
        lockstep = Lockstep(lane, live_resync=True)
        top = Module()
        top.submodules.demo = demo = LockstepDemo(lockstep, ram_words=256)
        top.submodules.split_ram = split_ram = AXI4LiteMemory(
            addr_width=lockstep.split_bus.signature.addr_width, depth=256)
        wire(top, lockstep.split_bus, split_ram.bus)
        log, alone, seen = [], [], {}

        async def testbench(ctx):
            regs = RegisterDriver(Mgmt(ctx, demo.mgmt))
            for _ in range(split_at):
                await ctx.tick()
            await regs.lane_command(1, "SPLIT")
            # The split waits for a transaction boundary (none accepted meanwhile): a lane
            # split off with a request in flight would wait for its answer for ever.
            for _ in range(20):
                await ctx.tick()
                if ctx.get(lockstep.bridge.split):
                    break
            seen["split"] = (ctx.get(lockstep.online), ctx.get(lockstep.bridge.split))
            for _ in range(200):
                await ctx.tick()
            await regs.lane_command(1, "MERGE")
            for _ in range(40):
                await ctx.tick()
            seen["merged"] = (ctx.get(lockstep.online), ctx.get(lockstep.bridge.split))
            mismatches = 0
            for _ in range(300):
                mismatches += ctx.get(lockstep.mismatch)
                await ctx.tick()
            seen["mismatches"] = mismatches

        sim = Simulator(top)
        sim.add_clock(1e-6)
        sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
        sim.add_testbench(monitor(lockstep.split_bus, alone), background=True)
        sim.add_testbench(testbench)
        sim.run()
        assert seen["split"] == (0b01, 0b10)
        assert seen["merged"] == (0b11, 0b00)
        assert seen["mismatches"] == 0
        assert len(alone) > 20                      # lane 1 ran on its own meanwhile
        assert log == WorkloadModel(seed=SEED).trace(len(log))
        assert len(log) > 100
