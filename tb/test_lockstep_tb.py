"""cocotb testbench of the Lockstep top under Verilator.

Two or three WorkloadLanes in lockstep (behind the voting bridge, or delayed) against
cocotbext-axi's ``AxiLiteRam``; the forwarded transactions are checked against the golden
:class:`WorkloadModel`. A bit is flipped in one lane's scratch RAM from cocotb (a deposit,
which Verilator supports; forcing is not), and the detection latency is measured and
reported.
"""

import os
import random

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteRam

from ftvoter.sim.models import Read, WorkloadModel, Write
from ftvoter.sim.toolchain import report, run_testbench

# The lanes' default seed: the builds are those of ftvoter sim (tb/test_tools_tb.py) too.
SEED = 1
RAM_BYTES = 4096


class TB:
    """Clock, reset, the RAM model on the forwarded bus, and a transaction monitor."""

    def __init__(self, dut, flip=None):
        self.dut = dut
        self.lanes = int(os.environ.get("FTVOTER_LANES", "2"))
        self.data_width = len(dut.path0_bus__wdata)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.ram = AxiLiteRam(AxiLiteBus.from_prefix(dut, "path0_bus_"), dut.clk, dut.rst,
                              size=RAM_BYTES)
        self.flip = flip            # (lane, scratch word, bit, before operation n)
        self.flip_cycle = None
        self.transactions = []
        self.writes_done = 0        # B handshakes on the path: writes the RAM has applied
        self.operations = 0
        self.cycle = 0
        self.mismatch_cycles = []
        self.requests = 0           # requests presented by the forwarded bus so far
        self.request_cycle = None   # cycle in which the latest one was first presented
        self.first_mismatch = None  # (requests, request_cycle) at the first mismatch
        self.disagree = set()

    async def reset(self):
        self.dut.irq.value = 0
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        """Sample every cycle at the falling edge, when the values that the next rising
        edge will act on are stable: transactions, operations, mismatches; apply the flip.
        """
        dut = self.dut
        write = {}
        read_addr = None
        requesting = False
        while True:
            await FallingEdge(dut.clk)
            self.cycle += 1
            executing = int(dut.lane0.fsm_state.value) == 0
            if (self.flip is not None and self.flip_cycle is None and executing and
                    self.operations == self.flip[3]):
                lane, word, bit, _ = self.flip
                target = getattr(getattr(dut, f"lane{lane}").scratch, f"m{word}")
                target.value = int(target.value) ^ (1 << bit)
                self.flip_cycle = self.cycle
            self.operations += executing
            # Requests as lane 0 presents them (the bridge forwards only agreed ones).
            valid = bool(dut.lane0.bus__awvalid.value or dut.lane0.bus__arvalid.value)
            if valid and not requesting:
                self.requests += 1
                self.request_cycle = self.cycle
            requesting = valid
            if dut.path0_bus__awvalid.value and dut.path0_bus__awready.value:
                write["addr"] = int(dut.path0_bus__awaddr.value)
            if dut.path0_bus__wvalid.value and dut.path0_bus__wready.value:
                write["data"] = (int(dut.path0_bus__wdata.value), int(dut.path0_bus__wstrb.value))
            if len(write) == 2:
                self.transactions.append(Write(write["addr"], *write["data"]))
                write.clear()
            if dut.path0_bus__bvalid.value and dut.path0_bus__bready.value:
                self.writes_done += 1
            if dut.path0_bus__arvalid.value and dut.path0_bus__arready.value:
                read_addr = int(dut.path0_bus__araddr.value)
            if dut.path0_bus__rvalid.value and dut.path0_bus__rready.value:
                self.transactions.append(Read(read_addr, int(dut.path0_bus__rdata.value)))
            if dut.mismatch.value:
                if not self.mismatch_cycles:
                    self.first_mismatch = (self.requests, self.request_cycle)
                self.mismatch_cycles.append(self.cycle)
                self.disagree.add(int(dut.disagree.value))

    def golden(self, count):
        model = WorkloadModel(seed=SEED, data_width=self.data_width)
        return model.trace(count), model

    def check_trace(self):
        assert self.transactions, "no transaction completed"
        expected, model = self.golden(len(self.transactions))
        for index, (seen, want) in enumerate(zip(self.transactions, expected, strict=True)):
            assert seen == want, f"transaction {index}: {seen} != golden {want}"
        return model


def first_divergence(flip_op, word, bit, data_width, limit=100_000):
    """Index of the first bus request that differs once scratch word ``word`` is flipped
    before operation ``flip_op`` (golden model against faulted model), or None."""
    golden = WorkloadModel(seed=SEED, data_width=data_width)
    # The lanes share one memory through the bus, so the faulty model reads what the
    # golden one wrote. Until the first divergent request its writes are identical to
    # the golden ones (writing them again changes nothing), and we stop there.
    faulty = WorkloadModel(seed=SEED, data_width=data_width, memory=golden.memory)
    index = 0
    for op in range(limit):
        if op == flip_op:
            faulty.scratch[word] ^= 1 << bit
        a, b = golden.step(), faulty.step()
        if a is None:
            continue
        request = (type(a), a.addr, getattr(a, "strb", None),
                   a.data if isinstance(a, Write) else None)
        other = (type(b), b.addr, getattr(b, "strb", None),
                 b.data if isinstance(b, Write) else None)
        if request != other:
            return index
        index += 1
    return None


@cocotb.test()
async def run_test_fault_free(dut):
    """No mismatch over many cycles; the forwarded trace equals the golden model."""
    tb = TB(dut)
    cycles = int(os.environ["FTVOTER_CYCLES"])
    await tb.reset()
    await ClockCycles(dut.clk, cycles)
    assert tb.mismatch_cycles == [], f"false alarm at cycles {tb.mismatch_cycles[:5]}"
    tb.check_trace()
    dut._log.info("%d cycles, %d transactions, no mismatch", cycles, len(tb.transactions))
    report({"cycles": cycles, "transactions": len(tb.transactions), "mismatches": 0})


@cocotb.test()
async def run_test_flip(dut):
    """Flip one bit of a lane's scratch RAM (no parity there): the bridge sees the wrong
    request and contains it: DMR halts (fail-safe), TMR outvotes the lane."""
    flip = tuple(int(os.environ[f"FTVOTER_FLIP_{key}"]) for key in ("LANE", "WORD", "BIT", "OP"))
    lane, word, bit, flip_op = flip
    tb = TB(dut, flip=flip)
    await tb.reset()
    await ClockCycles(dut.clk, 6_000)

    assert tb.flip_cycle is not None, "the flip was never applied"
    assert tb.mismatch_cycles, "the flipped bit was never detected"
    latency = tb.mismatch_cycles[0] - tb.flip_cycle
    dut._log.info("flip lane%d.scratch.m%d[%d] before operation %d (cycle %d): mismatch "
                  "%d cycles later", lane, word, bit, flip_op, tb.flip_cycle, latency)

    # The golden and a faulted model say which bus request is the first to differ: the
    # mismatch must come exactly one cycle after that request is first presented.
    predicted = first_divergence(flip_op, word, bit, tb.data_width)
    assert predicted is not None
    requests, request_cycle = tb.first_mismatch
    assert requests == predicted + 1, (requests, predicted)
    assert tb.mismatch_cycles[0] - request_cycle == 1
    propagation = request_cycle - tb.flip_cycle

    # Nothing wrong reached the path: every forwarded transaction is golden (in DMR the
    # bridge halted at the divergent request; in TMR it went on without lane 1).
    model = tb.check_trace()
    if tb.lanes == 3:
        assert tb.disagree == {1 << lane}
        # The RAM holds exactly what the fault-free run writes, up to the last write it
        # answered (the RAM model applies a write it has taken a little later).
        nbytes = tb.data_width // 8
        writes = [i for i, t in enumerate(tb.transactions) if isinstance(t, Write)]
        pending = {}
        if len(writes) > tb.writes_done:
            assert len(writes) == tb.writes_done + 1      # one write at a time
            _, before = tb.golden(writes[-1])
            word = tb.transactions[writes[-1]].addr // nbytes
            pending[word] = before.memory.words.get(word, 0)
        for index in range(RAM_BYTES // nbytes):
            want = model.memory.words.get(index, 0)
            got = int.from_bytes(tb.ram.read(index * nbytes, nbytes), "little")
            assert got in (want, pending.get(index, want)), \
                f"RAM word {index}: {got:#x} != golden {want:#x}"
    else:
        assert tb.disagree == {0b11}
        assert len(tb.transactions) == predicted, "DMR must halt at the divergent request"
    report({"lane": lane, "word": word, "bit": bit, "flip_op": flip_op,
             "flip_cycle": tb.flip_cycle, "detection_latency": latency,
             "propagation_latency": propagation,
             "first_divergent_transaction": predicted,
             "transactions": len(tb.transactions)})


# --- pytest side -----------------------------------------------------------------------

def _run(tmp_path, params, testcase, env):
    return run_testbench("lockstep", {"seed": SEED, **params}, "test_lockstep_tb", testcase,
                         tmp_path, {"FTVOTER_LANES": params.get("lanes", 2), **env})


@pytest.mark.tb
# Delayed lockstep is built once, with a 64-bit bus, in make test-long (each build is about
# a minute; tests/test_lockstep.py runs the 32-bit delayed configuration in amaranth.sim,
# tb/test_campaign_delayed_tb.py a delayed campaign bench under Verilator).
@pytest.mark.parametrize("lanes, offset, data_width",
                         [(2, 0, 32), (3, 0, 32),
                          pytest.param(2, 2, 64, marks=pytest.mark.long)])
def test_fault_free(tmp_path, lanes, offset, data_width):
    cycles = 20_000
    figures = _run(tmp_path, {"lanes": lanes, "offset": offset, "data_width": data_width},
                   "run_test_fault_free", {"FTVOTER_CYCLES": cycles})
    assert figures["mismatches"] == 0 and figures["transactions"] > cycles // 50


def _flips(count, seed):
    """Draw flips (scratch word, bit, operation) whose effect the models say reaches the
    bus."""
    rng = random.Random(seed)
    flips = []
    while len(flips) < count:
        flip = (rng.randrange(8), rng.randrange(32), rng.randrange(100, 2000))
        if first_divergence(flip[2], flip[0], flip[1], 32) is not None:
            flips.append(flip)
    return flips


@pytest.mark.tb
@pytest.mark.parametrize("lanes, word, bit, flip_op",
                         [(2, *flip) for flip in _flips(4, 2)] +
                         [(3, *flip) for flip in _flips(2, 3)])
def test_flip(tmp_path, lanes, word, bit, flip_op):
    figures = _run(tmp_path, {"lanes": lanes}, "run_test_flip",
                   {"FTVOTER_FLIP_LANE": 1, "FTVOTER_FLIP_WORD": word,
                    "FTVOTER_FLIP_BIT": bit, "FTVOTER_FLIP_OP": flip_op})
    assert figures["detection_latency"] >= 1
