"""Rollback: DMR without blame returns the lanes to a checkpoint and re-executes.

A checkpoint is the lanes' whole flip-flop state (their state ports,
:mod:`ftvoter.hdl.lane_state`) taken in a cycle in which it is *verified*: every online
lane's state equals the others' and so do their RAMs (no lane's RAM write has differed
since the RAMs were last known equal). It is taken in every such cycle without a request
handshake (an AW, W or AR beat accepted), so it is the last moment the lanes were known
to be right: a request accepted since it invalidates it (re-executing would send the
request again) until the lanes are equal again. A response the lanes took since the
checkpoint does not: it is recorded and offered again after the rollback (``replay``),
so no read is repeated on a path. A rollback is not possible while a response has been
taken by some lanes but not all (``partial``).

Memory: an undo log per lane RAM (:class:`~ftvoter.hdl.units.memory.MemoryUndoSignature`)
holds the address and old word of every write since the checkpoint (the checkpoint's
own cycle included); a rollback writes them back, newest first, one per cycle and
lane. An undo log was chosen over a write buffer because it leaves the RAM's read path
alone (reads need no lookup in a buffer) and costs cycles only at a rollback; its depth
bounds the rollback time. A log that fills up makes rollback impossible until the next
checkpoint.

Upsets in a RAM (a RAM with check bits, ``ram.check``): the words the first online lane
read since the checkpoint are logged too (up to ``log_depth``; more are not checked).
After the undo log is written back, each of them is read in every online lane, one per
cycle: a lane whose copy fails its check bits while another lane's passes gets the
other's copy (:mod:`~ftvoter.hdl.units.memory_check`), so the re-execution reads the
right word and both lanes stay online. A rollback takes at most ``2 * log_depth + 1``
cycles.

A rollback (``trigger``, from the blame policy, only while ``ok``) lasts ``restoring``:
``max(entries) + 1`` cycles in which every online lane is held at the checkpoint
(``load``) and its RAM's bus writes are blocked while the log is written back; the lanes
run from the checkpoint in the cycle after. After a rollback, ``ok`` stays low until an
I/O transaction completes (the re-execution made progress): a divergence again before
that goes to the policy, so a permanent fault cannot roll back for ever.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes
from .units.memory import MemoryUndoSignature

__all__ = ["Rollback", "LOG_DEPTH"]

#: Undo-log entries per lane RAM by default: a rollback takes at most this + 1 cycles.
LOG_DEPTH = 16


class Rollback(wiring.Component):
    """Checkpoint the lanes when they are verified equal; roll them back on ``trigger``.

    Parameters
    ----------
    lanes : int
        2 or 3.
    state_width : int
        Bits of each lane's state vector (all lanes alike).
    ram : MemoryUndoSignature or None
        The undo port of each lane's RAM, if the lanes have one.
    log_depth : int
        Undo-log entries per lane (1 to 256).

    Members
    -------
    state<i> : In(state_width)
        Lane ``i``'s state (``state_out`` of its state port).
    online : In(lanes)
    accept : In(1)
        An online lane's AW, W or AR beat is accepted at this clock edge.
    respond : In(1)
        An online lane takes a B or R response at this clock edge.
    complete : In(1)
        An I/O transaction completes at this clock edge (every online lane has its
        response).
    partial : In(1)
        A response was taken by some online lanes, not yet by all.
    trigger : In(1)
        Roll back now (honoured only while ``ok``).
    ok : Out(1)
        A rollback is possible.
    equal : Out(1)
        The online lanes' states and RAMs are equal (as far as the checks know).
    restoring : Out(1)
        A rollback is under way: hold the bridge.
    replay : Out(1)
        The rollback is over and the lanes must be offered again the response they took
        since the checkpoint (one cycle).
    state_in : Out(state_width), load : Out(lanes)
        Load the online lanes from the checkpoint.
    ram<i> : Out(MemoryUndoSignature), with ``ram`` only
    cycles : Out(16)
        Length of the last rollback in cycles (restoring), saturating.
    repairs : Out(16)
        RAM words repaired from another lane's copy since reset (saturating), with a RAM
        that has check bits.
    """

    def __init__(self, *, lanes, state_width, ram=None, log_depth=LOG_DEPTH):
        _check_lanes(lanes)
        if not isinstance(state_width, int) or isinstance(state_width, bool) or \
                state_width < 1:
            raise TypeError(f"State width must be a positive integer, not {state_width!r}")
        if ram is not None and not isinstance(ram, MemoryUndoSignature):
            raise TypeError(f"RAM must be a MemoryUndoSignature or None, not {ram!r}")
        self._check_depth(log_depth)
        self._lanes, self._ram, self._depth = lanes, ram, log_depth
        members = {f"state{i}": In(state_width) for i in range(lanes)}
        members.update({
            "online": In(lanes), "accept": In(1), "respond": In(1), "complete": In(1),
            "partial": In(1), "trigger": In(1), "ok": Out(1), "equal": Out(1),
            "restoring": Out(1), "replay": Out(1),
            "state_in": Out(state_width), "load": Out(lanes), "cycles": Out(16),
            "repairs": Out(16),
        })
        if ram is not None:
            members.update({f"ram{i}": Out(ram) for i in range(lanes)})
        super().__init__(members)

    @staticmethod
    def _check_depth(log_depth):
        if not isinstance(log_depth, int) or isinstance(log_depth, bool) or \
                not 1 <= log_depth <= 256:
            raise TypeError(f"Log depth must be an integer from 1 to 256, not {log_depth!r}")

    @property
    def lanes(self):
        return self._lanes

    @property
    def log_depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        n = self._lanes
        states = [getattr(self, f"state{i}") for i in range(n)]
        online = self.online
        ref_state = Signal.like(self.state0, name="ref_state")
        m.d.comb += ref_state.eq(_first_online(online, states))
        state_equal = Signal()
        m.d.comb += state_equal.eq(Cat(*(~online[i] | (states[i] == ref_state)
                                         for i in range(n))).all())
        ram_same, writes_same, overflow = Signal(init=1), Signal(), Signal()
        m.d.comb += writes_same.eq(1)
        restoring, valid, rolled = Signal(), Signal(), Signal()
        take = Signal()
        m.d.comb += [
            self.equal.eq(state_equal & ram_same),
            take.eq(~self.accept & ~self.trigger & state_equal & ram_same & ~restoring),
            self.ok.eq(valid & ~overflow & ~rolled & ~restoring & ~self.partial),
            self.restoring.eq(restoring),
        ]
        checkpoint = Signal.like(self.state0, name="checkpoint")
        responded = Signal()    # a response was taken since the checkpoint
        with m.If(take):
            m.d.sync += [checkpoint.eq(ref_state), valid.eq(1), responded.eq(self.respond)]
        with m.Else():
            with m.If(self.accept):
                m.d.sync += valid.eq(0)
            with m.If(self.respond & ~restoring):
                m.d.sync += responded.eq(1)
        with m.If(self.complete):
            m.d.sync += rolled.eq(0)
        m.d.comb += self.state_in.eq(checkpoint)
        with m.If(restoring):
            m.d.comb += self.load.eq(online)

        start = Signal()
        m.d.comb += start.eq(self.trigger & self.ok)
        busy = []
        repairs = Signal(16)
        if self._ram is not None:
            busy = self._logs(m, online, take, restoring, writes_same, overflow)
            if self._ram.check:
                busy.append(self._check_reads(m, online, take, restoring, busy, repairs))
        finish = Signal()
        m.d.comb += finish.eq(restoring & ~Cat(*busy).any() if busy else restoring)
        cycles = Signal(16)
        with m.If(start):
            m.d.sync += [restoring.eq(1), rolled.eq(1), cycles.eq(0)]
        with m.Elif(restoring):
            m.d.sync += cycles.eq(Mux(cycles.all(), cycles, cycles + 1))
            with m.If(finish):
                m.d.sync += [restoring.eq(0), responded.eq(0)]
                m.d.comb += self.replay.eq(responded)
        m.d.comb += self.cycles.eq(cycles)

        m.d.comb += self.repairs.eq(repairs)
        with m.If(finish):
            m.d.sync += ram_same.eq(1)
        with m.Elif(~restoring & ~writes_same):
            m.d.sync += ram_same.eq(0)
        return m

    def _logs(self, m, online, take, restoring, writes_same, overflow):
        """The undo logs; return each lane's "entries left to write back"."""
        n, depth, sig = self._lanes, self._depth, self._ram
        ports = [getattr(self, f"ram{i}") for i in range(n)]
        # A lane's write this cycle: nothing, or its address, data and strobes.
        writes = [Mux(port.wr, Cat(1, port.wr_addr, port.wr_data, port.wr_strb), 0)
                  for port in ports]
        ref_write = Signal(len(writes[0]), name="ref_write")
        m.d.comb += [ref_write.eq(_first_online(online, writes)),
                     writes_same.eq(Cat(*(~online[i] | (writes[i] == ref_write)
                                          for i in range(n))).all())]
        busy = []
        overflows = []
        for i, port in enumerate(ports):
            addrs = Array(Signal(sig.abits, name=f"log{i}_addr{k}") for k in range(depth))
            words = Array(Signal(sig.data_width, name=f"log{i}_word{k}") for k in range(depth))
            count = Signal(range(depth + 1), name=f"log{i}_count")
            full = Signal(name=f"log{i}_overflow")
            overflows.append(full)
            m.d.comb += port.hold.eq(restoring & online[i])
            with m.If(take):
                m.d.sync += [count.eq(port.wr), full.eq(0)]
                with m.If(port.wr):
                    m.d.sync += [addrs[0].eq(port.wr_addr), words[0].eq(port.wr_old)]
            with m.Elif(~restoring & port.wr):
                with m.If(count == depth):
                    m.d.sync += full.eq(1)
                with m.Else():
                    m.d.sync += [addrs[count].eq(port.wr_addr), words[count].eq(port.wr_old),
                                 count.eq(count + 1)]
            left = Signal(name=f"log{i}_left")
            m.d.comb += left.eq(restoring & online[i] & (count != 0))
            with m.If(left):
                m.d.comb += [port.we.eq(1), port.waddr.eq(addrs[count - 1]),
                             port.wdata.eq(words[count - 1])]
                m.d.sync += count.eq(count - 1)
            if sig.check:
                self._log_checks(m, i, port, take, restoring, count, left)
            busy.append(left)
        m.d.comb += overflow.eq(Cat(*overflows).any())
        return busy


    def _log_checks(self, m, i, port, take, restoring, count, left):
        """The old check bits of the undo log's words, put back with them."""
        checks = Array(Signal(len(port.wr_old_check), name=f"log{i}_check{k}")
                       for k in range(self._depth))
        with m.If(take):
            m.d.sync += checks[0].eq(port.wr_old_check)
        with m.Elif(~restoring & port.wr & (count != self._depth)):
            m.d.sync += checks[count].eq(port.wr_old_check)
        with m.If(left):
            m.d.comb += [port.wcheck.eq(checks[count - 1]), port.wcheck_en.eq(1)]

    def _check_reads(self, m, online, take, restoring, undoing, repairs):
        """The read log, and the check of its words after the undo log is written back;
        return "words left to check"."""
        n, depth, sig = self._lanes, self._depth, self._ram
        ports = [getattr(self, f"ram{i}") for i in range(n)]
        reads = [Cat(port.rd, port.rd_addr) for port in ports]
        ref_read = Signal(len(reads[0]), name="ref_read")
        m.d.comb += ref_read.eq(_first_online(online, reads))
        addrs = Array(Signal(sig.abits, name=f"read_addr{k}") for k in range(depth))
        count = Signal(range(depth + 1), name="read_count")
        with m.If(take):
            m.d.sync += [count.eq(ref_read[0]), addrs[0].eq(ref_read[1:])]
        with m.Elif(~restoring & ref_read[0] & (count != depth)):
            m.d.sync += [addrs[count].eq(ref_read[1:]), count.eq(count + 1)]
        left = Signal(name="read_left")
        m.d.comb += left.eq(restoring & (count != 0) & ~Cat(*undoing).any())
        addr = addrs[count - 1]
        repaired = Signal()
        with m.If(left):
            m.d.sync += count.eq(count - 1)
            for i, port in enumerate(ports):
                m.d.comb += port.raddr.eq(addr)
                good = [k for k in range(n) if k != i]
                value = ports[good[-1]].rdata
                for k in reversed(good[:-1]):
                    value = Mux(online[k] & ~ports[k].rbad, ports[k].rdata, value)
                fix = Signal(name=f"repair{i}")
                m.d.comb += fix.eq(online[i] & port.rbad &
                                   Cat(*(online[k] & ~ports[k].rbad for k in good)).any())
                with m.If(fix):
                    m.d.comb += [port.we.eq(1), port.waddr.eq(addr), port.wdata.eq(value),
                                 repaired.eq(1)]
        with m.If(repaired & ~repairs.all()):
            m.d.sync += repairs.eq(repairs + 1)
        return left


def _first_online(online, values):
    """The value of the first online lane (the last lane's if none is online)."""
    result = values[-1]
    for i in reversed(range(len(values) - 1)):
        result = Mux(online[i], values[i], result)
    return result
