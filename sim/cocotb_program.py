"""cocotb code that runs a C program on CPU lanes in lockstep (``ftvoter sim --program``).

The lockstep top's ``path0_bus`` is answered by :class:`IoPath`, the I/O path of the
lanes' memory map (programs/README.md): CONSOLE and EXIT writes, the request area read
from an initial image, every other word a plain memory. It is event-driven (it wakes on
``awvalid``/``arvalid`` only), so the clock runs in the simulator at its own speed.
Parameters come in environment variables, figures go out as JSON to ``$FTVOTER_SUMMARY``.
"""

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, RisingEdge, Timer

__all__ = ["IoPath"]

from ftvoter.sim.iss import CONSOLE, EXIT

PERIOD_NS = 10


class IoPath:
    """An AXI4-Lite target for the programs' I/O path, on the ports ``<prefix>__*``.

    Every accepted write is logged as ``(addr, data)`` in ``writes`` (CONSOLE and EXIT
    included), every read as ``(addr, data)`` in ``reads``; ``console`` collects the low
    bytes written to CONSOLE; ``exited`` is set at the first EXIT write, with
    ``exit_code`` (signed) and ``exit_cycle``.
    """

    def __init__(self, dut, prefix, image=None):
        self.dut, self.clk = dut, dut.clk
        self.bus = {name: getattr(dut, f"{prefix}__{name}") for name in (
            "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp",
            "bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
            "rready")}
        for name in ("awready", "wready", "bvalid", "bresp", "arready", "rvalid", "rresp",
                     "rdata"):
            self.bus[name].value = 0
        self.words = dict(image or {})
        self.writes, self.reads, self.console = [], [], bytearray()
        self.exited, self.exit_code, self.exit_cycle = Event(), None, None
        cocotb.start_soon(self._writes())
        cocotb.start_soon(self._reads())

    @staticmethod
    def cycle():
        return int(cocotb.utils.get_sim_time("ns")) // PERIOD_NS

    async def _when(self, *names):
        """Wait for a falling edge at which all the named signals are high."""
        while True:
            if all(self.bus[name].value == 1 for name in names):
                await FallingEdge(self.clk)
                if all(self.bus[name].value == 1 for name in names):
                    return
            else:
                await First(*(RisingEdge(self.bus[name]) for name in names))

    async def _accepted(self, ready):
        """Wait for the clock edge at which the initiator takes the response."""
        while True:
            await FallingEdge(self.clk)
            if self.bus[ready].value == 1:
                await RisingEdge(self.clk)
                return

    async def _writes(self):
        bus = self.bus
        while True:
            await self._when("awvalid", "wvalid")
            addr, data = int(bus["awaddr"].value), int(bus["wdata"].value)
            strb = int(bus["wstrb"].value)
            bus["awready"].value = bus["wready"].value = 1
            await RisingEdge(self.clk)
            bus["awready"].value = bus["wready"].value = 0
            self._store(addr & ~3, data, strb)
            bus["bvalid"].value = 1
            await self._accepted("bready")
            bus["bvalid"].value = 0

    async def _reads(self):
        bus = self.bus
        while True:
            await self._when("arvalid")
            addr = int(bus["araddr"].value) & ~3
            bus["arready"].value = 1
            await RisingEdge(self.clk)
            bus["arready"].value = 0
            data = self.words.get(addr, 0)
            self.reads.append((addr, data))
            bus["rdata"].value = data
            bus["rvalid"].value = 1
            await self._accepted("rready")
            bus["rvalid"].value = 0

    def _store(self, addr, data, strb):
        old = self.words.get(addr, 0)
        for byte in range(4):
            if strb >> byte & 1:
                old = (old & ~(0xFF << 8 * byte)) | (data & (0xFF << 8 * byte))
        self.words[addr] = old
        self.writes.append((addr, old))
        if addr == CONSOLE:
            self.console.append(data & 0xFF)
        elif addr == EXIT and not self.exited.is_set():
            self.exit_code = data - (1 << 32) if data >> 31 else data
            self.exit_cycle = self.cycle()
            self.exited.set()


def _load_rams(dut, path):
    """Write the RAM image in ``path`` into every lane's RAM (``lane<i>.ram.mem``), and
    its check bits into ``lane<i>.ram.mem_check`` where the RAM has them."""
    from ftvoter.hdl.units.memory_check import check_bits
    data = open(path, "rb").read()
    words = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    for lane in range(len(dut.self_error)):
        ram = getattr(dut, f"lane{lane}").ram
        mem = ram.mem
        if len(mem) != len(words):
            raise ValueError(f"lane{lane}'s RAM has {len(mem)} words, the image "
                             f"{len(words)}")
        check = getattr(ram, "mem_check", None)
        for index, word in enumerate(words):
            mem[index].value = word
            if check is not None:
                check[index].value = check_bits(word)


async def _flip_ram(dut, flip, start, figures):
    """An upset of a lane RAM word: ``lane:word:bit:cycle`` (cycles from ``start``)."""
    lane, word, bit, cycle = (int(part) for part in flip.split(":"))
    await ClockCycles(dut.clk, cycle)
    mem = getattr(dut, f"lane{lane}").ram.mem
    mem[word].value = int(mem[word].value) ^ 1 << bit
    figures.update(lane=lane, word=word, bit=bit, cycle=IoPath.cycle() - start)


def _arm_flip(dut, flip):
    """Arm the fault injector: flip bit ``bit`` of site ``index`` at cycle ``cycle``."""
    index, bit, cycle = (int(part) for part in flip.split(":"))
    dut.fault__site.value = index
    dut.fault__mask.value = 1 << bit
    dut.fault__model.value = 0          # FLIP
    dut.fault__start.value = cycle
    dut.fault__duration.value = 0
    dut.fault__common.value = 0
    dut.fault__arm.value = 1


def _retired(dut):
    """Instructions lane 0 retired, if its core tells them (PicoRV32's count_instr, the
    lane's count of a core's ``retired`` pulses)."""
    for path in ("core.picorv32_core_count_instr", "core.cpu.picorv32_core.count_instr",
                 "retired_count"):
        handle = dut
        try:
            for part in ("lane0", *path.split(".")):
                handle = getattr(handle, part)
            return int(handle.value)
        except (AttributeError, ValueError):
            continue
    return None


async def _dump(dut, mgmt, lane, state_words, ram_words):
    """Freeze ``lane``, read its state vector and RAM through DUMP_SELECT/DUMP_DATA, then
    insert it again (a resync); return the words (:func:`ftvoter.boards.dump.quick_dump`)."""
    from ftvoter.boards.dump import quick_dump
    return await quick_dump(mgmt, lane, state_words, ram_words,
                            settle=lambda: ClockCycles(dut.clk, 2))


async def _play(dut, actions, start, log):
    """Play the ``--at`` actions ``[cycle, action, lane]`` (cycles from ``start``)."""
    from .mgmt import mgmt_driver
    mgmt = mgmt_driver(dut)
    for cycle, action, lane in sorted(actions):
        now = IoPath.cycle() - start
        if cycle > now:
            await ClockCycles(dut.clk, cycle - now)
        entry = {"cycle": IoPath.cycle() - start, "action": action, "lane": lane}
        log.append(entry)
        if action == "dump":
            entry.update(await _dump(dut, mgmt, lane, int(os.environ["FTVOTER_STATE_WORDS"]),
                                     int(os.environ["FTVOTER_RAM_WORDS"])))
            continue
        if action in ("unplug", "plug"):
            present = int(dut.present.value)
            bit = 1 << lane
            dut.present.value = present & ~bit if action == "unplug" else present | bit
            if action == "unplug":
                continue
            await RisingEdge(dut.clk)
        op = {"reset-insert": "RESET_INSERT", "plug": "INSERT"}.get(action, action).upper()
        await mgmt.lane_command(lane, op)


async def _watch_resyncs(dut, start, resyncs):
    """Record each live resync's figures when it ends."""
    while True:
        await RisingEdge(dut.resync_busy)
        began = IoPath.cycle() - start
        await FallingEdge(dut.resync_busy)
        await RisingEdge(dut.clk)
        resyncs.append({"start_cycle": began, "end_cycle": IoPath.cycle() - start,
                        "stop_cycles": int(dut.resync_stop.value),
                        "words": int(dut.resync_words.value),
                        "rounds": int(dut.resync_rounds.value),
                        "flops": int(dut.resync_flops.value)})


#: What the timeline records: the top's ports, when they change (sampled mid-cycle).
TIMELINE = ("lane_states", "lane_frozen", "mismatch", "halted", "rollback", "restoring",
            "resync_phase")


async def _record_timeline(dut, start, samples):
    """Append ``[cycle, {port: value}]`` whenever one of :data:`TIMELINE` changes."""
    from cocotb.triggers import ValueChange
    ports = [name for name in TIMELINE if hasattr(dut, name)]
    last = None
    while True:
        await FallingEdge(dut.clk)
        now = {name: int(getattr(dut, name).value) for name in ports}
        if now != last:
            samples.append([IoPath.cycle() - start, now])
            last = now
        await First(*(ValueChange(getattr(dut, name)) for name in ports))


async def _count_mismatches(dut, counts):
    while True:
        await RisingEdge(dut.mismatch)
        counts["mismatch_events"] += 1
        if counts["first_mismatch_cycle"] is None:
            counts["first_mismatch_cycle"] = IoPath.cycle()


@cocotb.test()
async def run_program(dut):
    """Run the program in the lanes' RAM until it writes EXIT or FTVOTER_CYCLES pass."""
    cycles = int(os.environ["FTVOTER_CYCLES"])
    image = {int(k): v for k, v in json.loads(os.environ.get("FTVOTER_IO", "{}")).items()}
    io = IoPath(dut, "path0_bus", image)
    # The split path (live-resync designs): a lane split off runs its program there.
    split_io = IoPath(dut, "split_bus", image) if hasattr(dut, "split_bus__awvalid") else None
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.irq.value = 0
    dut.rst.value = 1
    if hasattr(dut, "fault__arm"):
        dut.fault__arm.value = 0
    if hasattr(dut, "present"):
        dut.present.value = (1 << len(dut.self_error)) - 1
    await Timer(2 * PERIOD_NS, unit="ns")
    if os.environ.get("FTVOTER_IMAGE"):
        _load_rams(dut, os.environ["FTVOTER_IMAGE"])
    if os.environ.get("FTVOTER_FLIP"):
        _arm_flip(dut, os.environ["FTVOTER_FLIP"])
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    counts = {"mismatch_events": 0, "first_mismatch_cycle": None}
    cocotb.start_soon(_count_mismatches(dut, counts))
    start = IoPath.cycle()
    actions, resyncs, samples, ram_flip = [], [], [], {}
    if os.environ.get("FTVOTER_RAM_FLIP"):
        cocotb.start_soon(_flip_ram(dut, os.environ["FTVOTER_RAM_FLIP"], start, ram_flip))
    if os.environ.get("FTVOTER_TIMELINE"):
        cocotb.start_soon(_record_timeline(dut, start, samples))
    play = None
    if os.environ.get("FTVOTER_AT"):
        play = cocotb.start_soon(_play(dut, json.loads(os.environ["FTVOTER_AT"]), start,
                                       actions))
        cocotb.start_soon(_watch_resyncs(dut, start, resyncs))
    started = time.perf_counter()
    await First(io.exited.wait(), Timer(cycles * PERIOD_NS, unit="ns"))
    elapsed = time.perf_counter() - started
    if play is not None and not play.done():
        # An action still under way at the exit (a dump's reads): let it finish, and the
        # resync it started.
        await First(play, Timer(cycles * PERIOD_NS, unit="ns"))
        lanes = len(dut.self_error)
        for _ in range(cycles // 100):
            await ClockCycles(dut.clk, 100)
            states = int(dut.lane_states.value)
            if all(states >> 2 * i & 3 != 3 for i in range(lanes)):    # none SYNCING
                break
    end = io.exit_cycle if io.exit_cycle is not None else IoPath.cycle()
    figures = {
        "cycles": end - start,
        "exit_code": io.exit_code,
        "console": io.console.hex(),
        "io_writes": io.writes,
        "io_reads": io.reads,
        "retired": _retired(dut),
        "flip_cycle": (int(dut.fault__start.value) if os.environ.get("FTVOTER_FLIP")
                       and int(dut.fault__cycle.value) > int(dut.fault__start.value)
                       else None),
        "self_error": int(dut.self_error.value),
        "online": int(dut.online.value),
        "wall_seconds": elapsed,
        "actions": actions,
        "resyncs": resyncs,
        "timeline": samples,
        "ram_flip": ram_flip and {**ram_flip, "words": [
            int(getattr(dut, f"lane{i}").ram.mem[ram_flip["word"]].value)
            for i in range(len(dut.self_error))]},
        **({"split_console": split_io.console.hex(), "split_writes": split_io.writes,
            "split_reads": split_io.reads} if split_io is not None else {}),
        **counts,
    }
    if hasattr(dut, "mgmt__awvalid"):
        from .mgmt import mgmt_driver
        mgmt = mgmt_driver(dut)
        figures["bridge"] = {
            "halted": bool((await mgmt.fields("STATUS")).HALTED),
            "lane_states": await mgmt.lane_states(len(dut.self_error)),
            "error_cause": await mgmt.read("ERROR_CAUSE"),
            "rollbacks": await mgmt.read("ROLLBACKS")}
    path = os.environ["FTVOTER_SUMMARY"]
    with open(f"{path}.tmp", "w") as handle:
        json.dump(figures, handle)
    os.replace(f"{path}.tmp", path)
