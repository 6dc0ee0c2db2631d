"""Live resync: copy the survivors' state into a joining lane while they keep running.

On ``start`` (LANE_CMD INSERT of a broken or removed lane) the joiner's RAM receives the
reference survivor's (the first online lane's) through their lane memory ports
(:class:`~ftvoter.hdl.units.memory.MemoryUndoSignature`), one word per cycle, while the
survivors run:

- **pre-copy**: the first round copies every block (a *rapid* resync: only the blocks
  either RAM wrote since the lane left, their ``since`` bitmaps); each later round copies
  the blocks the survivors wrote during the one before (their ``dirty`` bitmaps, cleared
  at each round's start), until at most ``stop_blocks`` are left or ``max_rounds`` have
  run;
- **stop**: the bridge accepts no new transaction but lets those in flight finish
  (``drain``); at the first cycle with none in flight it offers nothing (``hold``), the
  survivors are held where they are (``pin``: their state loaded with itself, their RAMs'
  bus writes blocked), the blocks written since the last round are copied, then every
  flip-flop of the joiner is loaded from the reference's in one cycle (``load``,
  ``state_in``), and ``done``: the joiner joins the vote in the cycle in which the
  survivors resume.

Lanes without RAMs go straight to the stop: one cycle for the flip-flops. The survivors
never restart. ``stop_cycles``, ``words``, ``rounds`` and ``flops`` report the last
resync: the survivors' pause in cycles, the RAM words copied, the pre-copy rounds and
the flip-flop bits copied.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes
from .mem_copy import MemoryCopier
from .rollback import _first_online
from .units.memory import MemoryUndoSignature

__all__ = ["Resync", "STOP_BLOCKS", "MAX_ROUNDS"]

#: Pre-copy ends once at most this many blocks are left for the stop.
STOP_BLOCKS = 2
#: Pre-copy rounds at most.
MAX_ROUNDS = 8


class Resync(wiring.Component):
    """Bring a lane into lockstep from the survivors' state, without stopping them long.

    Parameters
    ----------
    lanes : int
        2 or 3.
    state_width : int
        Bits of each lane's state vector.
    ram : MemoryUndoSignature or None
        The lane memory port of each lane's RAM, if the lanes have one.
    block_words : int
        Words per block of the RAMs' bitmaps.
    stop_blocks, max_rounds : int
        When pre-copy ends (see the module's description). ``max_rounds`` 0: no pre-copy,
        the whole copy is made in the stop (a baseline for benchmarks).

    Members
    -------
    start : In(1), lane : In(2), rapid : In(1)
        Resynchronise ``lane`` (copy only what it missed, with ``rapid``).
    online : In(lanes)
        The survivors.
    idle : In(1)
        No transaction in flight at the bridge.
    accept : In(1)
        A request beat is accepted at this clock edge.
    state<i> : In(state_width)
    busy : Out(1), hold : Out(1)
        A resync is under way; the bridge must accept nothing new and offer no response
        (the stop).
    drain : Out(1)
        Waiting for a transaction boundary: the bridge accepts no new transaction, but
        lets those in flight finish (their responses, the missing half of a write).
    pin : Out(lanes)
        Hold these lanes where they are (state loaded with itself, RAM writes blocked).
    load : Out(lanes), state_in : Out(state_width)
        Load the joiner from the reference survivor.
    done : Out(1)
        The joiner is in lockstep at this clock edge.
    ram<i> : Out(MemoryUndoSignature), with ``ram`` only
    stop_cycles : Out(16), words : Out(32), rounds : Out(8), flops : Out(32)
    phase : Out(2)
        0 idle, 1 pre-copy, 2 waiting for a transaction boundary, 3 the stop.
    """

    def __init__(self, *, lanes, state_width, ram=None, block_words=16,
                 stop_blocks=STOP_BLOCKS, max_rounds=MAX_ROUNDS):
        _check_lanes(lanes)
        for name, value in (("State width", state_width), ("Block words", block_words)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
        for name, value in (("Stop blocks", stop_blocks), ("Max rounds", max_rounds)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError(f"{name} must be a non-negative integer, not {value!r}")
        if ram is not None and not isinstance(ram, MemoryUndoSignature):
            raise TypeError(f"RAM must be a MemoryUndoSignature or None, not {ram!r}")
        self._lanes, self._width, self._ram = lanes, state_width, ram
        self._block_words, self._stop_blocks, self._max_rounds = (block_words, stop_blocks,
                                                                  max_rounds)
        members = {f"state{i}": In(state_width) for i in range(lanes)}
        members.update({
            "start": In(1), "lane": In(2), "rapid": In(1), "online": In(lanes),
            "idle": In(1), "accept": In(1), "busy": Out(1), "hold": Out(1), "drain": Out(1),
            "pin": Out(lanes), "load": Out(lanes), "state_in": Out(state_width),
            "done": Out(1), "stop_cycles": Out(16), "words": Out(32), "rounds": Out(8),
            "flops": Out(32), "phase": Out(2),
        })
        if ram is not None:
            members.update({f"ram{i}": Out(ram) for i in range(lanes)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        n = self._lanes
        online = self.online
        joiner = Signal(2)
        states = [getattr(self, f"state{i}") for i in range(n)]
        m.d.comb += [self.state_in.eq(_first_online(online, states)),
                     self.flops.eq(self._width)]
        copying, copier_done = self._memory(m, joiner)
        stop_cycles = Signal(16)
        m.d.comb += self.stop_cycles.eq(stop_cycles)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [joiner.eq(self.lane), stop_cycles.eq(0)]
                    m.next = ("PRECOPY" if self._ram is not None and self._max_rounds
                              else "WAIT")
            if self._ram is not None:
                with m.State("PRECOPY"):
                    m.d.comb += [self.busy.eq(1), copying["precopy"].eq(1), self.phase.eq(1)]
                    with m.If(copier_done["precopy"]):
                        m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += [self.busy.eq(1), self.drain.eq(1), self.phase.eq(2)]
                with m.If(self.idle & ~self.accept):
                    m.next = "STOP"
            with m.State("STOP"):
                m.d.comb += [self.busy.eq(1), self.hold.eq(1), self.pin.eq(online),
                             self.phase.eq(3)]
                m.d.sync += stop_cycles.eq(stop_cycles + 1)
                if self._ram is not None:
                    m.d.comb += copying["stop"].eq(1)
                    with m.If(copier_done["stop"]):
                        m.next = "FLOPS"
                else:
                    m.next = "FLOPS"
            with m.State("FLOPS"):
                m.d.comb += [self.busy.eq(1), self.hold.eq(1), self.pin.eq(online),
                             self.done.eq(1), self.phase.eq(3)]
                m.d.sync += stop_cycles.eq(stop_cycles + 1)
                for i in range(n):
                    m.d.comb += self.load[i].eq(joiner == i)
                m.next = "IDLE"
        return m

    def _memory(self, m, joiner):
        """The RAM copy: return ``(copying, done)``, dicts by phase ("precopy", "stop")."""
        if self._ram is None:
            return {}, {}
        n, sig, online = self._lanes, self._ram, self.online
        ports = [getattr(self, f"ram{i}") for i in range(n)]
        copier = MemoryCopier(abits=sig.abits, data_width=sig.data_width,
                              blocks=sig.blocks, block_words=self._block_words)
        m.submodules.copier = copier
        source_dirty = _first_online(online, [p.dirty for p in ports])
        source_since = _first_online(online, [p.since for p in ports])
        joiner_since = Signal(sig.blocks)
        for i, port in enumerate(ports):
            with m.If(joiner == i):
                m.d.comb += joiner_since.eq(port.since)
        m.d.comb += [port.raddr.eq(copier.src_addr) for port in ports]
        m.d.comb += copier.src_data.eq(_first_online(online, [p.rdata for p in ports]))
        busy = Signal()     # a resync is under way (from start to done)
        with m.If(self.start):
            m.d.sync += busy.eq(1)
        with m.If(self.done):
            m.d.sync += busy.eq(0)
        for i, port in enumerate(ports):
            mine = joiner == i
            m.d.comb += [
                port.hold.eq((busy & mine) | self.pin[i]),
                port.waddr.eq(copier.waddr), port.wdata.eq(copier.wdata),
                port.we.eq(busy & mine & copier.we),
            ]
        copying = {"precopy": Signal(name="copy_precopy"), "stop": Signal(name="copy_stop")}
        done = {"precopy": Signal(name="done_precopy"), "stop": Signal(name="done_stop")}
        started = Signal()   # the phase's copier run has begun
        rounds = Signal(8)
        words = Signal(32)
        m.d.comb += [self.rounds.eq(rounds), self.words.eq(words)]
        with m.If(copier.we):
            m.d.sync += words.eq(words + 1)
        rapid = Signal()
        with m.If(self.start):
            m.d.sync += [rounds.eq(0), words.eq(0), started.eq(0), rapid.eq(self.rapid)]
        popcount = sum(source_dirty[b] for b in range(sig.blocks))
        clear = Signal()
        m.d.comb += [port.clear.eq(clear) for port in ports]
        with m.If((copying["precopy"] | copying["stop"]) & ~started):
            # A round starts: the blocks it copies, the dirty bitmaps cleared.
            first = (copying["stop"] if not self._max_rounds else
                     copying["precopy"] & (rounds == 0))
            m.d.comb += [
                copier.start.eq(1), clear.eq(1),
                copier.blocks.eq(Mux(first, Mux(rapid, source_since | joiner_since,
                                                Const(-1, sig.blocks)), source_dirty)),
            ]
            m.d.sync += [started.eq(1), rounds.eq(rounds + copying["precopy"])]
        with m.Elif(started & ~copier.busy):
            m.d.sync += started.eq(0)
            with m.If(copying["stop"]):
                m.d.comb += done["stop"].eq(1)
            with m.Elif((popcount <= self._stop_blocks) | (rounds >= self._max_rounds)):
                m.d.comb += done["precopy"].eq(1)
        return copying, done
