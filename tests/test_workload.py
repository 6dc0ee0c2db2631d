import random

import pytest
from amaranth.sim import Simulator

from ftvoter.hdl.units.lfsr import GaloisLFSR
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.regfile import ParityRegisterFile
from ftvoter.hdl.units.scratch import ScratchRAM
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.latency import LaneWithMemory
from ftvoter.sim.models import MemoryModel, WorkloadModel, lfsr_next

from axi_sim import monitor, serve

EXEC = 0


def run_lane(lane, cycles, *, stall=0.0, stall_seed=0, hdl_memory=False, flip=None):
    """Run ``lane`` for ``cycles``; return (transactions, per-cycle (exec, self_error)).

    ``flip`` is ``(op_index, signal, mask)``: XOR ``mask`` into ``signal`` just before the
    lane executes operation ``op_index``.
    """
    log, trace = [], []
    dut = LaneWithMemory(lane) if hdl_memory else lane
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        ops = 0
        for _ in range(cycles):
            executing = ctx.get(lane.fsm_state.as_value()) == EXEC
            if flip is not None and executing and ops == flip[0]:
                ctx.set(flip[1], ctx.get(flip[1]) ^ flip[2])
            trace.append((executing, ctx.get(lane.self_error)))
            ops += executing
            await ctx.tick()

    if hdl_memory:
        sim.add_testbench(monitor(lane.bus, log), background=True)
    else:
        memory = MemoryModel(lane.signature.data_width)
        rng = random.Random(stall_seed)
        sim.add_testbench(serve(lane.bus, memory, log, rng, stall), background=True)
    sim.add_testbench(testbench)
    sim.run()
    return log, trace


class TestGaloisLFSR:
    def test_init_wrong_seed(self):
        with pytest.raises(TypeError, match=r"^Seed must be an integer, not 'a'$"):
            GaloisLFSR("a")
        with pytest.raises(ValueError, match=r"^Seed must be between 1 and 2\*\*32 - 1, not 0$"):
            GaloisLFSR(0)

    def test_sequence(self):
        dut = GaloisLFSR(0xACE1)
        seen = []

        async def testbench(ctx):
            ctx.set(dut.en, 1)
            for _ in range(100):
                seen.append(ctx.get(dut.value))
                await ctx.tick()

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(testbench)
        sim.run()
        state, expected = 0xACE1, []
        for _ in range(100):
            expected.append(state)
            state = lfsr_next(state)
        assert seen == expected


class TestParts:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Register count must be a power of two from 2 "
                                            r"to 16, not 3$"):
            ParityRegisterFile(count=3)
        with pytest.raises(TypeError, match=r"^Parity input must be a bool, not 1$"):
            ParityRegisterFile(parity_input=1)
        with pytest.raises(TypeError, match=r"^Scratch depth must be a power of two from 2 "
                                            r"to 64, not 128$"):
            ScratchRAM(depth=128)
        with pytest.raises(TypeError, match=r"^Depth must be a positive integer, not 0$"):
            AXI4LiteMemory(depth=0)


class TestWorkloadLane:
    def test_init(self):
        lane = WorkloadLane(seed=3, regs=4, scratch_words=16, io_base=0x400, io_words=64)
        assert (lane.seed, lane.regs, lane.scratch_words) == (3, 4, 16)
        assert (lane.io_base, lane.io_words) == (0x400, 64)
        sites = lane.state_registers()
        assert list(sites)[:5] == ["regfile.r0", "regfile.r1", "regfile.r2", "regfile.r3",
                                   "regfile.parity"]
        assert "scratch.m15" in sites and "lfsr.state" in sites and "bus.wdata" in sites
        assert sites["bus.awaddr"] is lane.bus.awaddr

    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^I/O window size must be a power of two, not 3$"):
            WorkloadLane(io_words=3)
        with pytest.raises(ValueError, match=r"^I/O base must be aligned to the window size "
                                             r"0x400, not 0x10$"):
            WorkloadLane(io_base=0x10)
        with pytest.raises(ValueError, match=r"^I/O window must fit in the 8-bit address "
                                             r"space, not end at 0x400$"):
            WorkloadLane(addr_width=8)
        with pytest.raises(ValueError, match=r"^Seed must be between 1 and 2\*\*32 - 1, "
                                             r"not 0$"):
            WorkloadLane(seed=0)

    @pytest.mark.parametrize("stall", [0.0, 0.3, 0.7])
    def test_trace_matches_model(self, stall):
        # Whatever the bus timing, the transactions equal the golden model's.
        lane = WorkloadLane(seed=0x1234, io_words=16)
        log, _ = run_lane(lane, 1500, stall=stall, stall_seed=int(stall * 10))
        assert len(log) >= 40
        model = WorkloadModel(seed=0x1234, io_words=16)
        assert log == model.trace(len(log))
        assert any(getattr(t, "data", 0) for t in log)
        assert any(type(t).__name__ == "Read" and t.data for t in log)

    def test_trace_matches_model_hdl_memory_64bit(self):
        lane = WorkloadLane(seed=99, data_width=64, regs=16, scratch_words=4, io_base=0x800,
                            io_words=32)
        log, _ = run_lane(lane, 1500, hdl_memory=True)
        assert len(log) >= 40
        model = WorkloadModel(seed=99, data_width=64, regs=16, scratch_words=4,
                              io_base=0x800, io_words=32)
        assert log == model.trace(len(log))

    @pytest.mark.parametrize("width,regs", [(32, 4), (64, 16)])
    def test_written_parity_is_parity_of_data(self, width, regs):
        # The lane gives the register file the parity of each result from its operands'
        # parities; at every write it must equal the parity of the data written, for every
        # kind of result (ALU functions, load, LI, IRQ with the line toggling, read data).
        lane = WorkloadLane(seed=0xC0FFEE, data_width=width, regs=regs, scratch_words=4,
                            io_words=16)
        regfile = lane._regfile
        dut = LaneWithMemory(lane)
        kinds, wrong = set(), []
        rng = random.Random(7)

        async def testbench(ctx):
            for cycle in range(3000):
                ctx.set(lane.irq, rng.getrandbits(1))
                if ctx.get(regfile.we):
                    data, parity = ctx.get(regfile.wdata), ctx.get(regfile.wparity)
                    if parity != bin(data).count("1") % 2:
                        wrong.append((cycle, hex(data), parity))
                    state = ctx.get(lane.fsm_state.as_value())
                    op = ctx.get(lane._lfsr.value) & 7
                    fn = ctx.get(lane._lfsr.value) >> 15 & 3
                    kinds.add(("read",) if state != EXEC else (op, fn) if op < 2 else (op,))
                assert not ctx.get(lane.self_error), f"parity error at cycle {cycle}"
                await ctx.tick()

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(testbench)
        sim.run()
        assert wrong == []
        alu = {(op, fn) for op in (0, 1) for fn in range(4)}
        assert alu | {(2,), (6,), (7,), ("read",)} <= kinds, sorted(kinds, key=str)

    def test_seed_changes_trace(self):
        first, _ = run_lane(WorkloadLane(seed=5), 400, hdl_memory=True)
        second, _ = run_lane(WorkloadLane(seed=6), 400, hdl_memory=True)
        again, _ = run_lane(WorkloadLane(seed=5), 400, hdl_memory=True)
        assert first == again
        assert first != second

    @staticmethod
    def _predict(seed, flip_op, register):
        """Return the index of the first operation after ``flip_op`` that reads
        ``register`` (parity error), or None if it is overwritten first."""
        model = WorkloadModel(seed=seed)
        for _ in range(flip_op):
            model.step()
        for op_index in range(flip_op, flip_op + 500):
            s = model.state
            if register in ((s >> 7) & 7, (s >> 11) & 7):
                return op_index
            if (s & 7) not in (3, 4) and (s >> 3) & 7 == register:
                return None
            model.step()
        raise AssertionError("no read or write of the register in 500 operations")

    @pytest.mark.parametrize("register", range(8))
    @pytest.mark.parametrize("where", ["data", "parity"])
    def test_parity_detection(self, register, where):
        # Flip bit 5 of a register (or its parity bit) before operation 60: self_error
        # rises in the cycle after the first operation that reads it, and never if the
        # register is overwritten first.
        seed, flip_op = 0xBEEF, 60
        predicted = self._predict(seed, flip_op, register)
        lane = WorkloadLane(seed=seed)
        sites = lane.state_registers()
        if where == "data":
            flip = (flip_op, sites[f"regfile.r{register}"], 1 << 5)
        else:
            flip = (flip_op, sites["regfile.parity"], 1 << register)
        _, trace = run_lane(lane, 2000, hdl_memory=True, flip=flip)
        raised = [cycle for cycle, (_, error) in enumerate(trace) if error]
        if predicted is None:
            assert raised == []
        else:
            assert raised, "parity error not detected"
            assert raised[-1] == len(trace) - 1     # sticky
            executed = sum(executing for executing, _ in trace[:raised[0] - 1])
            assert trace[raised[0] - 1][0] and executed == predicted

    def test_parity_prediction_covers_both_cases(self):
        predictions = [self._predict(0xBEEF, 60, register) for register in range(8)]
        assert any(p is None for p in predictions)
        assert any(p is not None for p in predictions)
