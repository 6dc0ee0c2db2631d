"""The voting bridge's read engine: one agreed read at a time, on the paths."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from .bridge_path import PathEngine, _Request
from .encodings import ADDR_WIDTH

__all__ = ["ReadEngine"]


class ReadEngine(PathEngine):
    """Hold one agreed read (AR beat), send it to a path, answer the lanes.

    The AR beat is taken (``ar_ready``, high only with ``ar_valid``) while ``allow`` is
    high, no resynchronisation is pending and the engine holds no read; it is presented
    to a path from the next cycle until the path takes it. A read of the register window
    (``ar_csr``) raises ``csr_request`` and is answered with ``csr_data`` and
    ``csr_resp`` once ``csr_done``. A path that answers SLVERR or DECERR, or does not
    answer within ``timeout`` cycles, is reported in ``path_fail``; the read is retried
    on the other path if that one has not ``failed``, else answered SLVERR by the engine.
    A path that had taken the AR beat owes the answer, discarded when it comes.

    Parameters
    ----------
    paths, timeout, addr_width
        As for :class:`WriteEngine`.

    Members
    -------
    ar_valid, ar_addr, ar_prot, ar_csr : In; ar_ready : Out(1)
        The agreed AR beat; ``ar_csr``: it is for the register window.
    csr_data : In(32)
        The register window's read data.
    resp_valid, resp, data : Out
        The response for the lanes (``data`` from the window or the current path).
    allow, syncing, preferred, failed, idle, csr_request, csr_addr, csr_done, csr_resp,
    complete, retry, path_fail, path_error, path_timeout, no_path
        As for :class:`WriteEngine`.
    path<j> : Out(PathChannelsSignature("read", addr_width=addr_width))
        The read channels of path ``j``.

    Raises
    ------
    TypeError
        If ``paths``, ``timeout`` or ``addr_width`` are of the wrong type or out of range.
    """

    def __init__(self, *, paths=1, timeout=64, addr_width=ADDR_WIDTH):
        super().__init__("read", paths=paths, timeout=timeout, addr_width=addr_width,
                         members={
                             "ar_valid": In(1), "ar_addr": In(addr_width),
                             "ar_prot": In(3), "ar_csr": In(1), "ar_ready": Out(1),
                             "csr_data": In(32), "data": Out(32),
                         })

    def elaborate(self, platform):
        m = Module()
        r = _Request("read", self._paths, self._addr_width)
        r.ar_full = Signal(name="ar_full")     # the engine holds a read
        m.d.comb += [
            self.ar_ready.eq(self.allow & ~self.syncing & ~r.ar_full & self.ar_valid),
            self.idle.eq(~r.ar_full),
        ]
        with m.If(self.ar_ready):
            m.d.sync += r.ar_full.eq(1)
        self._load(m, r, self.ar_ready, self.ar_addr, self.ar_prot, self.ar_csr)
        m.d.comb += [self.csr_request.eq(r.ar_full & r.csr & ~r.local),
                     self.csr_addr.eq(r.addr[:8])]
        self._window(m, r)
        m.d.comb += [r.on_path.eq(r.ar_full & ~r.csr & ~r.local), r.held.eq(r.ar_full)]
        paths = [getattr(self, f"path{j}") for j in range(self._paths)]
        for j, bus in enumerate(paths):
            self._drive(m, r, j, bus)
        m.d.sync += r.owes.eq(r.owes & ~r.stray)
        m.d.comb += [r.whole.eq(r.sent | r.addr_in), r.give_up.eq(r.timed_out)]
        self._outcome(m, r)
        self._respond(m, r, path_fail=r.fail)
        rdata = paths[0].rdata
        for j in range(1, self._paths):
            rdata = Mux(r.path == j, paths[j].rdata, rdata)
        m.d.comb += self.data.eq(Mux(r.local, self.csr_data, rdata))
        with m.If(self.complete):
            m.d.sync += r.ar_full.eq(0)
        return m

    def _drive(self, m, r, j, bus):
        """Present the read to path ``j`` if it is the current one; take its answer."""
        mine = r.on_path & (r.path == j)
        send = mine & ~r.owes[j]
        m.d.comb += [
            bus.arvalid.eq(send & ~r.sent),
            bus.araddr.eq(r.addr), bus.arprot.eq(r.prot),
            r.stray[j].eq(r.owes[j] & bus.rvalid),
        ]
        with m.If(bus.arvalid & bus.arready):
            m.d.comb += r.addr_in.eq(1)
            m.d.sync += r.sent.eq(1)
        with m.If(send & bus.rvalid & r.sent):
            m.d.comb += [r.answer_valid.eq(1), r.answer.eq(bus.rresp)]
        m.d.comb += bus.rready.eq(r.owes[j] | Mux(mine, r.taken, self.failed[j]))
