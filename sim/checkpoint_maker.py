"""The golden run that makes a campaign's checkpoints: a cocotb test on the campaign bench.

Started once per campaign by :func:`ftvoter.sim.checkpoints.make_checkpoints` (plan in
``$FTVOTER_CKPT_PLAN``: ``interval``, ``golden_cycles``, ``out``, the bench's packed
fields). With no fault, from reset to ``golden_cycles``, in segments: each ends two cycles
before the next multiple of ``interval``, the host holds the systems and reads the
checkpoint saved at the start of the segment (the slot's state and the RAM blocks the
save wrote), and the next segment starts with a load that saves at the multiple. The
segments' records together are the campaign's golden check (every one must be clean),
written with the checkpoints.
"""

import gc
import json
import os
from pathlib import Path

import cocotb

from .checkpoint_slot import NO_FAULT, Slot
from .checkpoints import write_checkpoints
from .outcomes import NEVER
from .shard import Bench

__all__ = []

_CHECKED = ("mismatch_at", "self_error_at", "checker_at", "diverged_at", "io_wrong_at")


def combine(records):
    """The golden check's record of a run in segments: the first segment with an event,
    or the last one, with ``golden_requests`` summed and the largest ``lag``."""
    bad = [r for r in records if any(r[key] != NEVER for key in _CHECKED)]
    record = dict(bad[0] if bad else records[-1])
    record["golden_requests"] = sum(r["golden_requests"] for r in records)
    record["lag"] = max(r["lag"] for r in records)
    record["segments"] = len(records)
    return record


@cocotb.test()
async def make_checkpoints(dut):
    plan = json.loads(Path(os.environ["FTVOTER_CKPT_PLAN"]).read_text())
    interval, cycles = plan["interval"], plan["golden_cycles"]
    bench = Bench(dut, plan["injection_fields"], plan["record_fields"])
    slot = Slot(dut, plan["ckpt_fields"])
    gc.disable()
    saves = list(range(interval, cycles, interval))
    images, block_words = plan["images"], plan["block_words"]
    lanes, blocks = len(images), len(images[0]) // block_words
    records, entries, written = [], [], [set() for _ in range(lanes)]
    # A run's record cycle is the cycle after its end; the load that follows is one cycle
    # later: a segment that must save at cycle c ends at c - 2.
    records.append(await bench.run({**NO_FAULT, "restart": 1},
                                   saves[0] - 2 if saves else cycles))
    for k, cycle in enumerate(saves):
        slot.set_mode(save=1)
        end = saves[k + 1] - 2 if k + 1 < len(saves) else cycles
        records.append(await bench.run({**NO_FAULT, "restart": 0}, end))
        slot.set_mode(hold=1)       # the golden copy stands still while we read
        words = await slot.read_base()
        if words[0] != cycle:
            raise RuntimeError(f"checkpoint {k + 1} saved at cycle {words[0]}, not {cycle}")
        ram = []
        for lane, saved in enumerate(slot.saved(lanes, blocks)):
            addresses = [b * block_words + i for b in saved for i in range(block_words)]
            values = await slot.read_image(lane, addresses)
            ram.append({str(b): values[n * block_words:(n + 1) * block_words]
                        for n, b in enumerate(saved)})
            written[lane].update(saved)
        state = sum(word << (32 * i) for i, word in enumerate(words))
        entries.append({"cycle": cycle, "state": f"{state:x}", "ram": ram})
        slot.set_mode()
    # The program image's words of every block a checkpoint changed.
    program = [{str(b): images[lane][b * block_words:(b + 1) * block_words]
                for b in sorted(written[lane])} for lane in range(lanes)]
    write_checkpoints(plan["out"], {
        "interval": interval, "golden_cycles": cycles, "words": slot.words, "lanes": lanes,
        "blocks": blocks, "block_words": block_words, "golden": combine(records),
        "program": program}, entries)
