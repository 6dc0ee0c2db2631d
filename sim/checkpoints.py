"""Golden checkpoints of long workloads: made once per campaign, cached, read by shards.

A campaign whose workload is long (a CPU program of millions of cycles) would make every
restart of a shard re-simulate the cycles before its next start, and every shard run the
whole workload as its golden check. With checkpoints (``workload.checkpoint``, see
:func:`checkpoint_interval`), **one** golden run of the campaign bench
(:mod:`ftvoter.sim.checkpoint_maker`) goes through the workload with no fault and saves
the golden copy's state every ``interval`` cycles through the bench's checkpoint slot
(:mod:`ftvoter.hdl.campaign_ckpt`): registers, state ports, the cycle, and the lane RAM
blocks written since the last save. It is the campaign's golden check too (its record is
in the file). A shard restarts from the latest checkpoint before its next start
(:class:`~ftvoter.sim.checkpoint_slot.ShardCheckpoints`), so a late injection costs
what an early one does; the records are the same as without checkpoints.

The file (``build/checkpoints/<key>.jsonl``, JSON lines, written atomically; the key is
a hash of the bench's build, its Verilog, the workload's cycles and the interval, so a
second campaign on the same bench and program reuses it):

- line 1, the header: ``format`` (``"ftvoter-checkpoints"``), ``version`` (1),
  ``interval``, ``golden_cycles``, ``words`` (32-bit words of the slot's state),
  ``lanes``, ``blocks`` and ``block_words`` (of each lane RAM), ``golden`` (the golden
  check's record), ``program``: per lane, ``{block: [words]}`` of the program image for
  every block some checkpoint changed;
- then one line per checkpoint, in cycle order: ``cycle``, ``state`` (the slot's state
  as one hexadecimal number, word 0 in the low bits; word 0 is the cycle) and ``ram``:
  per lane, ``{block: [words]}`` of the blocks written since the checkpoint before.

Cycle 0 (reset and the program image) is a checkpoint of its own and not in the file.
"""

import bisect
import hashlib
import json
import math
from pathlib import Path

from .spec import CPU_LANES, SpecError

__all__ = ["FORMAT", "VERSION", "AUTO_CYCLES", "CheckpointError", "Checkpoints",
           "checkpoint_interval", "read_checkpoints", "write_checkpoints", "make_checkpoints"]

FORMAT, VERSION = "ftvoter-checkpoints", 1
#: Without ``workload.checkpoint``, a workload of at least this many cycles on CPU lanes
#: is checkpointed.
AUTO_CYCLES = 1_000_000


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be made or read; the message is one line."""


def checkpoint_interval(spec):
    """Return a spec's checkpoint interval in cycles, 0 for none.

    ``workload.checkpoint`` if given (0: none); else, on CPU lanes without rollback or live
    resync and a workload of at least :data:`AUTO_CYCLES` cycles, ten observation windows
    but at least a thousandth of the workload (at most 1,000 checkpoints); else none."""
    given = spec.workload.get("checkpoint")
    if given is not None:
        return given
    design, cycles = spec.design, spec.workload["cycles"]
    if design["lane"] not in CPU_LANES or design.get("rollback") or \
            design.get("live_resync") or cycles < AUTO_CYCLES:
        return 0
    return max(10 * spec.observation["window"], math.ceil(cycles / 1000))


class Checkpoints:
    """A checkpoint file in memory: what a shard needs to load one into the slot."""

    def __init__(self, header, entries):
        self.header = header
        self.words = header["words"]
        self.golden = header["golden"]
        self.block_words = header["block_words"]
        self.cycles = [0] + [entry["cycle"] for entry in entries]
        self._states = [None] + [int(entry["state"], 16) for entry in entries]
        lanes = header["lanes"]
        self._program = [{int(b): words for b, words in header["program"][lane].items()}
                         for lane in range(lanes)]
        # Per checkpoint and lane, the blocks that differ from the program, cumulative.
        self._blocks = [[{} for _ in range(lanes)]]
        for entry in entries:
            blocks = [dict(previous) for previous in self._blocks[-1]]
            for lane in range(lanes):
                for b, words in entry["ram"][lane].items():
                    blocks[lane][int(b)] = words
            self._blocks.append(blocks)

    def __len__(self):
        return len(self.cycles)

    def index_before(self, start):
        """The latest checkpoint (an index, 0: reset) from which a run can reach an
        injection at ``start``: at most cycle ``start - 1``."""
        return max(0, bisect.bisect_right(self.cycles, start - 1) - 1)

    def state(self, k):
        """Checkpoint ``k``'s slot state, as 32-bit words (word 0 first)."""
        value = self._states[k]
        return [value >> (32 * i) & 0xffffffff for i in range(self.words)]

    def ram(self, k, lane):
        """``{block: words}`` of lane ``lane``'s RAM at checkpoint ``k`` that differ from
        the program image."""
        return self._blocks[k][lane]

    def block(self, k, lane, b):
        """The words of block ``b`` of lane ``lane``'s RAM at checkpoint ``k`` (a block no
        checkpoint changed is the program's; :class:`KeyError` if not in the file)."""
        return self._blocks[k][lane].get(b) or self._program[lane][b]

    def switch(self, j, k):
        """Per lane, ``{address: word}`` to write into an image holding checkpoint ``j``'s
        RAM so that it holds checkpoint ``k``'s."""
        changes = []
        for lane, program in enumerate(self._program):
            have, want = self._blocks[j][lane], self._blocks[k][lane]
            words = {}
            for b in set(have) | set(want):
                old, new = have.get(b, program[b]), want.get(b, program[b])
                for i, (o, n) in enumerate(zip(old, new, strict=True)):
                    if o != n:
                        words[b * self.block_words + i] = n
            changes.append(words)
        return changes


def read_checkpoints(path):
    """Read a checkpoint file; :class:`CheckpointError` if it is not one."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
        header = json.loads(lines[0])
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError("not a checkpoint file of this version")
        return Checkpoints(header, [json.loads(line) for line in lines[1:]])
    except (OSError, IndexError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: not a checkpoint file ({error})") from None


def write_checkpoints(path, header, entries):
    """Write a checkpoint file atomically (see the module's docstring for the format)."""
    from ftvoter.analysis.files import write_atomic
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n"
                   for line in [{"format": FORMAT, "version": VERSION, **header}, *entries])
    write_atomic(Path(path), text)


def _key(simulation, interval, golden_cycles):
    from .toolchain import export_verilog
    verilog = export_verilog(simulation.design, simulation.params)
    digest = hashlib.sha256(Path(verilog).read_bytes()).hexdigest()
    text = json.dumps([FORMAT, VERSION, simulation.build_dir.name, digest, interval,
                       golden_cycles])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _images(spec):
    """``images`` (each lane RAM's initial contents, every word) and ``block_words``."""
    from .plan import make_bench
    rams = [unit.ram for unit in make_bench(spec).golden.units]
    return {"images": [[*ram.init, *[0] * (ram.depth - len(ram.init))] for ram in rams],
            "block_words": rams[0].block_words}


def make_checkpoints(spec, simulation, layout, *, say=None):
    """Return the checkpoint file of a spec's campaign, made now (one golden run, in a
    simulator of ``simulation``) unless it is cached; None without checkpoints.

    Raises :class:`CheckpointError` if the golden run fails."""
    interval = checkpoint_interval(spec)
    if not interval:
        return None
    if not layout.get("ckpt_fields"):
        raise SpecError(f"{spec.source}: workload.checkpoint: this design's bench has no "
                        f"checkpoint slot")
    import tempfile
    import time

    from .toolchain import _locked, build_root, run_cocotb
    golden_cycles = spec.workload["cycles"]
    path = build_root() / "checkpoints" / f"{_key(simulation, interval, golden_cycles)}.jsonl"
    with _locked(path.with_suffix(".lock")):
        if path.exists():
            return path
        count = len(range(interval, golden_cycles, interval))
        if say is not None:
            say(f"ftvoter campaign: golden run of {golden_cycles:,} cycles saving {count:,} "
                f"checkpoints, one every {interval:,} cycles (once: cached in {path})")
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ftvoter-ckpt-") as folder:
            plan = Path(folder) / "plan.json"
            plan.write_text(json.dumps({
                "interval": interval, "golden_cycles": golden_cycles, "out": str(path),
                "injection_fields": layout["injection_fields"],
                "record_fields": layout["record_fields"],
                "ckpt_fields": layout["ckpt_fields"], **_images(spec)}))
            tests, failed = run_cocotb(simulation, "ftvoter.sim.checkpoint_maker",
                                       test_dir=folder, quiet=True,
                                       env={"FTVOTER_CKPT_PLAN": str(plan)})
            if (tests, failed) != (1, 0) or not path.exists():
                log = Path(folder) / "sim.log"
                tail = log.read_text()[-4000:] if log.exists() else ""
                kept = path.with_suffix(".log")
                kept.write_text(tail)
                raise CheckpointError(f"the golden run making checkpoints failed; see "
                                      f"{kept}")
        if say is not None:
            say(f"ftvoter campaign: checkpoints made in {time.monotonic() - began:.0f} s")
    return path
