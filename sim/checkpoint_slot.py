"""The campaign bench's checkpoint slot from cocotb: read a checkpoint out, load one in.

:class:`Slot` drives the bench's ``ckpt_*`` ports (:mod:`ftvoter.hdl.campaign_ckpt`) one
clock cycle per word, from the middle of a cycle (the clock runs inside the model, so a
wait of one period spans exactly one rising edge). :class:`ShardCheckpoints` is what a
campaign shard (:mod:`ftvoter.sim.shard`, :mod:`ftvoter.sim.shard_server`) does with
them: its golden check, and its restarts, from the checkpoint just before the next start
instead of from reset. Without checkpoints (``plan["checkpoints"]`` missing or its file
not on this machine) it does what a shard always did: the golden check runs the whole
workload, a restart resets.
"""

from pathlib import Path

from cocotb.simtime import get_sim_time
from cocotb.triggers import Timer

from .checkpoints import CheckpointError, read_checkpoints
from .shard import STEPS_PER_CYCLE, pack

__all__ = ["Slot", "ShardCheckpoints", "NO_FAULT"]

#: The golden check's "fault": a stuck-at with an empty mask for the whole run, so the
#: two copies must agree all along.
NO_FAULT = {"arm": 1, "model": 1, "mask": 0, "start": 0, "duration": 0}


class Slot:
    """The bench's checkpoint ports; ``fields`` are ``ckpt_ctl``'s (name, offset, width)."""

    def __init__(self, dut, fields):
        self._fields = fields
        self._ctl, self._in, self._out = dut.ckpt_ctl, dut.ckpt_in, dut.ckpt_out
        self._saved, self._words = dut.ckpt_saved, dut.ckpt_words
        self.mode = {}          # save / restore / hold: kept by every write of ckpt_ctl

    @property
    def words(self):
        """The base chain's length in words (read once the model has settled)."""
        return int(self._words.value)

    def set(self, **values):
        """Write ``ckpt_ctl``: the mode bits with ``values`` (the other bits 0)."""
        self._ctl.value = pack(self._fields, {**self.mode, **values})

    def set_mode(self, **mode):
        self.mode = {key: value for key, value in mode.items() if value}
        self.set()

    @staticmethod
    async def align():
        """Wait for the middle of a clock cycle (rising edges are at 5 ns of each 10)."""
        phase = get_sim_time("step") % STEPS_PER_CYCLE
        if phase:
            await Timer(STEPS_PER_CYCLE - phase, unit="step")

    async def read_base(self):
        """Return the base chain's words (word 0 first); the chain is left as it was."""
        await self.align()
        words = []
        self.set(shift=1)
        for _ in range(self.words):
            words.append(self._out.value.to_unsigned())
            await Timer(STEPS_PER_CYCLE, unit="step")
        self.set()
        return words

    async def write_base(self, words):
        """Write the base chain (word 0 first)."""
        await self.align()
        self.set(shift=1, write=1)
        for word in words:
            self._in.value = word
            await Timer(STEPS_PER_CYCLE, unit="step")
        self.set()

    def saved(self, lanes, blocks):
        """The blocks of each lane's image the last save wrote: a list of lists."""
        bits = self._saved.value.to_unsigned()
        return [[b for b in range(blocks) if bits >> (lane * blocks + b) & 1]
                for lane in range(lanes)]

    async def read_image(self, lane, addresses):
        """Return the words of lane ``lane``'s image at ``addresses``."""
        await self.align()
        words = []
        for address in addresses:
            self.set(mem_read=1, lane=lane, addr=address)
            await Timer(STEPS_PER_CYCLE, unit="step")
            words.append(self._out.value.to_unsigned())
        self.set()
        return words

    async def write_image(self, lane, words):
        """Write ``{address: word}`` into lane ``lane``'s image (each block written is
        restored into both copies at the next restart)."""
        await self.align()
        for address, word in sorted(words.items()):
            self.set(mem_we=1, lane=lane, addr=address)
            self._in.value = word
            await Timer(STEPS_PER_CYCLE, unit="step")
        self.set()


class ShardCheckpoints:
    """A shard's golden check and restarts, with or without checkpoints.

    ``plan`` is the shard's plan: ``golden_cycles`` and, for a campaign with checkpoints,
    ``checkpoints`` (the file of :func:`~ftvoter.sim.checkpoints.make_checkpoints`) and
    ``ckpt_fields``.
    """

    def __init__(self, dut, bench, plan):
        self._bench, self._golden_cycles = bench, plan["golden_cycles"]
        path = plan.get("checkpoints")
        self.file = None
        if path and Path(path).is_file():
            self.file = read_checkpoints(path)
            self._slot = Slot(dut, plan["ckpt_fields"])
            self._current = 0       # the checkpoint the slot and images hold (0: reset)
        self.restarts = {}          # checkpoint cycle: restarts from it

    async def golden_check(self):
        """Return the golden check's record: the checkpoint file's (its golden run made
        once per campaign), or a run of the whole workload with no fault."""
        if self.file is not None:
            return dict(self.file.golden)
        return await self._bench.run({**NO_FAULT, "restart": 1}, self._golden_cycles)

    async def restart(self, start):
        """Make the next run's restart start from the latest checkpoint before ``start``
        (reset, without checkpoints or before the first); return its cycle."""
        if self.file is None:
            return 0
        k = self.file.index_before(start)
        slot = self._slot
        if k != self._current:
            for lane, words in enumerate(self.file.switch(self._current, k)):
                if words:
                    await slot.write_image(lane, words)
            if k:
                await slot.write_base(self.file.state(k))
                if slot.words != self.file.words:
                    raise CheckpointError(f"checkpoints of {self.file.words} words of "
                                          f"state, the bench has {slot.words}")
            self._current = k
        slot.set_mode(restore=bool(k))
        cycle = self.file.cycles[k]
        self.restarts[cycle] = self.restarts.get(cycle, 0) + 1
        return cycle
