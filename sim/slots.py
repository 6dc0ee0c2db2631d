"""Which injection each faulty copy of the campaign bench runs, and when.

The bench (:class:`~ftvoter.hdl.campaign.CampaignBench`) has one golden copy and ``copies``
faulty ones. A run on a faulty copy starts either by a *restart* (every copy reset, cycle 0)
or by a *load* of that copy from the golden one, in the golden copy's current cycle, so a
run need not re-simulate the cycles before its start. After a run that ended at cycle
``c``, its copy takes next the pending injection with the earliest start from ``c + 2`` on
(the load takes one cycle; copies started in the same cycle are loaded one after the
other, each a cycle later); a copy with none left in front of it waits, and once every
copy waits, a restart starts the earliest ones left. With ``reuse`` false, every run
restarts, in plan order. With one copy this is the order of one-copy benches before (a
record never depends on the order).
"""

import bisect

__all__ = ["Slots"]


class Slots:
    """The schedule of a shard's injections over ``copies`` faulty copies.

    :meth:`begin` (when no copy runs) and :meth:`ended` (when some runs ended) return the
    runs to start: ``(copy, injection, restart)``.
    """

    def __init__(self, injections, copies=1, reuse=True):
        if not isinstance(copies, int) or copies < 1:
            raise ValueError(f"Copies must be a positive integer, not {copies!r}")
        self.copies = copies
        self._reuse = reuse
        self._pending = (sorted(injections, key=lambda i: (i["start"], i["id"])) if reuse
                         else list(injections))
        self._starts = [i["start"] for i in self._pending] if reuse else None
        self.running = {}           # copy -> injection

    def __len__(self):
        """Injections not started yet."""
        return len(self._pending)

    def _pop(self, index):
        if self._starts is not None:
            del self._starts[index]
        return self._pending.pop(index)

    def begin(self):
        """The runs to start after a restart (no copy runs): the earliest pending ones."""
        assert not self.running
        runs = []
        for copy in range(min(self.copies, len(self._pending))):
            injection = self._pop(0)
            self.running[copy] = injection
            runs.append((copy, injection, 1))
        return runs

    def ended(self, ends):
        """The runs to start after the runs of ``ends`` (``(copy, cycle)`` pairs, ended in
        the same cycle; or idle copies, with the cycle the bench stands in) ended: a load
        for each copy that has an injection ahead of it."""
        for copy, _ in ends:
            self.running.pop(copy, None)
        if not self._reuse:
            return []
        runs = []
        for copy, cycle in sorted(ends):
            index = bisect.bisect_left(self._starts, cycle + 2 + len(runs))
            if index < len(self._pending):
                injection = self._pop(index)
                self.running[copy] = injection
                runs.append((copy, injection, 0))
        return runs

    def flying(self):
        """The ids of the injections running, in copy order."""
        return [self.running[copy]["id"] for copy in sorted(self.running)]
