"""CampaignBench and the resettable RAM, in amaranth.sim."""

import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.sim import Simulator

from ftvoter.hdl.campaign import NEVER, CampaignBench
from ftvoter.hdl.inject import FaultModel
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import MemoryModel


def system(faults):
    return Lockstep(lambda: WorkloadLane(seed=0x5EED), lanes=2, faults=faults)


def site(bench, name):
    return [s.name for s in bench.sites].index(name)


def run(bench, runs):
    """Run each injection (a dict of ``injection`` fields) to ``done``; return records."""
    records = []
    sim = Simulator(bench)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        for seq, injection in enumerate(runs, start=1):
            ctx.set(bench.injection, {"arm": 1, "site": 0, "mask": 0, "model": 0,
                                      "start": 0, "duration": 0, "common": 0,
                                      "window": 100, "restart": 1, **injection})
            ctx.set(bench.seq, seq)
            # The record as it was in the first cycle with done (as a cocotb trigger on
            # done's rising edge sees it).
            record, = await ctx.tick().sample(bench.record).until(
                bench.done & (bench.done_seq == seq))
            records.append({name: int(getattr(record, name))
                            for name, _, _ in bench.record_fields})
    sim.add_testbench(testbench)
    sim.run()
    return records


class TestCampaignBench:
    def test_init(self):
        bench = CampaignBench(system, faults=["*"])
        assert bench.sites[0].name == "lane0.regfile.r0"
        assert [name for name, _, _ in bench.record_fields][:2] == ["cycle", "mismatch_at"]
        assert [name for name, _, _ in bench.injection_fields][-2:] == ["window", "restart"]

    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^System must be callable, not 1$"):
            CampaignBench(1, faults=["*"])
        with pytest.raises(TypeError, match=r"^RAM words must be a positive integer, not 0$"):
            CampaignBench(system, faults=["*"], ram_words=0)
        with pytest.raises(ValueError, match=r"^The faulty copy must have a fault injector, "
                                             r"not faults=None$"):
            CampaignBench(system, faults=None)

    def test_runs(self):
        bench = CampaignBench(system, faults=["*"])
        fault_free, halted, again = run(bench, [
            # No fault (an empty stuck-at mask, for ever): the window runs out.
            {"model": FaultModel.STUCK0, "window": 60},
            # lane 0's awvalid flipped at the edge ending cycle 20: its output differs in
            # cycle 21, the bridge's registered mismatch rises in cycle 22, and the DMR
            # halt policy stops the bridge: the run ends as soon as it reacted.
            {"site": site(bench, "lane0.bus.awvalid"), "mask": 1, "model": FaultModel.FLIP,
             "start": 20},
            {"model": FaultModel.STUCK0, "window": 60},
        ])
        assert fault_free["cycle"] == 61
        for key in ("mismatch_at", "self_error_at", "diverged_at", "io_wrong_at"):
            assert fault_free[key] == NEVER, key
        assert fault_free["golden_requests"] > 0
        assert fault_free["online"] == 0b11 and fault_free["state_differs"] == 0
        assert halted["diverged_at"] == 21
        assert halted["diverged"] == 0b01
        assert halted["mismatch_at"] == 22
        assert halted["halted"] == 1
        assert halted["io_wrong_at"] == NEVER
        assert halted["cycle"] <= 24
        # A new run starts from reset: the halt of the last one is forgotten.
        assert again == fault_free


class TestResettableMemory:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Resettable must be a bool, not 1$"):
            AXI4LiteMemory(resettable=1)

    def test_reset_restores_contents(self):
        m = Module()
        clear = Signal()
        memory = AXI4LiteMemory(depth=16, init=[0x11223344, 0x55667788], resettable=True)
        m.submodules.memory = ResetInserter(clear)(memory)
        bus = memory.bus
        model = MemoryModel()
        sim = Simulator(m)
        sim.add_clock(1e-6)
        reads = []

        async def write(ctx, addr, data, strb):
            ctx.set(bus.awaddr, addr)
            ctx.set(bus.wdata, data)
            ctx.set(bus.wstrb, strb)
            ctx.set(bus.awvalid, 1)
            ctx.set(bus.wvalid, 1)
            ctx.set(bus.bready, 1)
            await ctx.tick().until(bus.awready)
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            await ctx.tick().until(bus.bvalid)

        async def read(ctx, addr):
            ctx.set(bus.araddr, addr)
            ctx.set(bus.arvalid, 1)
            ctx.set(bus.rready, 1)
            await ctx.tick().until(bus.arready)
            ctx.set(bus.arvalid, 0)
            data, = await ctx.tick().sample(bus.rdata).until(bus.rvalid)
            return data

        async def testbench(ctx):
            for round_ in range(2):
                # Initial contents, written as a model would see them after reset.
                model.words = {0: 0x11223344, 1: 0x55667788}
                for addr, data, strb in ((4, 0xAABBCCDD, 0b0101), (8, 0xDEADBEEF, 0b1111),
                                         (0, 0x99999999, 0b1000)):
                    await write(ctx, addr, data + round_, strb)
                    model.write(addr, data + round_, strb)
                for addr in (0, 4, 8, 12):
                    reads.append((await read(ctx, addr), model.read(addr)))
                ctx.set(clear, 1)
                await ctx.tick()
                ctx.set(clear, 0)

        sim.add_testbench(testbench)
        sim.run()
        assert [got for got, _ in reads] == [want for _, want in reads]


class TestLoad:
    def test_load_equals_restart(self):
        # After a run that halted the faulty copy, loading it from the golden copy and going
        # on gives the same record as resetting both and running up to the same start.
        bench = CampaignBench(system, faults=["*"])
        awvalid = {"site": site(bench, "lane0.bus.awvalid"), "mask": 1,
                   "model": FaultModel.FLIP}
        parity = {"site": site(bench, "lane1.regfile.parity"), "mask": 0b100,
                  "model": FaultModel.STUCK1, "duration": 0}
        first, loaded, loaded2 = run(bench, [
            {**awvalid, "start": 20},
            {**parity, "start": 40, "restart": 0},
            {**awvalid, "start": 90, "restart": 0},
        ])
        assert first["halted"] == 1
        assert loaded["cycle"] < 90
        restarted, restarted2 = run(bench, [{**parity, "start": 40}, {**awvalid, "start": 90}])
        for key in ("golden_requests",):
            for record in (loaded, loaded2, restarted, restarted2):
                del record[key]
        assert loaded == restarted
        assert loaded2 == restarted2


class TestVerilogTop:
    """The Verilator top-level around the bench, written from its signature."""

    @staticmethod
    def verilog_ports(text, module):
        """``{name: (direction, range)}`` of ``module``'s ports in generated Verilog."""
        import re
        begin = text.index(f"module {module}(")
        body = text[begin:text.index("endmodule", begin)]
        return {name: (direction, width.strip()) for direction, width, name in re.findall(
            r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(\[\d+:0\]\s+)?(\w+)\s*;", body, re.M)}

    def test_ports_match_the_verilog(self):
        # The wrapper's ports are those Amaranth writes for the same component (the bench's
        # clk and rst are the wrapper's own business), with the same directions and widths.
        from amaranth.back import verilog

        from ftvoter.sim.bench_top import bench_wrapper
        bench = CampaignBench(system, faults=["lane0.regfile.r1", "lane1.bus.*"],
                              ram_words=16)
        text = verilog.convert(bench, name="ftvoter_campaign", emit_src=False)
        generated = self.verilog_ports(text, "ftvoter_campaign")
        del generated["clk"], generated["rst"]
        for clock_port in (False, True):
            top, wrapper, ports = bench_wrapper(bench.signature, clock_port=clock_port)
            assert top == "ftvoter_campaign_top" + ("_clk" if clock_port else "")
            wrapped = self.verilog_ports(wrapper, top)
            if clock_port:
                assert wrapped.pop("clk") == ("input", "")
                assert ports[0] == "clk"
                assert "always" not in wrapper
            else:
                assert "always #5 clk = ~clk;" in wrapper
            assert wrapped == generated
            assert (ports[1:] if clock_port else ports) == sorted(generated)
            for name in generated:
                assert f".{name}({name})" in wrapper
            assert ".rst(1'b0)" in wrapper
        width = sum(width for _, _, width in bench.injection_fields)
        assert generated["injection"] == ("input", f"[{width - 1}:0]")
        assert generated["done"] == ("output", "")


def run_slots(bench, injections, window, reuse=True):
    """Run ``injections`` (dicts of ``injection`` fields with ``id``) on every faulty copy
    of ``bench`` as a campaign shard schedules them (:class:`Slots`); return the records
    by id, with the copy and the way each run started."""
    from ftvoter.sim.slots import Slots
    copies = bench.copies
    slots = Slots(injections, copies, reuse)
    records = {}
    sim = Simulator(bench)
    sim.add_clock(1e-6)

    def port(name, k):
        value = getattr(bench, name)
        return value if copies == 1 else value[k]

    async def testbench(ctx):
        seqs = [0] * copies
        started = {}

        def launch(runs):
            for k, injection, restart in runs:
                seqs[k] = (seqs[k] + 1) & 0xff
                fields = {key: injection.get(key, 0) for key, _, _ in bench.injection_fields}
                ctx.set(port("injection", k), {**fields, "window": window,
                                               "restart": restart})
                ctx.set(port("seq", k), seqs[k])
                started[k] = (injection["id"], restart)
        launch(slots.begin())
        finished = 0
        while slots.running:
            done, done_seq, record, finished = await ctx.tick().sample(
                bench.done, bench.done_seq, bench.record, bench.finished).until(
                bench.finished != finished)
            ends = []
            for k in sorted(slots.running):
                seq = done_seq if copies == 1 else done_seq[k]
                if done >> k & 1 and int(seq) == seqs[k]:
                    fields = record if copies == 1 else record[k]
                    values = {name: int(getattr(fields, name))
                              for name, _, _ in bench.record_fields}
                    ident, restart = started[k]
                    records[ident] = {**values, "copy": k, "restart": restart}
                    ends.append((k, values["cycle"]))
            launch(slots.ended(ends))
            if not slots.running and len(slots):
                launch(slots.begin())
    sim.add_testbench(testbench)
    sim.run()
    return records


class TestCopies:
    def test_init_wrong(self):
        for copies in (0, 17, True, 2.0):
            with pytest.raises(TypeError, match=r"^Copies must be an integer from 1 to 16, "):
                CampaignBench(system, faults=["*"], copies=copies)

    def test_copies_give_the_records_of_one(self):
        # The same injections on three faulty copies sharing the golden one, started by
        # loads from it while the others run, give the records of one copy run by restarts
        # from reset (every run simulated from cycle 0) and of one copy run by loads.
        one = CampaignBench(system, faults=["*"])
        names = ["lane0.bus.awvalid", "lane1.regfile.parity", "lane0.regfile.r1",
                 "lane1.bus.wdata"]
        injections = [{"id": n, "arm": 1, "site": site(one, names[n % 4]), "mask": 1 << (n % 3),
                       "model": (FaultModel.FLIP, FaultModel.STUCK1, FaultModel.STUCK0)[n % 3],
                       "start": 3 + 7 * n % 41, "duration": 0} for n in range(10)]
        reference = run_slots(one, injections, 40, reuse=False)
        three = CampaignBench(system, faults=["*"], copies=3)
        assert three.record_fields == one.record_fields
        shared = run_slots(three, injections, 40)
        chained = run_slots(one, injections, 40)
        assert {r["copy"] for r in shared.values()} == {0, 1, 2}
        assert any(not r["restart"] for r in shared.values())
        detected = [i for i, r in reference.items() if r["mismatch_at"] != NEVER]
        assert detected and len(detected) < len(injections)
        for records in (shared, chained):
            for ident, record in reference.items():
                got = {k: v for k, v in records[ident].items() if k not in
                       ("copy", "restart", "golden_requests")}
                want = {k: v for k, v in record.items() if k not in
                        ("copy", "restart", "golden_requests")}
                assert got == want, ident
