"""The voting bridge's path engines: one per direction, each holding one agreed request.

An engine takes the agreed beats of one request, sends it to one of the secondary paths
(or hands it to the register window), and makes the response for the lanes. On an error
or a timeout the request is retried on the other path, if that one has not failed, or the
lanes get SLVERR from the engine itself. A path that still owes the answer to a request
the engine abandoned after the path had taken it gets no new request of that direction
until it has given that answer, which the engine discards.
"""

from amaranth.hdl import Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge_args import _check_addr_width, _check_paths, _check_timeout
from .signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR, AXI4LiteSignature

__all__ = ["PathChannelsSignature", "PathEngine", "join_channels"]

_CHANNELS = {
    "write": ("awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
              "bresp", "bvalid", "bready"),
    "read":  ("araddr", "arprot", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready"),
}


class PathChannelsSignature(wiring.Signature):
    """The write channels (AW, W, B) or the read channels (AR, R) of an AXI4-Lite bus.

    Seen from the initiator; the members are those of
    :class:`~ftvoter.hdl.signatures.AXI4LiteSignature` with the same names and flows, so
    a write and a read engine together drive one bus.

    Parameters
    ----------
    kind : str
        ``"write"`` or ``"read"``.
    addr_width : int
        Address width.

    Raises
    ------
    TypeError
        If ``kind`` is neither, or ``addr_width`` is not a positive integer.
    """

    def __init__(self, kind, *, addr_width):
        if kind not in _CHANNELS:
            raise TypeError(f"Channel kind must be 'write' or 'read', not {kind!r}")
        bus = AXI4LiteSignature(addr_width=addr_width, data_width=32)
        self._kind, self._addr_width = kind, addr_width
        super().__init__({name: bus.members[name] for name in _CHANNELS[kind]})

    @property
    def kind(self):
        return self._kind

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return (type(other) is type(self) and other.kind == self.kind and
                other.addr_width == self.addr_width)

    def __hash__(self):
        return hash((type(self), self.kind, self.addr_width))

    def __repr__(self):
        return f"PathChannelsSignature({self.kind!r}, addr_width={self.addr_width})"


class _Request:
    """The registers of the request an engine holds, and its per-cycle signals."""

    def __init__(self, kind, paths, addr_width):
        def signal(name, width=1):
            return Signal(width, name=f"{kind}_{name}")
        self.addr, self.prot = signal("addr", addr_width), signal("prot", 3)
        self.csr = signal("csr")            # target is the register window
        self.path = signal("path")          # path in use
        self.sent = signal("sent")          # address beat handed to the path
        self.timer = signal("timer", 16)
        self.local = signal("local")        # response made by the engine itself
        self.local_resp = signal("local_resp", 2)
        self.owes = signal("owes", paths)   # an answer owed by path j, to be discarded
        self.on_path = signal("on_path")    # waiting for a path (not local, not the window)
        self.held = signal("held")          # every beat of the request is in the engine
        self.answer_valid = signal("answer_valid")      # the current path answers now
        self.answer = signal("answer", 2)
        self.taken = signal("taken")        # the current path's answer is taken now
        self.addr_in = signal("addr_in")    # the path takes the address beat now
        self.stray = signal("stray", paths)  # an owed answer is discarded now
        self.whole = signal("whole")        # the path has (or takes now) every beat
        self.partial = signal("partial")    # ... some but not all of them
        self.retry, self.fail = signal("retry"), signal("fail")
        self.timed_out, self.give_up = signal("timed_out"), signal("give_up")
        self.other_ok = signal("other_ok")  # the other path has not failed


def join_channels(m, bus, channels):
    """Connect an engine's path channels (``channels``) to the matching members of a full
    AXI4-Lite initiator ``bus`` of the enclosing component."""
    for name, member in channels.signature.members.items():
        if member.flow == Out:
            m.d.comb += getattr(bus, name).eq(getattr(channels, name))
        else:
            m.d.comb += getattr(channels, name).eq(getattr(bus, name))


class PathEngine(wiring.Component):
    """What the write and the read engine share; see
    :class:`~ftvoter.hdl.bridge_write.WriteEngine` and
    :class:`~ftvoter.hdl.bridge_read.ReadEngine` for their members.

    The request is timed while the current path owes its answer: a path that answers
    SLVERR or DECERR, or that has not answered ``timeout`` cycles after the engine had the
    whole request (or after the answer it still owed for an abandoned request came), is
    reported in ``path_fail``; the request is retried on the other path if that one has
    not ``failed``, otherwise the engine answers SLVERR itself. A path that had taken the
    whole abandoned request owes its answer: it gets no new request until it has given
    it, and the answer is discarded.
    """

    def __init__(self, kind, *, paths, timeout, addr_width, members):
        _check_paths(paths)
        _check_timeout(timeout)
        _check_addr_width(addr_width)
        self._kind, self._paths, self._timeout = kind, paths, timeout
        self._addr_width = addr_width
        members = {
            **members,
            "allow":        In(1),
            "syncing":      In(1),
            "preferred":    In(1),
            "failed":       In(paths),
            "idle":         Out(1),
            "csr_request":  Out(1),
            "csr_addr":     Out(8),
            "csr_done":     In(1),
            "csr_resp":     In(2),
            "resp_valid":   Out(1),
            "resp":         Out(2),
            "complete":     In(1),
            "retry":        Out(1),
            "path_fail":    Out(2),
            "path_error":   Out(1),
            "path_timeout": Out(1),
            "no_path":      Out(1),
        }
        for j in range(paths):
            members[f"path{j}"] = Out(PathChannelsSignature(kind, addr_width=addr_width))
        super().__init__(members)

    @property
    def paths(self):
        return self._paths

    @property
    def timeout(self):
        return self._timeout

    @property
    def addr_width(self):
        return self._addr_width

    def _current(self, r, value):
        """``value[path]`` for the path in use."""
        return value[0] if self._paths == 1 else Mux(r.path, value[1], value[0])

    def _load(self, m, r, accept, addr, prot, csr):
        """Take the agreed address beat of a new request."""
        with m.If(accept):
            m.d.sync += [r.addr.eq(addr), r.prot.eq(prot), r.csr.eq(csr),
                         r.path.eq(self.preferred), r.sent.eq(0), r.timer.eq(0)]

    def _window(self, m, r):
        """The register window made the response: it is the engine's own now."""
        with m.If(self.csr_done):
            m.d.sync += [r.local.eq(1), r.local_resp.eq(self.csr_resp)]

    def _outcome(self, m, r):
        """Time the current path; on its error or timeout, retry or answer SLVERR."""
        p = self._paths
        if p == 2:
            m.d.comb += r.other_ok.eq(~Mux(r.path, self.failed[0], self.failed[1]))
        error = r.answer[1]
        m.d.comb += r.timed_out.eq(r.on_path & r.held & ~r.answer_valid &
                                   (r.timer >= self._timeout))
        with m.If(r.on_path & r.held & ~r.answer_valid):
            m.d.sync += r.timer.eq(r.timer + 1)
        with m.If(self._current(r, r.stray)):
            # The answer the path owed has come: the waiting request goes out now and
            # has the whole timeout for its own answer.
            m.d.sync += r.timer.eq(0)
        with m.If(r.answer_valid & error):
            m.d.comb += [r.fail.eq(1), self.path_error.eq(1), r.retry.eq(r.other_ok)]
        with m.If(r.give_up):
            m.d.comb += [r.fail.eq(1), r.retry.eq(r.other_ok)]
        m.d.comb += [self.path_timeout.eq(r.timed_out), self.retry.eq(r.retry),
                     self.no_path.eq(r.fail & ~r.other_ok)]
        with m.If(r.give_up & r.whole):
            m.d.sync += r.owes.bit_select(r.path, 1).eq(1)
        with m.If(r.retry):
            m.d.sync += [r.path.eq(~r.path), r.sent.eq(0), r.timer.eq(0)]
            self._retried(m, r)
        with m.Elif(r.give_up):
            m.d.sync += [r.local.eq(1), r.local_resp.eq(AXI4_RESP_SLVERR)]
            self._answered_locally(m, r)

    def _respond(self, m, r, *, path_fail):
        """The response for the lanes, and what its completion clears."""
        m.d.comb += [
            self.resp_valid.eq(r.local | (r.answer_valid & ~r.retry)),
            self.resp.eq(Mux(r.local, r.local_resp,
                             Mux(r.answer[1], AXI4_RESP_SLVERR, AXI4_RESP_OKAY))),
            r.taken.eq(Mux(r.retry, r.answer_valid, self.complete & ~r.local)),
            self.path_fail.eq(Mux(path_fail, Mux(r.path, 0b10, 0b01), 0)),
        ]
        with m.If(self.complete):
            m.d.sync += r.local.eq(0)
            self._completed(m, r)

    def _retried(self, m, r):
        """Hook: what else a retry clears (in the clock edge that ends its cycle)."""

    def _answered_locally(self, m, r):
        """Hook: what else giving up without a retry does."""

    def _completed(self, m, r):
        """Hook: what else the completion of the response clears."""
