"""The campaign bench's checkpoint slot: a state that a restart returns to instead of reset.

A long workload (a CPU program of millions of cycles) would make every restart of the
bench re-simulate the cycles before its next start. The slot holds one checkpoint of the
golden copy, at cycle ``C``: every register of the system (the Amaranth registers, the
cores' and the instrumented bridge's state ports) and the bench's cycle counter in a
*base* chain of 32-bit words, and the lane RAMs' contents in the RAM *image* (the memory
that a restart restores the lane RAMs from, the program until a checkpoint replaces it).

- **Save** (``ckpt_ctl.save`` with a load): at the load's first cycle the base takes the
  golden copy's registers and cycle, and the load's block copy writes the golden lane
  RAMs' dirty blocks into the image too (``ckpt_saved``: those blocks). A run of saves
  from a restart keeps the image equal to the golden RAMs at the last save.
- **Restore** (``ckpt_ctl.restore`` with a restart): both copies' registers take the
  base (not their reset values), the bench's and the injector's cycle counters the
  base's cycle, and the lane RAMs the image (the blocks written since the last restart,
  and those the host rewrote): the first cycle of the run is cycle ``C``, the golden
  state at ``C``, and records count cycles from workload cycle 0 as after a reset.
- **Host port**: ``ckpt_out`` is base word 0; a cycle with ``shift`` rotates the base by
  one word (``write``: word 0 replaced by ``ckpt_in``), so ``ckpt_words`` cycles read or
  write it all. ``mem_read`` shows image word ``addr`` of lane ``lane`` on ``ckpt_out``;
  a cycle with ``mem_we`` writes ``ckpt_in`` there. ``hold`` stands the systems still
  (from the next cycle; as a load does), so the host can read a checkpoint between two
  runs without the golden copy moving on.

Only designs whose whole state the load copies have a slot: CPU lanes with a lane RAM
memory port, without rollback or live resync (:func:`supports_checkpoints`).
"""

from amaranth.hdl import Array, Cat, Mux, Signal

# Private Amaranth 0.5 internals, as in state_load.py and for the same reason: the
# registers a fragment drives (LHSMaskCollector) and a statement added to a built fragment
# (Switch); checked against the installed Amaranth by tests/test_amaranth_upstream.py.
from amaranth.hdl._ast import Switch
from amaranth.hdl._xfrm import LHSMaskCollector
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

__all__ = ["WORD", "supports_checkpoints", "checkpoint_ports", "checkpoint_slot",
           "CheckpointSlot"]

#: Width of a word of the base chain and of the host port.
WORD = 32


def _rams(system):
    return [getattr(unit, "ram", None) for unit in system.units]


def supports_checkpoints(system):
    """Return whether a bench of ``system`` (a :class:`~ftvoter.hdl.lockstep.Lockstep`)
    has a checkpoint slot: every lane a RAM with a memory port (``copy``) and no undo
    port, and neither rollback nor live resync."""
    members = system.signature.members
    if "rollback" in members or "split_bus" in members:
        return False
    return all(ram is not None and "copy" in ram.signature.members and
               "undo" not in ram.signature.members for ram in _rams(system))


def _control(system):
    abits = max(ram.copy.signature.abits for ram in _rams(system))
    return data.StructLayout({"hold": 1, "save": 1, "restore": 1, "shift": 1, "write": 1,
                              "mem_we": 1, "mem_read": 1,
                              "lane": max(1, (system.lanes - 1).bit_length()),
                              "addr": abits})


def checkpoint_ports(system):
    """The bench's checkpoint members for ``system`` (none if it has no slot).

    ``ckpt_ctl`` (In: ``hold``, ``save``, ``restore``, ``shift``, ``write``, ``mem_we``,
    ``mem_read``, ``lane``, ``addr``), ``ckpt_in`` (In(32)), ``ckpt_out`` (Out(32)),
    ``ckpt_words`` (Out(32): the base chain's length in words) and ``ckpt_saved``
    (Out(lanes x blocks): the blocks of each lane's image the last save wrote, lane 0's
    in the low bits).
    """
    if not supports_checkpoints(system):
        return {}
    blocks = sum(ram.copy.signature.blocks for ram in _rams(system))
    return {"ckpt_ctl": In(_control(system)), "ckpt_in": In(WORD), "ckpt_out": Out(WORD),
            "ckpt_words": Out(32), "ckpt_saved": Out(blocks)}


def _chunks(fragment):
    if "sync" not in fragment.statements:
        return []
    collector = LHSMaskCollector()
    collector.visit_stmt(fragment.statements["sync"])
    return [s if a == 0 and b is None else s[a:b] for s, a, b in collector.chunks()]


def _fragments(fragment, path=()):
    """Yield ``(path, fragment)`` for a fragment tree."""
    yield path, fragment
    for subfragment, name, _ in fragment.subfragments:
        yield from _fragments(subfragment, (*path, name))


def _tree(fragment):
    """``{path: fragment}`` of a fragment tree (paths of fragments with registers unique)."""
    tree = {}
    for path, subfragment in _fragments(fragment):
        if path in tree and (_chunks(tree[path]) or _chunks(subfragment)):
            raise ValueError(f"Two fragments with registers at {'.'.join(map(str, path))}")
        tree.setdefault(path, subfragment)
    return tree


def checkpoint_slot(bench):
    """Return the slot's logic for a bench (elaborated once), or a stand-in that adds
    nothing to a bench without checkpoint ports."""
    if "ckpt_ctl" in bench.signature.members:
        return CheckpointSlot(bench)
    return _NoSlot()


class _NoSlot:
    """No checkpoint slot: a restart resets, nothing else changes."""
    origin = 0

    def held(self, load):
        return load

    def start(self, m, pending, injection, load_pulse, restart):
        self.reset = restart

    def insert_restores(self, golden, faulties, systems):
        pass

    def state_in(self, key, state_out):
        return state_out

    def state_load(self, load):
        return load

    def image(self, *args):
        pass

    def finish(self, m, cycle):
        pass


class CheckpointSlot:
    """The slot's logic in a :class:`~ftvoter.hdl.campaign.CampaignBench`, built in steps
    by the bench's ``elaborate`` (see the module's docstring for what it does).

    Attributes (signals of the bench)
    ---------------------------------
    from_base : the restart under way restores the slot (not a reset)
    restore : a restart from the slot is under way (its registers are loaded)
    hold : the host holds the systems
    saving : the load under way saves (set from its first cycle)
    """

    def __init__(self, bench):
        self._bench = bench
        self.ctl = bench.ckpt_ctl
        self.from_base = Signal()
        self.restore = Signal()
        self.hold = Signal()
        self.saving = Signal()
        self.save_pulse = Signal()
        self.base = None
        self._captures = []
        self._slices = {}
        self._images = []

    def start(self, m, pending, injection, load_pulse, restart):
        """Latch, when a run starts, whether its restart restores and its load saves;
        make :attr:`reset` (the systems': a restart that does not restore)."""
        ctl = self.ctl
        with m.If(pending):
            m.d.sync += [self.from_base.eq(injection.restart & ctl.restore),
                         self.saving.eq(~injection.restart & ctl.save)]
        m.d.sync += self.hold.eq(ctl.hold)
        self.reset = Signal()
        m.d.comb += [self.restore.eq(restart & self.from_base),
                     self.save_pulse.eq(load_pulse & self.saving),
                     self.reset.eq(restart & ~self.from_base)]

    def _states(self):
        """``(key, golden state_out)`` of the state ports the slot loads: the cores', the
        instrumented bridge's."""
        golden = self._bench.golden
        states = [(("core", i), unit.core.state_out) for i, unit in enumerate(golden.units)
                  if getattr(unit, "core", None) is not None and
                  "state_out" in unit.core.signature.members]
        bridge = getattr(golden, "bridge", None)
        if bridge is not None and "state_out" in bridge.signature.members:
            states.append((("bridge",), bridge.state_out))
        return states

    def insert_restores(self, golden, faulties, systems):
        """Add to every register of the golden fragment tree and of each faulty one (a
        list, with the faulty systems): at ``restore``, take its slice of the base; each
        faulty copy's injector counter takes the base's cycle."""
        pieces = []
        golden_tree = _tree(golden)
        layout = []                            # (path, offset, chunks) of each fragment
        offset = 32
        for path, fragment in golden_tree.items():
            chunks = _chunks(fragment)
            if chunks:
                layout.append((path, offset, chunks))
                offset += sum(len(c) for c in chunks)
                pieces.extend(chunks)
        for key, value in self._states():
            self._slices[key] = (offset, len(value))
            offset += len(value)
            pieces.append(value)
        words = -(-offset // WORD)
        self.words = words
        self.base = Signal(words * WORD, name="ckpt_base")
        self._captures = pieces
        trees = [_tree(faulty) for faulty in faulties]
        for path, start, chunks in layout:
            for tree in (golden_tree, *trees):
                mine = _chunks(tree[path])
                if [len(c) for c in mine] != [len(c) for c in chunks]:
                    raise ValueError(f"The copies differ in their registers at "
                                     f"{'.'.join(path)}")
                loads, at = [], start
                for chunk in mine:
                    loads.append(chunk.eq(self.base[at:at + len(chunk)]))
                    at += len(chunk)
                tree[path].add_statements("sync", Switch(self.restore, [(1, loads, None)]))
        for tree, system in zip(trees, systems, strict=True):
            cycle = system.injector.cycle
            for path, fragment in tree.items():
                if path not in golden_tree and any(c is cycle for c in _chunks(fragment)):
                    fragment.add_statements("sync", Switch(self.restore, [
                        (1, [cycle.eq(self.base[:32])], None)]))
                    break
            else:
                raise ValueError("A faulty copy's fault injector has no cycle counter")

    def held(self, load):
        """The bench's load: with the host's hold (which stands the systems still)."""
        return load | self.hold

    def state_in(self, key, state_out):
        """The value a state port loads: its slice of the base at a restore, else the
        golden copy's own state (as a load gives it)."""
        offset, width = self._slices[key]
        return Mux(self.restore, self.base[offset:offset + width], state_out)

    def state_load(self, load):
        """When a state port loads: at a load, and at a restore."""
        return load | self.restore

    def image(self, m, i, rom, touched, copier, mode, dirty, block_words):
        """Make lane ``i``'s image writable: by a save's block copy, and from the host
        (which marks the block touched, so the next restart restores it)."""
        ctl, bench = self.ctl, self._bench
        shift = block_words.bit_length() - 1
        write = rom.write_port()
        host = ctl.mem_we & (ctl.lane == i)
        m.d.comb += [
            write.addr.eq(Mux(copier.busy, copier.waddr, ctl.addr)),
            write.data.eq(Mux(copier.busy, copier.wdata, bench.ckpt_in)),
            write.en.eq(Mux(copier.busy, copier.we & ~mode & self.saving, host)),
        ]
        with m.If(host & ~copier.busy):
            m.d.sync += touched.bit_select(ctl.addr[shift:], 1).eq(1)
        read = rom.read_port(domain="comb")
        m.d.comb += read.addr.eq(ctl.addr)
        saved = Signal(len(touched), name=f"lane{i}_saved")
        with m.If(self.save_pulse):
            m.d.sync += saved.eq(dirty)
        self._images.append((read.data, saved))

    def finish(self, m, cycle):
        """The base chain and the host port."""
        bench, ctl, base = self._bench, self.ctl, self.base
        with m.If(self.save_pulse):
            m.d.sync += base.eq(Cat(cycle, *self._captures))
        with m.Elif(ctl.shift):
            m.d.sync += base.eq(Cat(base[WORD:], Mux(ctl.write, bench.ckpt_in, base[:WORD])))
        words = Array(data for data, _ in self._images)
        m.d.comb += [
            bench.ckpt_out.eq(Mux(ctl.mem_read, words[ctl.lane], base[:WORD])),
            bench.ckpt_words.eq(self.words),
            bench.ckpt_saved.eq(Cat(*(saved for _, saved in self._images))),
        ]

    @property
    def origin(self):
        """Where the bench's cycle counter starts after a restart."""
        return Mux(self.from_base, self.base[:32], 0)
