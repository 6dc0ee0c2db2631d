"""One campaign shard: a cocotb test that runs a list of injections on the campaign bench.

Run by :mod:`ftvoter.sim.campaign` in its own simulator process, never per cycle: for each
injection it writes the fault to the bench's inputs, waits for ``done`` and appends the
bench's record as one JSON line to ``$FTVOTER_SHARD_OUT`` (line-buffered, so a crash
loses at most the injection in flight). The clock runs inside the Verilated model.

Environment: ``FTVOTER_SHARD_PLAN`` (JSON: ``window``, ``golden_cycles``, ``injections``),
``FTVOTER_SHARD_OUT``, ``FTVOTER_PARENT`` (the campaign's pid: the shard stops if it is
gone), and, to test that a failed shard is recorded, ``FTVOTER_SHARD_CRASH`` and
``FTVOTER_SHARD_HANG`` (an injection id at which to crash, or to stop responding).
"""

import gc
import json
import os
import signal
import time
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge


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


@cocotb.test()
async def run_shard(dut):
    plan = json.loads(Path(os.environ["FTVOTER_SHARD_PLAN"]).read_text())
    crash = int(os.environ.get("FTVOTER_SHARD_CRASH", "-1"))
    hang = int(os.environ.get("FTVOTER_SHARD_HANG", "-1"))
    parent = int(os.environ.get("FTVOTER_PARENT", "0"))
    bench = Bench(dut, plan["injection_fields"], plan["record_fields"])
    gc.disable()     # the loop makes no garbage cycles; collections only cost time
    with open(os.environ["FTVOTER_SHARD_OUT"], "a", buffering=1) as out:
        # The golden check: no fault (a stuck-at with an empty mask, for the whole
        # workload), so the two copies must agree all along.
        golden = await bench.run({"arm": 1, "model": 1, "mask": 0, "start": 0,
                                  "duration": 0}, plan["golden_cycles"])
        out.write(json.dumps({"golden": golden}) + "\n")
        for count, injection in enumerate(plan["injections"]):
            if injection["id"] == crash:
                os.kill(os.getpid(), signal.SIGSEGV)
            if injection["id"] == hang:
                time.sleep(3600)
            if parent and count % 64 == 0:
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    return
            record = await bench.run(injection, plan["window"])
            record["id"] = injection["id"]
            out.write(json.dumps(record) + "\n")
