"""cocotb testbench of the VotingBridge under Verilator.

One cocotbext-axi ``AxiLiteMaster`` per lane issues identical traffic; each path is a
cocotbext-axi ``AxiLiteRam`` (or, for multipath tests, a small target that can answer
SLVERR or stay silent, or a slow peer that answers after the bridge's timeout); a golden
model of the memory says what the paths must see. Faults corrupt one lane: address, data,
strobes, valid timing (its channel paused) or ready (its response channel paused), with or
without its ``self_error``. A monitor on every path records each beat: any beat that is not
the next agreed operation is an escape.
"""

import os
import random

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Combine, FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiLiteRam, AxiResp

from ftvoter.boards.driver import AccessError
from ftvoter.hdl.registers import ERROR_REGISTERS
from ftvoter.sim.mgmt import mgmt_driver
from ftvoter.sim.models import MemoryModel
from ftvoter.sim.toolchain import report, run_testbench

REG = {register.name: register.offset for register in ERROR_REGISTERS}
# The register window: the top 256 bytes of the (32-bit) address space unless the build
# put it elsewhere (FTVOTER_CSR_BASE, also passed to the build).
CSR_BASE = int(os.environ.get("FTVOTER_CSR_BASE", "0xFFFFFF00"), 0)
IO_WORDS = 1024


class Target:
    """An AXI4-Lite target answering from a memory model, or with SLVERR, or not at all.

    Handshakes are sampled at the rising edge, as cocotbext-axi does.
    """

    def __init__(self, dut, prefix, clock, memory, mode="ok"):
        self.bus = {name: getattr(dut, f"{prefix}__{name}") for name in (
            "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp",
            "bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
            "rready")}
        self.clock, self.memory, self.mode = clock, memory, mode
        self.requests = 0
        for name in ("awready", "wready", "bvalid", "arready", "rvalid", "bresp", "rresp",
                     "rdata"):
            self.bus[name].value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        bus = self.bus
        aw = w = ar = None
        bvalid = rvalid = False
        while True:
            await RisingEdge(self.clock)
            get = {name: int(bus[name].value) for name in bus}
            if get["awvalid"] and get["awready"]:
                aw = get["awaddr"]
            if get["wvalid"] and get["wready"]:
                w = (get["wdata"], get["wstrb"])
            if get["arvalid"] and get["arready"]:
                ar = get["araddr"]
            if bvalid and get["bready"]:
                bvalid = False
            if rvalid and get["rready"]:
                rvalid = False
            if aw is not None and w is not None and not bvalid:
                self.requests += 1
                if self.mode == "ok":
                    self.memory.write(aw, *w)
                if self.mode != "silent":
                    bvalid = True
                    bus["bresp"].value = 0 if self.mode == "ok" else AxiResp.SLVERR
                aw = w = None
            if ar is not None and not rvalid:
                self.requests += 1
                if self.mode != "silent":
                    rvalid = True
                    bus["rdata"].value = self.memory.read(ar) if self.mode == "ok" else 0
                    bus["rresp"].value = 0 if self.mode == "ok" else AxiResp.SLVERR
                ar = None
            bus["awready"].value = int(aw is None)
            bus["wready"].value = int(w is None)
            bus["arready"].value = int(ar is None and not rvalid)
            bus["bvalid"].value = int(bvalid)
            bus["rvalid"].value = int(rvalid)


SLOW = 0x800   # the slow peer answers requests to addresses with this bit set late


class SlowPeer:
    """An AXI4-Lite target that answers requests to the slow region late (a slow peer).

    It takes AW, W and AR beats whenever its queues have room, pairs AW and W beats in
    order and answers each channel in order: a request to an address with ``SLOW`` set
    ``late`` cycles after it is complete, any other one cycle after (but never before the
    requests ahead of it). A write is performed, and a read's data fetched, when it is
    answered. With ``hold_w``, the peer takes a W beat only after its AW, and none for
    ``late`` cycles after an AW to the slow region (it holds half a write). Handshakes are
    sampled at the rising edge, as cocotbext-axi does.
    """

    def __init__(self, dut, prefix, clock, memory, *, late=20, hold_w=False):
        self.bus = {name: getattr(dut, f"{prefix}__{name}") for name in (
            "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp",
            "bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
            "rready")}
        self.clock, self.memory, self.late, self.hold_w = clock, memory, late, hold_w
        self.aw_log = []           # every AW address taken
        self.late_answers = 0      # answers given to requests in the slow region
        self.reset()
        for name in ("awready", "wready", "bvalid", "arready", "rvalid", "bresp", "rresp",
                     "rdata"):
            self.bus[name].value = 0
        cocotb.start_soon(self._run())

    def reset(self):
        """Forget every request in flight, as a reset of the peer would."""
        self.aws, self.ws = [], []       # beats taken, not yet paired
        self.writes, self.reads = [], []  # (due, addr, data, strb), (due, addr): in order
        self.b = self.r = None           # the response presented (bresp; rdata)
        self.w_hold_until = 0

    def _due(self, cycle, addr):
        return cycle + (self.late if addr & SLOW else 1)

    async def _run(self):
        bus = self.bus
        cycle = 0
        while True:
            await RisingEdge(self.clock)
            cycle += 1
            get = {name: int(bus[name].value) for name in bus}
            if get["awvalid"] and get["awready"]:
                self.aws.append(get["awaddr"])
                self.aw_log.append(get["awaddr"])
                if self.hold_w and get["awaddr"] & SLOW:
                    self.w_hold_until = cycle + self.late
            if get["wvalid"] and get["wready"]:
                self.ws.append((get["wdata"], get["wstrb"]))
            if get["arvalid"] and get["arready"]:
                self.reads.append((self._due(cycle, get["araddr"]), get["araddr"]))
            if self.b is not None and get["bready"]:
                self.b = None
            if self.r is not None and get["rready"]:
                self.r = None
            while self.aws and self.ws:
                addr = self.aws.pop(0)
                self.writes.append((self._due(cycle, addr), addr, *self.ws.pop(0)))
            if self.b is None and self.writes and self.writes[0][0] <= cycle:
                _, addr, data, strb = self.writes.pop(0)
                self.memory.write(addr, data, strb)
                self.b = AxiResp.OKAY
                self.late_answers += bool(addr & SLOW)
            if self.r is None and self.reads and self.reads[0][0] <= cycle:
                _, addr = self.reads.pop(0)
                self.r = self.memory.read(addr)
                self.late_answers += bool(addr & SLOW)
            bus["awready"].value = int(len(self.aws) + len(self.writes) < 4)
            # Holding W: a W beat only after its AW, and not for late cycles after an AW to
            # the slow region.
            hold = self.hold_w and (not self.aws or cycle < self.w_hold_until)
            bus["wready"].value = int(len(self.ws) < 4 and not hold)
            bus["arready"].value = int(len(self.reads) < 4)
            bus["bvalid"].value = int(self.b is not None)
            bus["bresp"].value = 0 if self.b is None else self.b
            bus["rvalid"].value = int(self.r is not None)
            bus["rdata"].value = self.r or 0
            bus["rresp"].value = 0


class TB:
    def __init__(self, dut, *, lanes, paths, modes=None, shared=False):
        self.dut, self.lanes, self.paths = dut, lanes, paths
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.masters = [AxiLiteMaster(AxiLiteBus.from_prefix(dut, f"lane{i}_bus_"), dut.clk,
                                      dut.lanes_reset) for i in range(lanes)]
        for master in self.masters:
            master.write_if.log.setLevel("WARNING")
            master.read_if.log.setLevel("WARNING")
        self.regs = mgmt_driver(dut)        # the management port's register driver
        self.golden = MemoryModel(32)
        # shared: the paths reach one target (multipath I/O), so they share one memory.
        self.path_memories = ([MemoryModel(32)] * paths if shared else
                              [MemoryModel(32) for _ in range(paths)])
        self.targets = []
        for j in range(paths):
            mode = (modes or {}).get(j)
            if mode is None:
                ram = AxiLiteRam(AxiLiteBus.from_prefix(dut, f"path{j}_bus_"), dut.clk,
                                 dut.rst, size=2**16)
                ram.write_if.log.setLevel("WARNING")
                ram.read_if.log.setLevel("WARNING")
                self.targets.append(ram)
            elif mode == "slow":
                self.targets.append(SlowPeer(dut, f"path{j}_bus", dut.clk,
                                             self.path_memories[j]))
            else:
                self.targets.append(Target(dut, f"path{j}_bus", dut.clk,
                                           self.path_memories[j], mode))
        self.beats = []            # (path, kind, addr, data, strb) seen on the paths
        self.cycle = 0
        self.mismatch_cycles = []
        self.online_changes = []   # (cycle, online)

    async def reset(self):
        dut = self.dut
        dut.irq_in.value = 0
        for i in range(self.lanes):
            getattr(dut, f"lane{i}_self_error").value = 0
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        cocotb.start_soon(self._monitor())
        await ClockCycles(dut.clk, 2)

    async def _monitor(self):
        dut = self.dut
        paths = [{name: getattr(dut, f"path{j}_bus__{name}") for name in (
            "awvalid", "awready", "awaddr", "wvalid", "wready", "wdata", "wstrb", "arvalid",
            "arready", "araddr")} for j in range(self.paths)]
        pending = [{} for _ in range(self.paths)]
        online = int(dut.online.value)
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            self.cycle += 1
            for j, bus in enumerate(paths):
                if bus["awvalid"].value and bus["awready"].value:
                    pending[j]["addr"] = int(bus["awaddr"].value)
                if bus["wvalid"].value and bus["wready"].value:
                    pending[j]["data"] = (int(bus["wdata"].value), int(bus["wstrb"].value))
                if len(pending[j]) == 2:
                    self.beats.append((j, "W", pending[j]["addr"], *pending[j]["data"]))
                    pending[j].clear()
                if bus["arvalid"].value and bus["arready"].value:
                    self.beats.append((j, "R", int(bus["araddr"].value), None, None))
            if dut.mismatch.value:
                self.mismatch_cycles.append(self.cycle)
            now = int(dut.online.value)
            if now != online:
                self.online_changes.append((self.cycle, now))
                online = now

    # --- management port -----------------------------------------------------------------

    async def wait_resynced(self, what, tries=20):
        """Read STATUS until no lane is being resynchronised (SYNCING clear); fail, naming
        ``what`` was waited for, if it is still set after ``tries`` reads."""
        for _ in range(tries):
            if not (await self.regs.fields("STATUS")).SYNCING:
                return
        raise AssertionError(f"resynchronisation {what} did not finish: STATUS.SYNCING "
                             f"still set after {tries} reads")

    async def lane_states(self):
        return await self.regs.lane_states(self.lanes)

    async def events(self):
        """Pop the logged events; return them as (kind, lane)."""
        return [(event.KIND, event.LANE) for event in await self.regs.events()]

    # --- the lanes' traffic --------------------------------------------------------------

    def start(self, op, corrupt=None, faulty=None):
        """Start ``op`` on every lane (``corrupt`` replaces it on lane ``faulty``)."""
        tasks = []
        for i, master in enumerate(self.masters):
            kind, addr, data, nbytes = corrupt if i == faulty and corrupt else op
            if kind == "W":
                payload = data.to_bytes(4, "little")[:nbytes]
                tasks.append(cocotb.start_soon(master.write(addr, payload)))
            else:
                tasks.append(cocotb.start_soon(master.read(addr, 4)))
        return tasks

    def expect(self, op):
        """The golden effect of an agreed operation; returns the expected read data."""
        kind, addr, data, _ = op
        if kind == "W":
            self.golden.write(addr, data, 0xF)
            return None
        return self.golden.read(addr)

    def check_result(self, op, result):
        kind, addr, data, _ = op
        assert result is not None, f"{op} was flushed"
        assert result.resp == AxiResp.OKAY, f"{op}: {result.resp}"
        if kind == "R":
            got = int.from_bytes(result.data, "little")
            assert got == self.golden.read(addr), f"read {addr:#x}: {got:#x}"

    async def run_op(self, op):
        tasks = self.start(op)
        results = [await task for task in tasks]
        self.expect(op)
        for result in results:
            self.check_result(op, result)


def random_op(rng):
    addr = rng.randrange(IO_WORDS) * 4
    if rng.random() < 0.5:
        return ("W", addr, rng.getrandbits(32), 4)
    return ("R", addr, None, 4)


def escapes(tb, agreed):
    """Count path beats that are not the agreed operations, in order, on one path."""
    expected = [(kind, addr, data if kind == "W" else None, 0xF if kind == "W" else None)
                for kind, addr, data, _ in agreed]
    seen = [(kind, addr, data, strb) for _, kind, addr, data, strb in tb.beats]
    wrong = sum(1 for a, b in zip(seen, expected, strict=False) if a != b)
    return wrong + abs(len(seen) - len(expected))


FAULTS = ["addr", "data", "strb", "valid", "ready"]
LANE_OUTPUTS = ("awvalid", "awaddr", "wvalid", "wdata", "wstrb", "arvalid", "araddr",
                "bready", "rready")


async def raise_self_error_at_divergence(dut, faulty, healthy):
    """Set the faulty lane's self_error in the first cycle its outputs differ."""
    while True:
        await FallingEdge(dut.clk)
        if any(getattr(dut, f"lane{faulty}_bus__{name}").value !=
               getattr(dut, f"lane{healthy}_bus__{name}").value for name in LANE_OUTPUTS):
            getattr(dut, f"lane{faulty}_self_error").value = 1
            return


def corrupt(rng, op, kind):
    op_kind, addr, data, nbytes = op
    if kind == "addr":
        return (op_kind, addr ^ (4 << rng.randrange(8)), data, nbytes)
    if kind == "data" and op_kind == "W":
        return (op_kind, addr, data ^ (1 << rng.randrange(32)), nbytes)
    if kind == "strb" and op_kind == "W":
        return (op_kind, addr, data, 2)
    return None


async def fault_episode(tb, rng, op, lanes, stats):
    """Corrupt ``op`` on one random lane; check containment, isolation, registers;
    recover the lane. Returns the list of agreed operations that reached the paths."""
    dut = tb.dut
    faulty = rng.randrange(lanes)
    kind = rng.choice(FAULTS)
    # self_error: none; raised before the operation; or raised in the cycle the lane's
    # outputs first diverge (the bridge sees both at once).
    self_error = rng.choice(["none", "early", "late"])
    with_self_error = self_error != "none"
    bad = corrupt(rng, op, kind)
    channel = paused_channel(tb.masters[faulty], op, kind)
    if bad is None and channel is None:
        kind, bad = "addr", corrupt(rng, op, "addr")
    if channel is not None:
        channel.pause = True
    if self_error == "early":
        getattr(dut, f"lane{faulty}_self_error").value = 1
    elif self_error == "late":
        watcher = cocotb.start_soon(raise_self_error_at_divergence(
            dut, faulty, (faulty + 1) % lanes))
    mismatches_before = len(tb.mismatch_cycles)
    changes_before = len(tb.online_changes)
    tasks = tb.start(op, bad, faulty)
    healthy = [task for i, task in enumerate(tasks) if i != faulty]
    await First(Combine(*healthy), ClockCycles(dut.clk, 60))
    if channel is not None:
        channel.pause = False
    if self_error == "late" and not watcher.done():
        watcher.cancel()

    isolating = lanes == 3 or with_self_error
    halted = bool((await tb.regs.fields("STATUS")).HALTED)
    assert halted == (not isolating), (kind, faulty, with_self_error, halted)
    if halted:
        # The operator takes the faulty lane out and resumes.
        await tb.regs.lane_command(faulty, "REMOVE")
        await tb.regs.resume()
    results = [await task for task in healthy]
    tb.expect(op)
    for result in results:
        tb.check_result(op, result)

    states = await tb.lane_states()
    expected_state = "BROKEN" if isolating else "REMOVED"
    assert states[faulty] == expected_state, states
    assert all(s == "ONLINE" for i, s in enumerate(states) if i != faulty), states
    causes = await tb.regs.causes()
    if len(tb.mismatch_cycles) > mismatches_before:
        # A divergence was seen: channel and lanes (a mask) in the syndrome.
        syndrome = await tb.regs.fields("SYNDROME")
        assert syndrome.VALID, syndrome
        channel_name = syndrome.CHANNEL
        expected_blame = (1 << faulty) if (lanes == 3 and not with_self_error) else None
        if expected_blame is not None:
            assert syndrome.LANES == expected_blame, (syndrome, faulty)
        stats["divergences"] += 1
        stats["channels"][channel_name] = stats["channels"].get(channel_name, 0) + 1
        if isolating:
            # mismatch rises one cycle after the divergent cycle; so does isolation.
            detected = tb.mismatch_cycles[mismatches_before]
            isolated = tb.online_changes[changes_before][0]
            latency = str(isolated - (detected - 1))
            stats["detection_to_isolation"][latency] = \
                stats["detection_to_isolation"].get(latency, 0) + 1
            stats["isolated_by"]["tmr_vote" if lanes == 3 and self_error != "early"
                                 else "divergence_with_self_error"] += 1
    else:
        stats["isolated_by"]["self_error_before_divergence"] += 1
    if self_error == "early" or (self_error == "late" and lanes == 2):
        assert "SELF_ERROR" in causes, causes
    if isolating:
        stats["isolations"] += 1
    else:
        stats["halts"] += 1

    await recover(tb, faulty, isolating)
    stats["faults"] += 1


def paused_channel(master, op, kind):
    """The channel of ``master`` to pause for a ``valid`` or ``ready`` fault, or None."""
    if kind == "valid":
        return master.write_if.aw_channel if op[0] == "W" else master.read_if.ar_channel
    if kind == "ready":
        return master.write_if.b_channel if op[0] == "W" else master.read_if.r_channel
    return None


async def recover(tb, faulty, isolating):
    """Bring the faulty lane back: clear its error, clear the causes, insert and
    resynchronise it; check that the event log holds its isolation (or removal) and its
    return."""
    getattr(tb.dut, f"lane{faulty}_self_error").value = 0
    await tb.regs.clear_errors()
    await tb.regs.lane_command(faulty, "INSERT")
    await tb.wait_resynced(f"of lane {faulty} after a fault", tries=50)
    assert await tb.lane_states() == ["ONLINE"] * tb.lanes
    events = await tb.events()
    first = "BROKEN" if isolating else "REMOVED"
    last = "FIXED" if isolating else "INSERTED"
    assert events == [(first, faulty), (last, faulty)], events
    await tb.regs.clear("IRQ_STATUS")


@cocotb.test()
async def run_test_random(dut):
    """Identical random traffic with random single-lane faults; count escapes."""
    lanes = int(os.environ["FTVOTER_LANES"])
    count = int(os.environ["FTVOTER_OPS"])
    fault_every = int(os.environ.get("FTVOTER_FAULT_EVERY", "20"))
    rng = random.Random(int(os.environ.get("FTVOTER_SEED", "1")))
    tb = TB(dut, lanes=lanes, paths=1)
    await tb.reset()
    stats = {"faults": 0, "isolations": 0, "halts": 0, "divergences": 0, "channels": {},
             "detection_to_isolation": {},
             "isolated_by": {"tmr_vote": 0, "divergence_with_self_error": 0,
                             "self_error_before_divergence": 0}}
    agreed = []
    for index in range(count):
        op = random_op(rng)
        if index % fault_every == fault_every - 1:
            await fault_episode(tb, rng, op, lanes, stats)
        else:
            await tb.run_op(op)
        agreed.append(op)
    wrong = escapes(tb, agreed)
    # Every agreed write is in the path's RAM.
    ram = tb.targets[0]
    for word, value in tb.golden.words.items():
        assert int.from_bytes(ram.read(word * 4, 4), "little") == value
    assert wrong == 0, f"{wrong} escapes"
    dut._log.info("%d transactions, %d faults: %d isolations, %d halts, %d escapes",
                  count, stats["faults"], stats["isolations"], stats["halts"], wrong)
    report({"lanes": lanes, "transactions": count, "path_beats": len(tb.beats),
             "escapes": wrong, **stats})


@cocotb.test()
async def run_test_registers(dut):
    """Register access from the lanes (agreed) and from mgmt: RW1C, LOCK, unlock, WO."""
    tb = TB(dut, lanes=int(os.environ["FTVOTER_LANES"]), paths=1)
    await tb.reset()
    assert await tb.regs.read("ID") == 0x46545652
    # The lanes write SCRATCH through the bridge; mgmt reads it back.
    await tb.run_op(("W", CSR_BASE + REG["SCRATCH"], 0x12345678, 4))
    assert await tb.regs.read("SCRATCH") == 0x12345678
    # Just below the window and just above it: the path, not the registers.
    for addr in (CSR_BASE - 4, CSR_BASE + 0x100):
        if addr < 2**32:
            await tb.run_op(("W", addr, addr ^ 0xA5A5A5A5, 4))
            await ClockCycles(dut.clk, 2)
            assert tb.beats[-1] == (0, "W", addr, addr ^ 0xA5A5A5A5, 0xF), tb.beats
    assert not any(beat[2] >> 8 == CSR_BASE >> 8 for beat in tb.beats), tb.beats
    assert await tb.regs.read("SCRATCH") == 0x12345678
    # A write from one lane alone never arrives: lane 1 differs (with self_error), is
    # isolated, and SCRATCH takes the survivors' value.
    dut.lane1_self_error.value = 1
    tasks = tb.start(("W", CSR_BASE + REG["SCRATCH"], 0xAAAA0000, 4),
                     ("W", CSR_BASE + REG["SCRATCH"], 0xBAD0BAD0, 4), 1)
    await tasks[0]
    assert await tb.regs.read("SCRATCH") == 0xAAAA0000
    dut.lane1_self_error.value = 0
    assert "SELF_ERROR" in await tb.regs.causes()
    # RW1C: writing 1 clears, writing 0 leaves.
    await tb.regs.write("ERROR_CAUSE", 0)
    assert "SELF_ERROR" in await tb.regs.causes()
    await tb.regs.clear_errors()
    assert await tb.regs.read("ERROR_CAUSE") == 0
    # mgmt: protected writes need UNLOCK, one write per unlock; others are counted.
    rejected = await tb.regs.read("REJECTED")
    with pytest.raises(AccessError, match=r"^write of register 0x50: SLVERR$"):
        await tb.regs.write("LANE_CMD", LANE=1, OP="INSERT")
    assert await tb.regs.read("REJECTED") == rejected + 1
    with pytest.raises(AccessError, match=r"^write of register 0x10: SLVERR$"):
        await tb.regs.write("UNLOCK", 0x1234)
    await tb.regs.lane_command(1, "INSERT")
    await tb.wait_resynced("of lane 1 (INSERT from mgmt)")
    assert await tb.lane_states() == ["ONLINE"] * tb.lanes
    with pytest.raises(AccessError, match=r"SLVERR$"):              # the unlock was used
        await tb.regs.write("CONTROL", LOCK=1)
    # LOCK: the lanes lock the configuration; their LANE_CMD is then refused.
    lock = ERROR_REGISTERS.encode("CONTROL", LOCK=1)
    await tb.run_op(("W", CSR_BASE + REG["CONTROL"], lock, 4))
    assert (await tb.regs.fields("CONTROL")).LOCK
    remove = ERROR_REGISTERS.encode("LANE_CMD", LANE=0, OP="REMOVE")
    tasks = tb.start(("W", CSR_BASE + REG["LANE_CMD"], remove, 4))
    results = [await task for task in tasks]
    assert all(r.resp == AxiResp.SLVERR for r in results)
    assert await tb.lane_states() == ["ONLINE"] * tb.lanes
    assert "REJECTED" in await tb.regs.causes()
    # The operator can still unlock it.
    await tb.regs.set_lock(False)
    assert not (await tb.regs.fields("CONTROL")).LOCK
    # WO reads as zero; the event log overflows after 16 events and says so.
    assert await tb.regs.read("UNLOCK") == 0
    await tb.events()
    for index in range(9):
        await tb.regs.lane_command(1, "REMOVE")
        await tb.regs.lane_command(1, "INSERT")
        await tb.wait_resynced(f"of lane 1 (event log filler {index + 1} of 9)")
    status = await tb.regs.fields("EVENT_STATUS")
    assert status.COUNT == 16 and status.OVERFLOW, status
    assert len(await tb.events()) == 16
    report({"ok": True})


@cocotb.test()
async def run_test_paths(dut):
    """Multipath retry on SLVERR and on silence; single-path SLVERR; no hang."""
    paths = int(os.environ["FTVOTER_PATHS"])
    mode = os.environ["FTVOTER_PATH0"]
    timeout = int(os.environ["FTVOTER_TIMEOUT"])
    lanes = int(os.environ.get("FTVOTER_LANES", "2"))
    tb = TB(dut, lanes=lanes, paths=paths,
            modes={0: mode, 1: "ok"} if paths == 2 else {0: mode})
    await tb.reset()
    figures = {}
    for op in [("W", 0x40, 0xCAFEF00D, 4), ("R", 0x40, None, 4), ("W", 0x44, 1, 4),
               ("R", 0x44, None, 4)]:
        start = tb.cycle
        tasks = tb.start(op)
        done = await First(Combine(*tasks), Timer(10 * (timeout + 50), unit="ns"))
        assert done is not None and all(task.done() for task in tasks), "the bridge hung"
        results = [task.result() for task in tasks]
        figures.setdefault("cycles", []).append(tb.cycle - start)
        if paths == 2:
            tb.expect(op)
            for result in results:
                tb.check_result(op, result)
        else:
            assert all(r.resp == AxiResp.SLVERR for r in results), [r.resp for r in results]
    failed = (await tb.regs.fields("PATH_STATUS")).FAILED          # a mask of paths
    retries = await tb.regs.read("RETRIES")
    causes = await tb.regs.causes()
    assert failed & 1
    assert ("PATH_ERROR" if mode == "slverr" else "PATH_TIMEOUT") in causes
    if paths == 2:
        # Retried once, then path 1 is the active path: the others go there directly.
        assert retries == 1, retries
        assert (await tb.regs.fields("PATH_STATUS")).ACTIVE == 1
        assert tb.targets[0].requests == 1
        assert tb.path_memories[1].words == tb.golden.words
        # Returning path 0 to service: new operations go there again.
        await tb.regs.write("PATH_STATUS", FAILED=0b01)
        assert (await tb.regs.fields("PATH_STATUS")).ACTIVE == 0
    else:
        assert "NO_PATH" in causes
        assert retries == 0
    report({"mode": mode, "paths": paths, **figures})


@cocotb.test()
async def run_test_diagnose(dut):
    """Policy "diagnose": a DMR divergence with no self_error asks the lanes to self-test;
    the single failing lane is isolated; if both pass, or nobody answers, it halts."""
    tb = TB(dut, lanes=2, paths=1)
    for i in range(2):
        getattr(dut, f"lane{i}_diag_done").value = 0
        getattr(dut, f"lane{i}_diag_pass").value = 0
    await tb.reset()
    timeout = int(os.environ["FTVOTER_TIMEOUT"])
    outcomes = {}
    for verdict in ("lane1_fails", "both_pass", "silent"):
        op = ("W", 0x100, 0x5A5A5A5A, 4)
        tasks = tb.start(op, ("W", 0x104, 0x5A5A5A5A, 4), 1)
        await RisingEdge(dut.diag_request)
        asked = tb.cycle
        await ClockCycles(dut.clk, 3)
        if verdict != "silent":
            dut.lane0_diag_done.value = 1
            dut.lane1_diag_done.value = 1
            dut.lane0_diag_pass.value = 1
            dut.lane1_diag_pass.value = int(verdict == "both_pass")
        while dut.diag_request.value:
            await RisingEdge(dut.clk)
        waited = tb.cycle - asked
        for i in range(2):
            getattr(dut, f"lane{i}_diag_done").value = 0
        causes = await tb.regs.causes()
        halted = bool((await tb.regs.fields("STATUS")).HALTED)
        states = await tb.lane_states()
        if verdict == "lane1_fails":
            assert not halted and states == ["ONLINE", "BROKEN"], (halted, states)
            assert "DIAG_FAIL" in causes and "NO_MAJORITY" in causes, causes
            await tasks[0]
        else:
            assert halted and states == ["ONLINE", "ONLINE"], (halted, states)
            assert "HALTED" in causes, causes
            if verdict == "silent":
                assert waited >= timeout
            await tb.regs.lane_command(1, "REMOVE")
            await tb.regs.resume()
            await tasks[0]
        tb.expect(op)
        outcomes[verdict] = {"halted": halted, "lane_states": states, "cycles": waited}
        # Back to two lanes for the next round.
        await tb.regs.clear_errors()
        await tb.regs.lane_command(1, "INSERT")
        await tb.wait_resynced(f"of lane 1 after the {verdict} round")
        assert await tb.lane_states() == ["ONLINE", "ONLINE"]
    # Only the agreed write reached the path, each time.
    assert [beat[1:4] for beat in tb.beats] == [("W", 0x100, 0x5A5A5A5A)] * 3
    report(outcomes)


class Reference:
    """What each word may hold, independent of the bridge: after a write that got OKAY, its
    data; a write that got SLVERR may have been performed (late) or not, so its data is
    added to what the word may hold. Never another write's data."""

    def __init__(self):
        self.allowed = {}

    def wrote(self, addr, data, resp):
        if resp == AxiResp.OKAY:
            self.allowed[addr] = {data}
        else:
            self.allowed.setdefault(addr, {0}).add(data)

    def may_hold(self, addr):
        return self.allowed.get(addr, {0})

    def check(self, memory):
        for addr, values in sorted(self.allowed.items()):
            held = memory.read(addr)
            assert held in values, (f"{addr:#x} holds {held:#x}, not one of "
                                    f"{sorted(map(hex, values))}: a write lost or another "
                                    f"write's data")


async def lockstep_op(tb, kind, addr, data=None, *, w_pause=0, limit=300):
    """Run one operation on every lane, its W beats held back ``w_pause`` cycles (so the AW
    goes first); return the response all lanes got: ``(resp, read data or None)``."""
    for master in tb.masters:
        master.write_if.w_channel.pause = bool(w_pause)
    tasks = tb.start((kind, addr, data, 4))
    if w_pause:
        await ClockCycles(tb.dut.clk, w_pause)
        for master in tb.masters:
            master.write_if.w_channel.pause = False
    await First(Combine(*tasks), ClockCycles(tb.dut.clk, limit))
    assert all(task.done() for task in tasks), f"{kind} {addr:#x}: the bridge hung"
    got = {(AxiResp(task.result().resp),
            int.from_bytes(task.result().data, "little") if kind == "R" else None)
           for task in tasks}
    assert len(got) == 1, f"{kind} {addr:#x}: the lanes got different responses {got}"
    return got.pop()


@cocotb.test()
async def run_test_slow_path(dut):
    """A slow peer on path 0 answers requests to its slow region after the timeout: its late
    answers are never taken for another request's, no accepted beat is lost.

    Each round: write A (slow, answered 12 to 32 cycles late), write B with its W held back
    0-7 cycles after its AW (the case in which the late answer for A was taken as B's),
    write C, then read A (slow), B and C. With two paths, path 0 is returned to service
    before every operation, so each one starts on the path that still owes late answers;
    path 1 always answers.
    """
    lanes, paths = int(os.environ["FTVOTER_LANES"]), int(os.environ["FTVOTER_PATHS"])
    timeout = int(os.environ["FTVOTER_TIMEOUT"])
    seed = int(os.environ.get("FTVOTER_SEED", "1"))
    rng = random.Random(seed)
    tb = TB(dut, lanes=lanes, paths=paths, modes={0: "slow", 1: "ok"}, shared=True)
    await tb.reset()
    peer, memory, ref = tb.targets[0], tb.path_memories[0], Reference()
    counts = {"slow": {"OKAY": 0, "SLVERR": 0}, "fast": {"OKAY": 0, "SLVERR": 0}}

    async def do(kind, addr, **kwargs):
        if paths == 2:
            await tb.regs.clear("PATH_STATUS")
        data = rng.getrandbits(32) if kind == "W" else None
        resp, got = await lockstep_op(tb, kind, addr, data, **kwargs)
        counts["slow" if addr & SLOW else "fast"][resp.name] += 1
        if kind == "W":
            ref.wrote(addr, data, resp)
            # A write's OKAY says the target has done it (the peers write when they answer).
            assert resp != AxiResp.OKAY or memory.read(addr) == data, \
                f"write {addr:#x} got OKAY before a path did it: another request's answer"
        elif resp == AxiResp.OKAY:
            assert got in ref.may_hold(addr), (
                f"read {addr:#x} got {got:#x}, not one of "
                f"{sorted(map(hex, ref.may_hold(addr)))}: another request's data")
        if paths == 2:
            assert resp == AxiResp.OKAY, f"{kind} {addr:#x}: {resp.name} with path 1 working"
        elif addr & SLOW:
            assert resp == AxiResp.SLVERR, \
                f"{kind} {addr:#x} answered {peer.late} cycles late got {resp.name}"

    lates = range(timeout + 4, 4 * timeout + 1, 4)
    rounds = [(late, pause) for late in lates for pause in range(8)]
    for k, (late, pause) in enumerate(rounds):
        peer.late = late
        a, b, c = SLOW | 16 * k, 16 * k + 4, 16 * k + 8
        await do("W", a)
        await do("W", b, w_pause=pause)
        await do("W", c)
        for addr in (a, b, c):
            await do("R", addr)
    await ClockCycles(dut.clk, 2 * max(lates))
    ref.check(memory)
    assert not (peer.writes or peer.reads or peer.b or peer.r), "answers left untaken"
    assert peer.late_answers > 0
    if paths == 1:
        # The bridge recovers: operations after a late one get through again.
        assert counts["fast"]["OKAY"] > 0, counts
    report({"lanes": lanes, "paths": paths, "timeout": timeout, "seed": seed,
            "rounds": len(rounds), "late_answers": peer.late_answers, "responses": counts,
            "retries": await tb.regs.read("RETRIES")})


@cocotb.test()
async def run_test_half_write(dut):
    """Path 0 takes a write's AW but its W only after the timeout (it holds half a write).

    Taken within a second timeout, with one path: the bridge finishes the write there (the
    lanes got SLVERR) and goes on using the path. Beyond that, or with two paths (the write
    is retried on path 1 at once): the path gets no more writes until software returns it
    to service (after resetting the target), so the half is never completed with another
    write's data; reads still go to it.
    """
    lanes, paths = int(os.environ["FTVOTER_LANES"]), int(os.environ["FTVOTER_PATHS"])
    timeout = int(os.environ["FTVOTER_TIMEOUT"])
    seed = int(os.environ.get("FTVOTER_SEED", "1"))
    rng = random.Random(seed)
    tb = TB(dut, lanes=lanes, paths=paths, modes={0: "slow", 1: "ok"}, shared=True)
    await tb.reset()
    peer, memory, ref = tb.targets[0], tb.path_memories[0], Reference()
    peer.hold_w = True
    expected = AxiResp.SLVERR if paths == 1 else AxiResp.OKAY
    figures = {"lanes": lanes, "paths": paths, "timeout": timeout, "seed": seed}

    async def write(addr, resp):
        data = rng.getrandbits(32)
        start = tb.cycle
        got, _ = await lockstep_op(tb, "W", addr, data)
        ref.wrote(addr, data, got)
        assert got == resp, f"write {addr:#x}: {got.name}, not {resp.name}"
        assert got != AxiResp.OKAY or memory.read(addr) == data, \
            f"write {addr:#x} got OKAY before a path did it"
        return data, tb.cycle - start

    async def read(addr):
        resp, got = await lockstep_op(tb, "R", addr)
        assert resp == AxiResp.OKAY, f"read {addr:#x}: {resp.name}"
        assert got in ref.may_hold(addr), f"read {addr:#x}: {got:#x}"

    def new_aws():
        return [hex(addr) for addr in peer.aw_log[seen:]]

    # 1. W taken after the timeout, within a second one.
    seen = 0
    peer.late = timeout + 4
    a1, b1 = SLOW | 0x10, 0x14
    data, _ = await write(a1, expected)
    await ClockCycles(dut.clk, 3 * peer.late)
    assert (await tb.regs.fields("PATH_STATUS")).FAILED & 1
    if paths == 1:
        assert memory.read(a1) == data, "the bridge did not finish the write"
        await write(b1, AxiResp.OKAY)
        assert new_aws() == [hex(a1), hex(b1)], new_aws()
    else:
        await write(b1, AxiResp.OKAY)
        assert new_aws() == [hex(a1)], new_aws()
        peer.reset()
        await tb.regs.clear("PATH_STATUS")
    await read(b1)

    # 2. W not taken within two timeouts: the path is left holding half a write.
    seen = len(peer.aw_log)
    peer.late = 4 * timeout
    a, b, c, d = SLOW | 0x20, 0x24, 0x28, 0x2C
    await write(a, expected)
    assert peer.aws == [a] and not peer.ws, (peer.aws, peer.ws)
    assert (await tb.regs.fields("PATH_STATUS")).FAILED & 1
    await write(b, expected)
    await read(b)
    await ClockCycles(dut.clk, peer.late + 10)      # the peer takes W beats again
    _, figures["refused_cycles"] = await write(c, expected)
    assert new_aws() == [hex(a)], f"path 0 holds half a write, yet got AWs {new_aws()}"
    assert (await tb.regs.fields("PATH_STATUS")).FAILED & 1
    if paths == 1:
        # Refused at once, not after a timeout.
        assert figures["refused_cycles"] < timeout, figures
    # Software resets the target and returns the path to service: writes go there again.
    peer.reset()
    await tb.regs.clear("PATH_STATUS")
    await write(d, AxiResp.OKAY)
    assert new_aws() == [hex(a), hex(d)], new_aws()
    await read(d)
    ref.check(memory)
    report(figures)


# --- pytest side -----------------------------------------------------------------------

def _run(tmp_path, params, testcase, env):
    return run_testbench("bridge", params, "test_bridge_tb", testcase, tmp_path, env)


# The tests share four builds (each most of a minute of make test): TMR with the register
# window at 0x8000_0000, the two (lanes, paths) configurations with an 8-cycle path timeout
# (DMR with one path also runs the DMR tests of registers and random faults, which do
# not depend on the timeout), and the diagnose policy.
TMR_WINDOW = {"csr_base": 0x8000_0000}
TMR_WINDOW_ENV = {"FTVOTER_CSR_BASE": hex(0x8000_0000)}
DMR = {"timeout": 8}


@pytest.mark.tb
@pytest.mark.parametrize("lanes", [2, 3])
def test_registers(tmp_path, lanes):
    # TMR with the window at 0x8000_0000 (a 32-bit address), DMR at the default top.
    params, env = {"lanes": lanes, **DMR}, {"FTVOTER_LANES": lanes}
    if lanes == 3:
        params, env = {"lanes": lanes, **TMR_WINDOW}, {**env, **TMR_WINDOW_ENV}
    _run(tmp_path, params, "run_test_registers", env)


@pytest.mark.tb
@pytest.mark.parametrize("paths, mode", [(2, "slverr"), (2, "silent"), (1, "slverr"),
                                         (1, "silent")])
def test_paths(tmp_path, paths, mode):
    # On the builds of SLOW_PEER_CONFIGS: two paths with three lanes, one with two.
    lanes = 3 if paths == 2 else 2
    _run(tmp_path, {"lanes": lanes, "paths": paths, "timeout": 8}, "run_test_paths",
         {"FTVOTER_LANES": lanes, "FTVOTER_PATHS": paths, "FTVOTER_PATH0": mode,
          "FTVOTER_TIMEOUT": 8})


@pytest.mark.tb
def test_diagnose(tmp_path):
    _run(tmp_path, {"lanes": 2, "policy": "diagnose", "timeout": 40}, "run_test_diagnose",
         {"FTVOTER_TIMEOUT": 40})


@pytest.mark.tb
@pytest.mark.parametrize("lanes", [2, 3])
def test_random_faults(tmp_path, lanes):
    params, env = {"lanes": lanes, **DMR}, {"FTVOTER_LANES": lanes}
    if lanes == 3:      # on test_registers' TMR build
        params, env = {"lanes": lanes, **TMR_WINDOW}, {**env, **TMR_WINDOW_ENV}
    figures = _run(tmp_path, params, "run_test_random",
                   # 4,000 operations in make test (FTVOTER_BRIDGE_OPS=10000: the earlier
                   # figure, a minute a lane count).
                   {**env, "FTVOTER_OPS": int(os.environ.get("FTVOTER_BRIDGE_OPS", "4000")),
                    "FTVOTER_SEED": lanes})
    assert figures["escapes"] == 0
    assert figures["isolations"] + figures["halts"] == figures["faults"] > 0
    assert set(figures["detection_to_isolation"]) == {"1"}
    if lanes == 2:
        assert figures["isolated_by"]["divergence_with_self_error"] > 0


# Two of the four (lanes, paths) builds: each lane count and each path count once (the
# other two were run when the late-answer fix landed; tests/test_bridge_engines.py checks
# the engines for every path count in amaranth.sim). Keeps make test under 15 minutes.
SLOW_PEER_CONFIGS = [(2, 1), (3, 2)]


@pytest.mark.tb
@pytest.mark.parametrize("lanes, paths", SLOW_PEER_CONFIGS)
def test_slow_path(tmp_path, lanes, paths):
    figures = _run(tmp_path, {"lanes": lanes, "paths": paths, "timeout": 8},
                   "run_test_slow_path",
                   {"FTVOTER_LANES": lanes, "FTVOTER_PATHS": paths, "FTVOTER_TIMEOUT": 8})
    assert figures["late_answers"] > 0


@pytest.mark.tb
@pytest.mark.parametrize("lanes, paths", SLOW_PEER_CONFIGS)
def test_half_write(tmp_path, lanes, paths):
    _run(tmp_path, {"lanes": lanes, "paths": paths, "timeout": 8}, "run_test_half_write",
         {"FTVOTER_LANES": lanes, "FTVOTER_PATHS": paths, "FTVOTER_TIMEOUT": 8})
