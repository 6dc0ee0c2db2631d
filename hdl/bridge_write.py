"""The voting bridge's write engine: one agreed write at a time, on the paths.

Late answers and half writes (the voting bridge's behaviour on its paths):

A path may still answer after the timeout (a slow target). For each path and channel
the bridge remembers the answer still owed for a timed-out request whose beats the
path had all taken, and discards it when it comes; until then the path gets no new
request on that channel (AXI4-Lite answers in order), so a late answer is never taken
for another request's, even after software has returned the path to service. A
request waits at most ``timeout`` cycles for that answer, then has ``timeout`` cycles
for its own. With one path, the path stays marked failed and is still used: the lanes
get SLVERR for the operation that timed out, and the next operations go to the path
as soon as it has given its late answer; one that would wait longer than ``timeout``
cycles for it gets SLVERR without being sent.

A write that timed out with only one of its two beats (AW, W) taken by the path is
never completed with another write's beat. With one path, the bridge goes on offering
the other beat for up to ``timeout`` more cycles after the lanes have their SLVERR
(their next write waits meanwhile); once the path takes it, the write's answer is
owed as above. If it does not take it, or with two paths (the write is retried on the
other one at once), the path holds half a write and gets no more writes until software
returns it to service (writing 1 to its PATH_STATUS.FAILED bit), which tells the bridge
that the target has been reset; with one path, the lanes get SLVERR at once for every
write until then (reads still go to the path).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from .bridge_path import PathEngine, _Request
from .encodings import ADDR_WIDTH

__all__ = ["WriteEngine"]


class _WriteRequest(_Request):
    """A write: the request's registers and signals, and the write's own."""

    def __init__(self, paths, addr_width):
        super().__init__("write", paths, addr_width)
        self.aw_full, self.w_full = Signal(name="aw_full"), Signal(name="w_full")
        self.w_sent = Signal(name="w_sent")             # W beat handed to the path
        self.w_strb = Signal(4, name="w_strb")
        self.data_in = Signal(name="write_data_in")     # the path takes the W beat now
        self.finishing = Signal(name="finishing")       # see WriteEngine._finish
        self.finish_fail = Signal(name="write_finish_fail")
        # Paths left holding half an abandoned write (its AW without its W or the reverse):
        # they get no write until software returns them to service (PATH_STATUS.FAILED).
        self.half = Signal(paths, name="half")


class WriteEngine(PathEngine):
    """Hold one agreed write (AW and W beats), send it to a path, answer the lanes.

    A beat is taken (``aw_ready``, ``w_ready``, high only with the beat's valid) while
    ``allow`` is high and the engine has no beat of that kind; during ``syncing``, only
    the missing half of a write already begun. The write is presented to a path from the
    next cycle, AW and W each until the path takes it. A write to the register window
    (``aw_csr``) raises ``csr_request`` once both beats are in and is answered from
    ``csr_resp`` when ``csr_done``.

    A path that answers SLVERR or DECERR, or does not answer within ``timeout`` cycles
    once it has both beats to take, is reported in ``path_fail`` and the write is retried
    on the other path if that one has not ``failed``; otherwise the engine answers SLVERR
    itself. On a timeout the write is withdrawn from the path. A path that had taken both
    beats owes the answer, discarded when it comes; a path that had taken only one is left
    holding half a write: with two paths it is marked in ``broken`` (no writes while it is
    ``failed``); with one, the missing beat is still offered for up to ``timeout`` more
    cycles after the lanes have their SLVERR, and only if the path does not take it is it
    marked. A path in ``broken`` gets SLVERR for every write at once.

    ``resp_valid`` and ``resp`` are the response for the lanes; ``complete`` (every online
    lane took it) frees the engine for the next write at the next clock edge.

    Parameters
    ----------
    paths : int
        1 or 2.
    timeout : int
        Cycles a path has to answer (2 to 65535).
    addr_width : int
        Address width, 9 to 32 (default 32); data width 32.

    Members
    -------
    aw_valid, aw_addr, aw_prot, aw_csr : In; aw_ready : Out(1)
        The agreed AW beat; ``aw_csr``: it is for the register window.
    w_valid, w_data, w_strb : In; w_ready : Out(1)
        The agreed W beat.
    allow, syncing : In(1)
        Beats may be taken; a resynchronisation is pending.
    preferred : In(1)
        Path for a new write.
    failed : In(paths)
        Paths marked failed (PATH_STATUS.FAILED).
    broken : Out(paths)
        Failed paths holding half a write.
    idle : Out(1)
        The engine holds no beat.
    csr_request : Out(1), csr_addr : Out(8), csr_data : Out(32), csr_strb : Out(4)
        A write for the register window is waiting.
    csr_done : In(1), csr_resp : In(2)
        The window has served it, with this response.
    resp_valid, resp : Out
        The response for the lanes.
    complete : In(1)
        Every online lane has taken the response.
    retry : Out(1)
        The write is retried on the other path.
    path_fail : Out(2)
        Paths to mark failed (bit ``j``).
    path_error, path_timeout, no_path : Out(1)
        The path answered an error; it timed out; no path is left (SLVERR).
    path<j> : Out(PathChannelsSignature("write", addr_width=addr_width))
        The write channels of path ``j``.

    Raises
    ------
    TypeError
        If ``paths``, ``timeout`` or ``addr_width`` are of the wrong type or out of range.
    """

    def __init__(self, *, paths=1, timeout=64, addr_width=ADDR_WIDTH):
        super().__init__("write", paths=paths, timeout=timeout, addr_width=addr_width,
                         members={
                             "aw_valid": In(1), "aw_addr": In(addr_width),
                             "aw_prot": In(3), "aw_csr": In(1), "aw_ready": Out(1),
                             "w_valid": In(1), "w_data": In(32), "w_strb": In(4),
                             "w_ready": Out(1), "broken": Out(paths),
                             "csr_data": Out(32), "csr_strb": Out(4),
                         })
        self._w_data = Signal(32, name="w_data")   # the forwarded write data

    def elaborate(self, platform):
        m = Module()
        r = _WriteRequest(self._paths, self._addr_width)
        m.d.comb += self.broken.eq(r.half & self.failed)
        m.d.sync += r.half.eq(self.broken)
        self._accept(m, r)
        self._window(m, r)
        m.d.comb += [r.on_path.eq(r.aw_full & ~r.csr & ~r.local),
                     r.held.eq(r.aw_full & r.w_full)]
        for j in range(self._paths):
            self._drive(m, r, j, getattr(self, f"path{j}"))
        m.d.sync += r.owes.eq(r.owes & ~r.stray)
        has_addr, has_data = r.sent | r.addr_in, r.w_sent | r.data_in
        m.d.comb += [r.whole.eq(has_addr & has_data), r.partial.eq(has_addr ^ has_data)]
        # A path left holding half a write is refused the request at once. (A write being
        # finished is no longer the lanes' request: it is not given up.)
        refused = Signal(name="write_refused")
        m.d.comb += [refused.eq(r.on_path & r.held & self._current(r, self.broken)),
                     r.give_up.eq((r.timed_out | refused) & ~r.finishing)]
        self._outcome(m, r)
        self._finish(m, r)
        self._respond(m, r, path_fail=r.fail | r.finish_fail)
        return m

    def _accept(self, m, r):
        """Take the agreed AW and W beats."""
        m.d.comb += [
            self.aw_ready.eq(self.allow & (~self.syncing | r.w_full) & ~r.aw_full &
                             self.aw_valid),
            self.w_ready.eq(self.allow & (~self.syncing | r.aw_full) & ~r.w_full &
                            self.w_valid),
            self.idle.eq(~r.aw_full & ~r.w_full),
        ]
        with m.If(self.aw_ready):
            m.d.sync += r.aw_full.eq(1)
        self._load(m, r, self.aw_ready, self.aw_addr, self.aw_prot, self.aw_csr)
        with m.If(self.w_ready):
            m.d.sync += [self._w_data.eq(self.w_data), r.w_full.eq(1),
                         r.w_strb.eq(self.w_strb), r.w_sent.eq(0)]
        m.d.comb += [
            self.csr_request.eq(r.aw_full & r.w_full & r.csr & ~r.local),
            self.csr_addr.eq(r.addr[:8]), self.csr_data.eq(self._w_data),
            self.csr_strb.eq(r.w_strb),
        ]

    def _drive(self, m, r, j, bus):
        """Present the write to path ``j`` if it is the current one; take its answer."""
        mine = r.on_path & (r.path == j)
        send = mine & ~r.owes[j] & ~self.broken[j]
        m.d.comb += [
            bus.awvalid.eq(send & r.aw_full & ~r.sent),
            bus.awaddr.eq(r.addr), bus.awprot.eq(r.prot),
            bus.wvalid.eq(send & r.w_full & ~r.w_sent),    # mine implies AW is in
            bus.wdata.eq(self._w_data), bus.wstrb.eq(r.w_strb),
            r.stray[j].eq(r.owes[j] & bus.bvalid),
        ]
        with m.If(bus.awvalid & bus.awready):
            m.d.comb += r.addr_in.eq(1)
            m.d.sync += r.sent.eq(1)
        with m.If(bus.wvalid & bus.wready):
            m.d.comb += r.data_in.eq(1)
            m.d.sync += r.w_sent.eq(1)
        with m.If(send & bus.bvalid & r.sent & r.w_sent & ~r.finishing):
            m.d.comb += [r.answer_valid.eq(1), r.answer.eq(bus.bresp)]
        m.d.comb += bus.bready.eq(r.owes[j] | Mux(mine, r.taken, self.failed[j]))

    def _retried(self, m, r):
        m.d.sync += r.w_sent.eq(0)
        with m.If(r.give_up & r.partial):
            m.d.sync += r.half.bit_select(r.path, 1).eq(1)

    def _answered_locally(self, m, r):
        with m.If(r.partial):
            m.d.sync += [r.finishing.eq(1), r.timer.eq(0)]

    def _finish(self, m, r):
        """Finish a write abandoned with one beat taken by the only path (see above):
        its registers stay full and the missing beat is still offered, so the path never
        pairs its half with another write's beat."""
        with m.If(r.finishing & r.on_path):
            with m.If(r.whole):
                # The missing beat is in: the path owes the answer; the engine is free.
                m.d.sync += [r.owes.bit_select(r.path, 1).eq(1), r.finishing.eq(0),
                             r.aw_full.eq(0), r.w_full.eq(0), r.w_sent.eq(0)]
            with m.Elif(r.timed_out):
                m.d.comb += r.finish_fail.eq(1)
                m.d.sync += [r.half.bit_select(r.path, 1).eq(1), r.finishing.eq(0),
                             r.aw_full.eq(0), r.w_full.eq(0), r.w_sent.eq(0)]

    def _completed(self, m, r):
        # A write being finished keeps its beats until the path has them.
        with m.If(~r.finishing):
            m.d.sync += [r.aw_full.eq(0), r.w_full.eq(0), r.w_sent.eq(0)]
