"""One campaign shard: a cocotb test that runs a list of injections on the campaign bench.

Started by :mod:`ftvoter.sim.supervisor` in its own simulator process, never per cycle:
for each injection it writes the fault to the bench's inputs, waits for ``done`` and
appends the bench's record as one JSON line to ``$FTVOTER_SHARD_OUT`` (line-buffered, so
a crash loses at most the injection in flight). The clock runs inside the Verilated
model.

Environment: ``FTVOTER_SHARD_PLAN`` (JSON: ``window``, ``golden_cycles``, ``injections``),
``FTVOTER_SHARD_OUT``, ``FTVOTER_PARENT`` (the campaign's pid: the shard stops if it is
gone), and, to test that a failed shard is recorded, ``FTVOTER_SHARD_CRASH`` and
``FTVOTER_SHARD_HANG`` (an injection id at which to crash, or to stop responding), and
``FTVOTER_SHARD_HEARTBEAT`` (cycles between heartbeats, :data:`HEARTBEAT_CYCLES` by
default).
"""

import bisect
import gc
import json
import os
import signal
import time
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import RisingEdge, Timer

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

    ``injection`` and ``record`` are packed vectors; ``fields`` give each field's name,
    offset and width (from :attr:`~ftvoter.hdl.campaign.CampaignBench.injection_fields`
    and ``record_fields``), so one write and one read serve an injection.
    """

    def __init__(self, dut, injection_fields, record_fields):
        self._seq = 0
        self._injection_fields = injection_fields
        self._record_fields = [(name, offset, (1 << width) - 1)
                               for name, offset, width in record_fields]
        self._injection = dut.injection
        self._record = dut.record
        self._seq_handle = dut.seq
        self._done = dut.done
        self._done_seq = dut.done_seq

    async def run(self, fault, window):
        """Run one injection (``fault``: the injector inputs) and return the record."""
        self._injection.value = pack(self._injection_fields, {**fault, "window": window})
        self._seq = (self._seq + 1) & 0xff
        self._seq_handle.value = self._seq
        await RisingEdge(self._done)
        while int(self._done_seq.value) != self._seq:   # the end of a run before ours
            await RisingEdge(self._done)
        record = self._record.value.to_unsigned()
        return {name: record >> offset & mask for name, offset, mask in self._record_fields}


class Schedule:
    """The order of a shard's injections.

    After a run that ended at cycle ``c``, the bench can go on from there: it loads the
    faulty copy from the golden one instead of resetting both, so the next run need not
    re-simulate the cycles before its start. The schedule therefore takes next the
    injection with the earliest start from ``c + 2`` on (the load takes one cycle) and,
    when there is none, restarts from reset with the earliest start left. With
    ``reuse`` false, every run restarts, in plan order.
    """

    def __init__(self, injections, reuse=True):
        self._reuse = reuse
        self._pending = (sorted(injections, key=lambda i: (i["start"], i["id"])) if reuse
                         else list(reversed(injections)))
        self._starts = [i["start"] for i in self._pending]

    def __len__(self):
        return len(self._pending)

    def next(self, cycle=None):
        """Return ``(injection, restart)``, the run to do after one that ended at ``cycle``."""
        if not self._reuse:
            return self._pending.pop(), 1
        if cycle is not None:
            index = bisect.bisect_left(self._starts, cycle + 2)
            if index < len(self._pending):
                del self._starts[index]
                return self._pending.pop(index), 0
        del self._starts[0]
        return self._pending.pop(0), 1


async def _heartbeat(out, cycles):
    """Write ``{"alive": cycle}`` every ``cycles`` simulated cycles."""
    while True:
        await Timer(cycles * STEPS_PER_CYCLE, unit="step")
        out.write(json.dumps({"alive": get_sim_time("step") // STEPS_PER_CYCLE}) + "\n")


@cocotb.test()
async def run_shard(dut):
    plan = json.loads(Path(os.environ["FTVOTER_SHARD_PLAN"]).read_text())
    crash = int(os.environ.get("FTVOTER_SHARD_CRASH", "-1"))
    hang = int(os.environ.get("FTVOTER_SHARD_HANG", "-1"))
    parent = int(os.environ.get("FTVOTER_PARENT", "0"))
    bench = Bench(dut, plan["injection_fields"], plan["record_fields"])
    from .checkpoint_slot import ShardCheckpoints
    checkpoints = ShardCheckpoints(dut, bench, plan)
    schedule = Schedule(plan["injections"], plan.get("reuse", True))
    gc.disable()     # the loop makes no garbage cycles; collections only cost time
    with open(os.environ["FTVOTER_SHARD_OUT"], "a", buffering=1) as out:
        cocotb.start_soon(_heartbeat(out, int(os.environ.get("FTVOTER_SHARD_HEARTBEAT",
                                                             HEARTBEAT_CYCLES))))
        # The golden check: no fault (a stuck-at with an empty mask, for the whole
        # workload), so the two copies must agree all along; with checkpoints, the one
        # their golden run made. Every line names the injection that runs next, so that
        # a crash is pinned on the right one.
        golden = await checkpoints.golden_check()
        following = schedule.next() if len(schedule) else (None, 1)
        out.write(json.dumps({"golden": golden, "next": following[0] and
                              following[0]["id"]}) + "\n")
        count = 0
        while following[0] is not None:
            injection, restart = following
            if injection["id"] == crash:
                os.kill(os.getpid(), signal.SIGSEGV)
            if injection["id"] == hang:
                time.sleep(3600)
            count += 1
            if parent and count % 64 == 0:
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    return
            began = get_sim_time("step")
            if restart:     # from reset, or from the checkpoint before the start
                await checkpoints.restart(injection["start"])
            record = await bench.run({**injection, "restart": restart}, plan["window"])
            record["run_cycles"] = (get_sim_time("step") - began) // STEPS_PER_CYCLE
            following = schedule.next(record["cycle"]) if len(schedule) else (None, 1)
            record["id"] = injection["id"]
            record["restart"] = restart
            record["next"] = following[0] and following[0]["id"]
            out.write(json.dumps(record) + "\n")
