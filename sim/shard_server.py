"""A long-lived campaign shard: a cocotb test that runs batches of injections it is sent.

The Dask backend (:mod:`ftvoter.sim.dask_worker`) starts one per worker thread and keeps it
for the whole campaign, so the simulator is started (and its golden run checked) once per
worker, not once per task. It is :mod:`ftvoter.sim.shard`'s loop, fed from a pipe:

- in (file descriptor ``$FTVOTER_SERVE_IN``), JSON lines: first the layout
  (``injection_fields``, ``record_fields``, ``window``, ``golden_cycles``, ``reuse``),
  then one batch per line (``{"batch": n, "injections": [...]}``, the bench's injection
  fields with their ``id``); end of file ends the simulation;
- the records file (``$FTVOTER_SERVE_RECORDS``, line-buffered, so a crash loses at most
  the injection in flight), JSON lines, each naming the injection that runs next (so a
  crash is pinned on the right one): ``{"golden": record, "next": null}`` once, then per
  batch ``{"batch": n, "next": id}``, one record per injection (with ``id``, ``restart``,
  ``run_cycles``, ``next``), heartbeats ``{"alive": cycle}``, and ``{"done": n, "next":
  null}``;
- notices (file descriptor ``$FTVOTER_SERVE_OUT``): a line ``golden`` or ``done`` once the
  golden check or a batch is written, so the worker sleeps until then.

A batch goes on from where the previous one ended (the bench loads the faulty copy from the
golden one when it can, see :mod:`~ftvoter.sim.slots`); an injection's record
does not depend on that. ``FTVOTER_SHARD_CRASH``, ``FTVOTER_SHARD_HANG``,
``FTVOTER_SHARD_HEARTBEAT`` and ``FTVOTER_PARENT`` work as in :mod:`ftvoter.sim.shard`.
"""

import gc
import json
import os

import cocotb

# Not the shard's cocotb test itself: cocotb runs every test it finds in this module.
from .shard import HEARTBEAT_CYCLES, Bench, _heartbeat, run_injections
from .slots import Slots

__all__ = []


@cocotb.test()
async def serve_shard(dut):
    source = os.fdopen(int(os.environ["FTVOTER_SERVE_IN"]), "r")
    notices = int(os.environ["FTVOTER_SERVE_OUT"])
    out = open(os.environ["FTVOTER_SERVE_RECORDS"], "a", buffering=1)
    crash = int(os.environ.get("FTVOTER_SHARD_CRASH", "-1"))
    hang = int(os.environ.get("FTVOTER_SHARD_HANG", "-1"))
    parent = int(os.environ.get("FTVOTER_PARENT", "0"))
    layout = json.loads(source.readline())
    bench = Bench(dut, layout["injection_fields"], layout["record_fields"])
    from .checkpoint_slot import ShardCheckpoints
    checkpoints = ShardCheckpoints(dut, bench, layout)
    gc.disable()     # the loop makes no garbage cycles; collections only cost time
    cocotb.start_soon(_heartbeat(out, int(os.environ.get("FTVOTER_SHARD_HEARTBEAT",
                                                         HEARTBEAT_CYCLES))))
    # The golden check (no fault, the whole workload), as every shard makes it; with
    # checkpoints, the one their golden run made.
    golden = await checkpoints.golden_check()
    out.write(json.dumps({"golden": golden, "next": None}) + "\n")
    os.write(notices, b"golden\n")
    cycle = None        # where the bench stands: None = the golden run just ended
    for line in source:
        batch = json.loads(line)
        slots = Slots(batch["injections"], min(bench.copies, batch.get("copies",
                                                                       bench.copies)),
                      layout["reuse"])
        # A batch goes on from where the last one ended, when it can.
        runs = [] if cycle is None else slots.ended([(copy, cycle)
                                                     for copy in range(slots.copies)])
        if not runs and len(slots):
            runs = slots.begin()
        out.write(json.dumps({"batch": batch["batch"], "next": runs[0][1]["id"] if runs
                              else None, **({"flying": slots.flying()} if bench.copies > 1
                                            else {})}) + "\n")
        alive, ended = await run_injections(bench, slots, layout["window"], out, runs,
                                            crash=crash, hang=hang, parent=parent,
                                            restart=checkpoints.restart)
        if not alive:
            return
        cycle = cycle if ended is None else ended
        out.write(json.dumps({"done": batch["batch"], "next": None}) + "\n")
        os.write(notices, b"done\n")
