"""One campaign shard: a cocotb test that runs a list of injections on the campaign bench.

Started by :mod:`ftvoter.sim.supervisor` in its own simulator process, never per cycle:
for each injection it writes the fault to the inputs of a free faulty copy of the bench,
waits for ``done`` and appends the bench's record as one JSON line to
``$FTVOTER_SHARD_OUT`` (line-buffered, so a crash loses at most the injections in
flight). The clock runs inside the Verilated model.

Environment: ``FTVOTER_SHARD_PLAN`` (JSON: ``window``, ``golden_cycles``, ``injections``,
``reuse``, ``copies``: the faulty copies to use, at most the bench's),
``FTVOTER_SHARD_OUT``, ``FTVOTER_PARENT`` (the campaign's pid: the shard stops if it is
gone), and, to test that a failed shard is recorded, ``FTVOTER_SHARD_CRASH`` and
``FTVOTER_SHARD_HANG`` (an injection id at which to crash, or to stop responding), and
``FTVOTER_SHARD_HEARTBEAT`` (cycles between heartbeats, :data:`HEARTBEAT_CYCLES` by
default).
"""

import gc
import json
import os
import signal
import time
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import Timer

from .slots import Slots

#: The bench's wrapper runs a 10 ns clock with a 1 ps time precision.
STEPS_PER_CYCLE = 10_000
#: Simulated cycles between two heartbeat lines (``{"alive": cycle}``): the campaign's hang
#: timer measures lack of progress, so a long golden run or window is not a hang.
HEARTBEAT_CYCLES = 2**20


def pack(fields, values):
    """Pack ``values`` (a dict) into one integer by ``fields`` (name, offset, width)."""
    packed = 0
    for name, offset, width in fields:
        packed |= (values.get(name, 0) & ((1 << width) - 1)) << offset
    return packed


def unpack(fields, packed):
    """Unpack an integer into a dict by ``fields`` (name, offset, width)."""
    return {name: packed >> offset & ((1 << width) - 1) for name, offset, width in fields}


class Bench:
    """The campaign bench's ports, as cached cocotb handles.

    ``injection`` and ``record`` are packed vectors of every faulty copy's fields (copy
    ``k``'s at ``k`` times the width of one); ``fields`` give each field's name, offset
    and width within one copy (from
    :attr:`~ftvoter.hdl.campaign.CampaignBench.injection_fields` and ``record_fields``),
    so one write starts the runs of a cycle and one read serves their records.
    """

    def __init__(self, dut, injection_fields, record_fields):
        self._injection_fields = injection_fields
        self._injection_width = max(offset + width for _, offset, width in injection_fields)
        self._record_width = max(offset + width for _, offset, width in record_fields)
        self._record_fields = [(name, offset, (1 << width) - 1)
                               for name, offset, width in record_fields]
        self._injection = dut.injection
        self._record = dut.record
        self._seq_handle = dut.seq
        self._done = dut.done
        self._done_seq = dut.done_seq
        self._finished = dut.finished
        self.copies = len(dut.injection) // self._injection_width
        self._seqs = [0] * self.copies
        self._injection_value = 0
        self._seq_value = 0

    def start(self, runs, window):
        """Start runs: ``(copy, fault)`` pairs (``fault``: the injector inputs and
        ``restart``), all in this cycle."""
        width = self._injection_width
        for copy, fault in runs:
            packed = pack(self._injection_fields, {**fault, "window": window})
            self._injection_value = (self._injection_value & ~(((1 << width) - 1) <<
                                                                (copy * width)) |
                                     packed << (copy * width))
            self._seqs[copy] = seq = (self._seqs[copy] + 1) & 0xff
            self._seq_value = self._seq_value & ~(0xff << (8 * copy)) | seq << (8 * copy)
        self._injection.value = self._injection_value
        self._seq_handle.value = self._seq_value

    async def ended(self, running):
        """Wait until some of the copies in ``running`` end their runs; return ``(copy,
        record)`` pairs, in copy order."""
        while True:
            await self._finished.value_change
            if self.copies == 1:
                # One copy: ``finished`` moves only when its run ends (a run that ended
                # does not end again), so done and done_seq need not be read.
                ended = [0]
                break
            done = int(self._done.value)
            done_seq = int(self._done_seq.value)
            ended = [copy for copy in sorted(running) if done >> copy & 1 and
                     done_seq >> (8 * copy) & 0xff == self._seqs[copy]]
            if ended:
                break
        packed = self._record.value.to_unsigned()
        width = self._record_width
        return [(copy, {name: packed >> (copy * width + offset) & mask
                        for name, offset, mask in self._record_fields}) for copy in ended]

    async def run(self, fault, window):
        """Run one injection on the first faulty copy (``fault``: the injector inputs and
        ``restart``); return its record."""
        self.start([(0, fault)], window)
        [(_, record)] = await self.ended([0])
        return record


async def run_injections(bench, slots, window, out, runs, *, crash=-1, hang=-1, parent=0,
                         restart=None):
    """Run every injection of ``slots`` (:class:`~ftvoter.sim.slots.Slots`), starting with
    ``runs`` (its :meth:`~ftvoter.sim.slots.Slots.begin`), and write each record as a JSON
    line to ``out``; return ``(alive, cycle)``: False if the campaign (``parent``, a pid)
    is gone, and the cycle the bench stands in (where the last runs ended; None if none
    ran).

    Every line names the injection started next (``next``) and, with several faulty
    copies, those in flight (``flying``), so that a crash is pinned on the right one.
    ``crash`` and ``hang`` are the ids of ``FTVOTER_SHARD_CRASH`` and ``_HANG``;
    ``restart(start)`` (a coroutine) prepares each restart, its earliest ``start`` given
    (a checkpoint before it: :class:`~ftvoter.sim.checkpoint_slot.ShardCheckpoints`).
    """
    started = {}        # copy -> (sim time, restart) of its run
    count = 0
    cycle = None
    while slots.running:
        for copy, injection, again in runs:
            if injection["id"] == crash:
                os.kill(os.getpid(), signal.SIGSEGV)
            if injection["id"] == hang:
                time.sleep(3600)
            started[copy] = (get_sim_time("step"), again)
        if restart is not None and runs and runs[0][2]:
            await restart(min(injection["start"] for _, injection, _ in runs))
        if runs:
            bench.start([(copy, {**injection, "restart": again})
                         for copy, injection, again in runs], window)
        count += len(runs)
        if parent and count % 64 < len(runs):
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                return False, cycle
        ended = await bench.ended(slots.running)
        cycle = ended[0][1]["cycle"]
        ids = {copy: slots.running[copy]["id"] for copy, _ in ended}
        now = get_sim_time("step")
        runs = slots.ended([(copy, record["cycle"]) for copy, record in ended])
        if not slots.running and len(slots):
            runs = slots.begin()
        following = runs[0][1]["id"] if runs else None
        flying = slots.flying() if bench.copies > 1 else None
        for copy, record in ended:
            began, again = started[copy]
            record["run_cycles"] = (now - began) // STEPS_PER_CYCLE
            record["id"] = ids[copy]
            record["restart"] = again
            record["next"] = following
            if flying is not None:
                record["flying"] = flying
            out.write(json.dumps(record) + "\n")
    return True, cycle


async def _heartbeat(out, cycles):
    """Write ``{"alive": cycle}`` every ``cycles`` simulated cycles."""
    while True:
        await Timer(cycles * STEPS_PER_CYCLE, unit="step")
        out.write(json.dumps({"alive": get_sim_time("step") // STEPS_PER_CYCLE}) + "\n")


@cocotb.test()
async def run_shard(dut):
    plan = json.loads(Path(os.environ["FTVOTER_SHARD_PLAN"]).read_text())
    bench = Bench(dut, plan["injection_fields"], plan["record_fields"])
    slots = Slots(plan["injections"], min(bench.copies, plan.get("copies", bench.copies)),
                  plan.get("reuse", True))
    from .checkpoint_slot import ShardCheckpoints
    checkpoints = ShardCheckpoints(dut, bench, plan)
    gc.disable()     # the loop makes no garbage cycles; collections only cost time
    with open(os.environ["FTVOTER_SHARD_OUT"], "a", buffering=1) as out:
        cocotb.start_soon(_heartbeat(out, int(os.environ.get("FTVOTER_SHARD_HEARTBEAT",
                                                             HEARTBEAT_CYCLES))))
        # The golden check: no fault (a stuck-at with an empty mask, for the whole
        # workload), so the two copies must agree all along; with checkpoints, the one
        # their golden run made. Every line names the injection that runs next, so that
        # a crash is pinned on the right one.
        golden = await checkpoints.golden_check()
        runs = slots.begin() if len(slots) else []
        out.write(json.dumps({"golden": golden, "next": runs[0][1]["id"] if runs else None,
                              **({"flying": slots.flying()} if bench.copies > 1 else {})})
                  + "\n")
        await run_injections(bench, slots, plan["window"], out, runs,
                             crash=int(os.environ.get("FTVOTER_SHARD_CRASH", "-1")),
                             hang=int(os.environ.get("FTVOTER_SHARD_HANG", "-1")),
                             parent=int(os.environ.get("FTVOTER_PARENT", "0")),
                             restart=checkpoints.restart)
