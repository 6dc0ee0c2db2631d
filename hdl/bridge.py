"""VotingBridge: the I/O boundary that compares the lanes, contains divergence, isolates."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes
from .lanes import LaneManager
from .registers import CAUSES, CHANNELS, ErrorRegisters
from .sabotage import StateRegisters
from .signatures import AXI4_RESP_OKAY, AXI4_RESP_SLVERR, AXI4LiteSignature

__all__ = ["VotingBridge", "POLICIES"]

POLICIES = ("halt", "diagnose")
_CAUSE = {name: bit for bit, (name, _) in enumerate(CAUSES)}
_VEC = 40   # compared vector: 32 payload bits (address or data) + 8 control bits


def _popcount(value):
    return sum(value[i] for i in range(len(value)))


class _Engine:
    """Signals of one direction (write or read) of the bridge."""

    def __init__(self, kind, addr_width):
        self.kind = kind
        self.addr = Signal(addr_width, name=f"{kind}_addr")
        self.prot = Signal(3, name=f"{kind}_prot")
        self.csr = Signal(name=f"{kind}_csr")           # target is the register window
        self.path = Signal(name=f"{kind}_path")         # path in use
        self.sent = Signal(name=f"{kind}_sent")         # address beat handed to the path
        self.timer = Signal(16, name=f"{kind}_timer")
        self.local = Signal(name=f"{kind}_local")       # response made by the bridge itself
        self.local_resp = Signal(2, name=f"{kind}_local_resp")


class VotingBridge(wiring.Component):
    """Compare the lanes' AXI4-Lite traffic, forward only what they agree on, isolate.

    The lanes are AXI4-Lite initiators (``lane<i>_bus``, target ports here); the bridge is
    the initiator on one or two secondary paths (``path<j>_bus``).

    **Voting.** Every cycle, the bridge compares across the online lanes each lane's
    write-address, write-data and read-address channel (``valid`` and, when valid, the
    payload: address and prot, or data and strobes) and the lanes' ``bready`` and
    ``rready``. An AW, W or AR beat is accepted (ready to all online lanes in the same
    cycle) only in a cycle in which all online lanes present it identically; it is then
    registered and presented to a path in the next cycle, so divergent data never reaches
    a path. In a cycle with any divergence nothing is accepted, and:

    - TMR (3 online): the single lane that differs from the other two is isolated (state
      BROKEN, CORRECTED counted); the two others go on in DMR;
    - DMR (2 online): the lane whose ``self_error`` is set is isolated; if neither or both
      are set, ``policy`` decides: ``"halt"`` stops all acceptance (fail-safe: nothing
      more reaches I/O) until CONTROL.RESUME; ``"diagnose"`` raises ``diag_request`` and
      waits (at most ``timeout`` cycles) for each online lane's ``lane<i>_diag_done`` and
      ``lane<i>_diag_pass``: the single failing lane is isolated, otherwise the bridge
      halts.

    Isolation takes effect at the next clock edge (detection-to-isolation latency: 1
    cycle); the survivors keep their beat valid, as AXI requires, and it is accepted in
    the next cycle, so no operation is lost. An online lane that raises ``self_error``
    while the others do not is isolated at once, even before its outputs diverge; when
    every online lane raises it (a common-cause fault), the bridge halts at once.

    **Responses.** B and R responses go to all online lanes in the same cycle, passed
    through from the path (the bridge adds one cycle to a transaction: the registered
    request). Each lane's handshake is tracked on its own, so every lane sees a valid
    response until it takes it; the path's response completes when every online lane has
    taken it.

    **Paths.** A path that answers SLVERR or DECERR, or does not answer within ``timeout``
    cycles of the request, is marked failed (PATH_STATUS.FAILED) and the operation is
    retried on the other path if that one has not failed; otherwise the lanes get SLVERR.
    New operations go to the first path not marked failed (path 0 when all are, unless it
    holds half a write and path 1 does not). On a timeout the bridge withdraws its request
    from the path (the one exception to AXI's rule that valid is held until ready) and
    drains stray responses from failed paths. Writes are assumed idempotent when retried.

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

    **Registers.** Agreed transactions to ``[csr_base, csr_base + 256)`` go to the
    :class:`~ftvoter.hdl.registers.ErrorRegisters` instead of a path; ``mgmt`` reaches
    them out of band. A lane can never write a register alone: only agreed writes arrive.

    **Lanes.** :class:`~ftvoter.hdl.lanes.LaneManager` keeps the lane states and handles
    LANE_CMD; while it resynchronises a lane, no new transaction is accepted, and once
    none is in flight ``lanes_reset`` resets all lanes together.

    Parameters
    ----------
    lanes : int
        2 or 3.
    paths : int
        1 or 2.
    policy : str
        ``"halt"`` or ``"diagnose"``.
    timeout : int
        Cycles a path has to answer (2 to 65535).
    addr_width : int
        AXI4-Lite address width of lanes and paths (data width is 32).
    irq_width : int
        Width of ``irq_in``.
    csr_base : int or None
        Byte address of the register window (256 bytes, aligned); by default the top
        256 bytes of the address space.

    Members
    -------
    lane<i>_bus : In(AXI4LiteSignature(addr_width, 32))
    lane<i>_self_error : In(1)
    lane<i>_irq : Out(irq_width + 1)
        ``irq_in`` and, in the top bit, the bridge's interrupt; zero for offline lanes.
    path<j>_bus : Out(AXI4LiteSignature(addr_width, 32))
    mgmt : In(AXI4LiteSignature(8, 32))
        Out-of-band access to the registers.
    irq_in : In(irq_width)
    mgmt_irq : Out(1)
        The bridge's interrupt (IRQ_STATUS & IRQ_ENABLE).
    online, lane_freeze : Out(lanes)
        Lanes in the vote; lanes whose clock is to be stopped (LANE_CMD FREEZE).
    lanes_reset : Out(1)
        Reset all lanes (resynchronisation).
    mismatch : Out(1)
        Asserted one cycle after a cycle in which the online lanes diverged (while not
        halted, diagnosing or resetting), like
        :class:`~ftvoter.hdl.compare.LockstepComparator`'s output.
    disagree : Out(lanes)
        With ``mismatch``: the lanes blamed (the odd lane in TMR, all online in DMR).
    halted : Out(1)
        The bridge stopped forwarding (fail-safe) until software writes CONTROL.RESUME.
    diag_request : Out(1); lane<i>_diag_done, lane<i>_diag_pass : In(1)
        Only with ``policy="diagnose"``: the self-test handshake.

    Raises
    ------
    TypeError
        If ``lanes``, ``paths``, ``policy``, ``timeout`` or ``irq_width`` are of the wrong
        type or out of range.
    ValueError
        If ``csr_base`` is not aligned to 256 or lies outside the address space.
    """

    def __init__(self, *, lanes=2, paths=1, policy="halt", timeout=64, addr_width=16,
                 irq_width=1, csr_base=None):
        _check_lanes(lanes)
        if paths not in (1, 2) or isinstance(paths, bool):
            raise TypeError(f"Path count must be 1 or 2, not {paths!r}")
        if policy not in POLICIES:
            raise TypeError(f"Policy must be 'halt' or 'diagnose', not {policy!r}")
        if (not isinstance(timeout, int) or isinstance(timeout, bool) or
                not 2 <= timeout <= 0xFFFF):
            raise TypeError(f"Timeout must be an integer from 2 to 65535, not {timeout!r}")
        if not isinstance(addr_width, int) or isinstance(addr_width, bool) or \
                not 9 <= addr_width <= 32:
            raise TypeError(f"Address width must be an integer from 9 to 32, "
                            f"not {addr_width!r}")
        if csr_base is None:
            csr_base = 2**addr_width - 256
        if not isinstance(csr_base, int) or isinstance(csr_base, bool):
            raise TypeError(f"CSR base must be an integer, not {csr_base!r}")
        if csr_base % 256 or not 0 <= csr_base <= 2**addr_width - 256:
            raise ValueError(f"CSR base must be a multiple of 256 within the "
                             f"{addr_width}-bit address space, not {csr_base:#x}")
        self._lanes, self._paths, self._policy, self._timeout = lanes, paths, policy, timeout
        self._addr_width, self._irq_width, self._csr_base = addr_width, irq_width, csr_base
        bus = AXI4LiteSignature(addr_width=addr_width, data_width=32)
        members = {}
        for i in range(lanes):
            members[f"lane{i}_bus"] = In(bus)
            members[f"lane{i}_self_error"] = In(1)
            members[f"lane{i}_irq"] = Out(irq_width + 1)
        for j in range(paths):
            members[f"path{j}_bus"] = Out(bus)
        members.update({
            "mgmt":        In(AXI4LiteSignature(addr_width=8, data_width=32)),
            "irq_in":      In(irq_width),
            "mgmt_irq":    Out(1),
            "online":      Out(lanes),
            "lane_freeze": Out(lanes),
            "lanes_reset": Out(1),
            "mismatch":    Out(1),
            "disagree":    Out(lanes),
            "halted":      Out(1),
        })
        if policy == "diagnose":
            members["diag_request"] = Out(1)
            for i in range(lanes):
                members[f"lane{i}_diag_done"] = In(1)
                members[f"lane{i}_diag_pass"] = In(1)
        super().__init__(members)
        self._regs = ErrorRegisters(lanes=lanes, paths=paths, policy=policy, timeout=timeout)
        self._manager = LaneManager(lanes)
        # The forwarded write data, registered after the comparison: a test-only fault
        # site (a fault here is beyond every check, so it must show as silent corruption).
        self._w_data = Signal(32, name="w_data")
        self.sites = StateRegisters()
        self.sites.add("w_data", self._w_data)

    @property
    def lanes(self):
        return self._lanes

    def site_registers(self):
        """Yield ``(name, register)`` for the bridge's test-only fault sites.

        ``w_data`` holds the agreed write data after the comparison, so a fault there
        reaches the path unchecked: campaigns use it to prove that silent corruption is
        seen as such.
        """
        yield from self.sites

    def attach_saboteurs(self, saboteurs):
        """Give the test-only sites saboteurs (see :meth:`site_registers`)."""
        self.sites.saboteurs.update(saboteurs)

    @property
    def paths(self):
        return self._paths

    @property
    def policy(self):
        return self._policy

    @property
    def timeout(self):
        return self._timeout

    @property
    def csr_base(self):
        return self._csr_base

    @property
    def registers(self):
        return self._regs

    @property
    def manager(self):
        return self._manager

    def elaborate(self, platform):
        m = Module()
        n, p = self._lanes, self._paths
        m.submodules.regs = regs = self._regs
        m.submodules.manager = manager = self._manager
        lanes = [getattr(self, f"lane{i}_bus") for i in range(n)]
        paths = [getattr(self, f"path{j}_bus") for j in range(p)]
        self_error = Cat(*(getattr(self, f"lane{i}_self_error") for i in range(n)))
        online = manager.online

        halted = Signal()
        diagnosing = Signal()
        frozen = Signal()
        hold = Signal()
        m.d.comb += frozen.eq(halted | diagnosing | manager.lanes_reset)

        # --- compare the lanes, channel by channel ----------------------------------------
        zero32 = Const(0, 32)
        # Each channel as one vector per lane (the syndrome is the XOR of two lanes'
        # vectors, the value passed on is the vector of the lowest online lane) ...
        vectors = {
            "AW": [Cat(b.awaddr, Const(0, 32 - self._addr_width), b.awvalid, b.awprot,
                       Const(0, 4)) for b in lanes],
            "W":  [Cat(b.wdata, b.wvalid, b.wstrb, Const(0, 3)) for b in lanes],
            "AR": [Cat(b.araddr, Const(0, 32 - self._addr_width), b.arvalid, b.arprot,
                       Const(0, 4)) for b in lanes],
            "B":  [Cat(zero32, b.bready, Const(0, 7)) for b in lanes],
            "R":  [Cat(zero32, b.rready, Const(0, 7)) for b in lanes],
        }
        # ... and as (valid, payload) for the divergence test: two beats differ if exactly
        # one is valid, or both are and their payloads differ (an idle payload is not
        # compared). The payload comparison, the bulk, does not wait for the valid bits,
        # which keeps it short: it lies between the lanes' outputs and their ready inputs.
        beats = {
            "AW": [(b.awvalid, Cat(b.awaddr, b.awprot)) for b in lanes],
            "W":  [(b.wvalid, Cat(b.wdata, b.wstrb)) for b in lanes],
            "AR": [(b.arvalid, Cat(b.araddr, b.arprot)) for b in lanes],
            "B":  [(Const(1, 1), b.bready) for b in lanes],
            "R":  [(Const(1, 1), b.rready) for b in lanes],
        }
        channel = {}
        for name, vecs in vectors.items():
            channel[name] = self._compare(m, name, vecs, beats[name], online)

        n_online = _popcount(online)
        differs = Cat(*(channel[name]["differs"] for name in CHANNELS))
        odd = Signal(n)
        m.d.comb += odd.eq(_or([channel[name]["odd"] for name in CHANNELS]))
        no_majority = _or([channel[name]["no_majority"] for name in CHANNELS])
        tmr_ok = Signal()
        m.d.comb += tmr_ok.eq((n_online == 3) & ~no_majority & (_popcount(odd) == 1))
        suspects = Signal(n)
        m.d.comb += suspects.eq(online & self_error)
        single_suspect = Signal()
        m.d.comb += single_suspect.eq((_popcount(suspects) == 1) & (n_online >= 2))

        isolate = Signal(n)
        cause = _Causes()
        diverged = Signal()
        m.d.comb += diverged.eq(~frozen & differs.any())
        with m.If(diverged):
            m.d.comb += [hold.eq(1), regs.divergence.eq(1)]
            for name in CHANNELS:
                m.d.comb += cause[_CAUSE[name if name in ("AW", "W", "AR") else
                                         f"{name}_READY"]].eq(channel[name]["differs"])
            # Syndrome of the first differing channel, in channel order.
            for name in reversed(list(CHANNELS)):
                with m.If(channel[name]["differs"]):
                    m.d.comb += [regs.div_channel.eq(CHANNELS[name]),
                                 regs.div_bits.eq(channel[name]["diff"][:32]),
                                 regs.div_ctrl.eq(channel[name]["diff"][32:40])]
            with m.If(tmr_ok):
                m.d.comb += [isolate.eq(odd), regs.corrected.eq(1),
                             regs.div_lanes.eq(odd), regs.lane_errors.eq(odd)]
            with m.Else():
                m.d.comb += [regs.div_lanes.eq(online), regs.lane_errors.eq(online)]
                with m.If(single_suspect):
                    m.d.comb += [isolate.eq(suspects), cause[_CAUSE["SELF_ERROR"]].eq(1)]
                with m.Else():
                    m.d.comb += cause[_CAUSE["NO_MAJORITY"]].eq(1)
                    if self._policy == "halt":
                        m.d.comb += cause[_CAUSE["HALTED"]].eq(1)
                        m.d.sync += halted.eq(1)
                    else:
                        m.d.sync += diagnosing.eq(1)
        with m.Elif(~frozen & single_suspect):
            # A lane that reports itself broken is taken out before it diverges.
            m.d.comb += [isolate.eq(suspects), cause[_CAUSE["SELF_ERROR"]].eq(1)]
        with m.Elif(~frozen & online.any() & (suspects == online)):
            # Every lane reports itself broken (a common-cause fault): none is left to
            # trust, so stop before their output goes out.
            m.d.comb += [cause[_CAUSE["SELF_ERROR"]].eq(1), cause[_CAUSE["HALTED"]].eq(1)]
            m.d.sync += halted.eq(1)
        m.d.comb += manager.isolate.eq(isolate)
        m.d.sync += [self.mismatch.eq(diverged),
                     self.disagree.eq(Mux(diverged, regs.div_lanes, 0))]

        with m.If(regs.resume):
            m.d.sync += halted.eq(0)

        if self._policy == "diagnose":
            self._diagnose(m, regs, online, diagnosing, halted, cause, isolate)

        # --- lane manager, register status ------------------------------------------------
        m.d.comb += [
            manager.cmd.eq(regs.lane_cmd),
            manager.cmd_lane.eq(regs.lane_cmd_lane),
            manager.cmd_op.eq(regs.lane_cmd_op),
            regs.halted.eq(halted),
            self.halted.eq(halted),
            regs.syncing.eq(manager.syncing),
            regs.diagnosing.eq(diagnosing),
            regs.online.eq(online),
            regs.lane_state.eq(manager.state),
            regs.event_valid.eq(manager.event_valid),
            regs.event_lane.eq(manager.event_lane),
            regs.event_kind.eq(manager.event_kind),
            self.online.eq(online),
            self.lane_freeze.eq(manager.freeze),
            self.lanes_reset.eq(manager.lanes_reset),
            self.mgmt_irq.eq(regs.irq),
        ]
        for i in range(n):
            m.d.comb += getattr(self, f"lane{i}_irq").eq(
                Mux(online[i], Cat(self.irq_in, regs.irq), 0))
        wiring.connect(m, wiring.flipped(self.mgmt), regs.mgmt)

        # --- engines ---------------------------------------------------------------------
        failed = regs.path_failed[:p]
        # What a path still owes for requests the bridge abandoned (timed out) after the
        # path had taken all their beats: one B (writes) or R (reads) answer, which is
        # discarded when it comes. A path that owes one gets no new request of that kind
        # until it has given it (AXI4-Lite answers in order on each channel), so one bit per
        # path and channel is enough, and a late answer is never taken for a new request's.
        owe_b, owe_r = Signal(p), Signal(p)
        # Paths left holding half an abandoned write (its AW without its W or the reverse):
        # they get no write until software returns them to service (PATH_STATUS.FAILED).
        half = Signal(p)
        broken = Signal(p)
        m.d.comb += broken.eq(half & failed)
        m.d.sync += half.eq(broken)
        preferred = Signal()
        if p == 2:
            m.d.comb += preferred.eq((failed[0] & ~failed[1]) | (broken[0] & ~broken[1]))
        m.d.comb += regs.active_path.eq(preferred)

        syncing = manager.syncing
        write, read = _Engine("write", self._addr_width), _Engine("read", self._addr_width)
        aw_full, w_full, ar_full = Signal(), Signal(), Signal()
        w_sent = Signal()
        w_data, w_strb = self._w_data, Signal(4)
        self.sites.hold(m)
        accept = ~frozen & ~hold
        agreed = {name: channel[name]["agreed"] for name in ("AW", "W", "AR")}
        accept_aw = Signal()
        accept_w = Signal()
        accept_ar = Signal()
        m.d.comb += [
            accept_aw.eq(accept & (~syncing | w_full) & ~aw_full & agreed["AW"][32]),
            accept_w.eq(accept & (~syncing | aw_full) & ~w_full & agreed["W"][32]),
            accept_ar.eq(accept & ~syncing & ~ar_full & agreed["AR"][32]),
            manager.safe.eq(~aw_full & ~w_full & ~ar_full),
        ]
        for i, bus in enumerate(lanes):
            m.d.comb += [bus.awready.eq(accept_aw & online[i]),
                         bus.wready.eq(accept_w & online[i]),
                         bus.arready.eq(accept_ar & online[i])]

        def in_window(addr):
            return (addr >> 8) == (self._csr_base >> 8)

        for engine, full, vec, accepted in ((write, aw_full, agreed["AW"], accept_aw),
                                            (read, ar_full, agreed["AR"], accept_ar)):
            with m.If(accepted):
                addr = vec[:self._addr_width]
                m.d.sync += [full.eq(1), engine.addr.eq(addr), engine.prot.eq(vec[33:36]),
                             engine.csr.eq(in_window(addr)), engine.path.eq(preferred),
                             engine.sent.eq(0), engine.timer.eq(0)]
        with m.If(accept_w):
            m.d.comb += self.sites.next("w_data").eq(agreed["W"][:32])
            m.d.sync += [w_full.eq(1),
                         w_strb.eq(agreed["W"][33:37]), w_sent.eq(0)]

        # Register window accesses: one per cycle, writes first.
        csr_write = Signal()
        csr_read = Signal()
        m.d.comb += [
            csr_write.eq(aw_full & w_full & write.csr & ~write.local),
            csr_read.eq(ar_full & read.csr & ~read.local & ~csr_write),
        ]
        with m.If(csr_write):
            m.d.comb += [regs.lanes.en.eq(1), regs.lanes.write.eq(1),
                         regs.lanes.addr.eq(write.addr[:8]), regs.lanes.wdata.eq(w_data),
                         regs.lanes.wstrb.eq(w_strb)]
            m.d.sync += [write.local.eq(1),
                         write.local_resp.eq(Mux(regs.lanes_error, AXI4_RESP_SLVERR,
                                                 AXI4_RESP_OKAY))]
        read_data = Signal(32)
        with m.If(csr_read):
            m.d.comb += [regs.lanes.en.eq(1), regs.lanes.addr.eq(read.addr[:8])]
            m.d.sync += [read.local.eq(1), read.local_resp.eq(AXI4_RESP_OKAY),
                         read_data.eq(regs.lanes.rdata)]

        # A write that timed out with one of its beats taken by the path and the other not
        # (no other path to retry on): after the lanes have their SLVERR, its registers stay
        # full and the missing beat is still offered, so the path never pairs its half with
        # another write's beat; within a second timeout the write is finished (its answer is
        # then owed), or the path is left holding half a write.
        finishing = Signal()
        retries = []
        path_fail = []
        for engine in (write, read):
            is_write = engine is write
            owes = owe_b if is_write else owe_r
            # The address beat decides the target, so a write goes to a path once its AW is
            # in; the timer runs while the path owes an answer to a complete request (or an
            # answer it still owed, which the request waits for).
            busy = aw_full if is_write else ar_full
            ready = (aw_full & w_full) if is_write else ar_full
            on_path = Signal(name=f"{engine.kind}_on_path")
            m.d.comb += on_path.eq(busy & ~engine.csr & ~engine.local)

            def current(value, engine=engine):
                return value[0] if p == 1 else Mux(engine.path, value[1], value[0])

            # Path handshakes and responses of the engine's current path.
            resp_valid = Signal(name=f"{engine.kind}_resp_valid")
            resp = Signal(2, name=f"{engine.kind}_resp")
            taken = Signal(name=f"{engine.kind}_taken")
            addr_in = Signal(name=f"{engine.kind}_addr_in")     # address beat taken now
            data_in = Signal(name="write_data_in") if is_write else None
            stray = Signal(p, name=f"{engine.kind}_stray")      # an owed answer discarded
            for j, bus in enumerate(paths):
                mine = on_path & (engine.path == j)
                send = mine & ~owes[j]
                if is_write:
                    send = send & ~broken[j]
                    m.d.comb += [
                        bus.awvalid.eq(send & aw_full & ~engine.sent),
                        bus.awaddr.eq(engine.addr), bus.awprot.eq(engine.prot),
                        bus.wvalid.eq(send & w_full & ~w_sent),  # mine implies AW is in
                        bus.wdata.eq(w_data), bus.wstrb.eq(w_strb),
                        stray[j].eq(owes[j] & bus.bvalid),
                    ]
                    with m.If(bus.awvalid & bus.awready):
                        m.d.comb += addr_in.eq(1)
                        m.d.sync += engine.sent.eq(1)
                    with m.If(bus.wvalid & bus.wready):
                        m.d.comb += data_in.eq(1)
                        m.d.sync += w_sent.eq(1)
                    with m.If(send & bus.bvalid & engine.sent & w_sent & ~finishing):
                        m.d.comb += [resp_valid.eq(1), resp.eq(bus.bresp)]
                    m.d.comb += bus.bready.eq(owes[j] | Mux(mine, taken, failed[j]))
                else:
                    m.d.comb += [
                        bus.arvalid.eq(send & ~engine.sent),
                        bus.araddr.eq(engine.addr), bus.arprot.eq(engine.prot),
                        stray[j].eq(owes[j] & bus.rvalid),
                    ]
                    with m.If(bus.arvalid & bus.arready):
                        m.d.comb += addr_in.eq(1)
                        m.d.sync += engine.sent.eq(1)
                    with m.If(send & bus.rvalid & engine.sent):
                        m.d.comb += [resp_valid.eq(1), resp.eq(bus.rresp)]
                    m.d.comb += bus.rready.eq(owes[j] | Mux(mine, taken, failed[j]))
            m.d.sync += owes.eq(owes & ~stray)

            # What the path has of the request now (this cycle's handshakes included).
            has_addr = engine.sent | addr_in
            whole = Signal(name=f"{engine.kind}_whole")
            partial = Signal(name=f"{engine.kind}_partial")
            if is_write:
                has_data = w_sent | data_in
                m.d.comb += [whole.eq(has_addr & has_data), partial.eq(has_addr ^ has_data)]
            else:
                m.d.comb += whole.eq(has_addr)

            other_ok = Signal(name=f"{engine.kind}_other_ok")
            if p == 2:
                m.d.comb += other_ok.eq(~Mux(engine.path, failed[0], failed[1]))
            error = resp[1]
            retry = Signal(name=f"{engine.kind}_retry")
            fail = Signal(name=f"{engine.kind}_fail")
            timed_out = Signal(name=f"{engine.kind}_timed_out")
            give_up = Signal(name=f"{engine.kind}_give_up")   # abandon the current path
            m.d.comb += timed_out.eq(on_path & ready & ~resp_valid &
                                     (engine.timer >= self._timeout))
            if is_write:
                # A path left holding half a write is refused the request at once. (A write
                # being finished is no longer the lanes' request: it is not given up.)
                refused = Signal(name="write_refused")
                m.d.comb += [refused.eq(on_path & ready & current(broken)),
                             give_up.eq((timed_out | refused) & ~finishing)]
            else:
                m.d.comb += give_up.eq(timed_out)
            with m.If(on_path & ready & ~resp_valid):
                m.d.sync += engine.timer.eq(engine.timer + 1)
            with m.If(current(stray)):
                # The answer the path owed has come: the waiting request goes out now and
                # has the whole timeout for its own answer.
                m.d.sync += engine.timer.eq(0)
            with m.If(resp_valid & error):
                m.d.comb += [fail.eq(1), cause[_CAUSE["PATH_ERROR"]].eq(1),
                             retry.eq(other_ok)]
            with m.If(give_up):
                m.d.comb += [fail.eq(1), retry.eq(other_ok)]
            with m.If(timed_out):
                m.d.comb += cause[_CAUSE["PATH_TIMEOUT"]].eq(1)
            with m.If(fail & ~other_ok):
                m.d.comb += cause[_CAUSE["NO_PATH"]].eq(1)
            with m.If(give_up & whole):
                m.d.sync += owes.bit_select(engine.path, 1).eq(1)
            with m.If(retry):
                m.d.comb += taken.eq(resp_valid)        # absorb the error response
                m.d.sync += [engine.path.eq(~engine.path), engine.sent.eq(0),
                             engine.timer.eq(0)]
                if is_write:
                    m.d.sync += w_sent.eq(0)
                    with m.If(give_up & partial):
                        m.d.sync += half.bit_select(engine.path, 1).eq(1)
            with m.Elif(give_up):
                m.d.sync += [engine.local.eq(1), engine.local_resp.eq(AXI4_RESP_SLVERR)]
                if is_write:
                    with m.If(partial):
                        m.d.sync += [finishing.eq(1), engine.timer.eq(0)]
            finish_fail = Signal(name=f"{engine.kind}_finish_fail")
            if is_write:
                with m.If(finishing & on_path):
                    with m.If(whole):
                        # The missing beat is in: the path owes the answer; the engine is free.
                        m.d.sync += [owes.bit_select(engine.path, 1).eq(1), finishing.eq(0),
                                     aw_full.eq(0), w_full.eq(0), w_sent.eq(0)]
                    with m.Elif(timed_out):
                        m.d.comb += finish_fail.eq(1)
                        m.d.sync += [half.bit_select(engine.path, 1).eq(1), finishing.eq(0),
                                     aw_full.eq(0), w_full.eq(0), w_sent.eq(0)]
            retries.append(retry)
            path_fail.append(Mux(fail | finish_fail, Mux(engine.path, 0b10, 0b01), 0))

            # Deliver the response to every online lane; track each lane's handshake.
            source_valid = Signal(name=f"{engine.kind}_source_valid")
            source_resp = Signal(2, name=f"{engine.kind}_source_resp")
            m.d.comb += [
                source_valid.eq(engine.local | (resp_valid & ~retry)),
                source_resp.eq(Mux(engine.local, engine.local_resp,
                                   Mux(error, AXI4_RESP_SLVERR, AXI4_RESP_OKAY))),
            ]
            done = Signal(n, name=f"{engine.kind}_done")
            takes = []
            for i, bus in enumerate(lanes):
                valid = source_valid & online[i] & ~done[i]
                if is_write:
                    m.d.comb += [bus.bvalid.eq(valid), bus.bresp.eq(source_resp)]
                    takes.append(valid & bus.bready)
                else:
                    m.d.comb += [bus.rvalid.eq(valid), bus.rresp.eq(source_resp),
                                 bus.rdata.eq(Mux(engine.local, read_data,
                                                  _path_mux(paths, engine.path, "rdata")))]
                    takes.append(valid & bus.rready)
            take = Cat(*takes)
            complete = Signal(name=f"{engine.kind}_complete")
            m.d.comb += complete.eq(source_valid & ((~online | done | take) ==
                                                    (1 << n) - 1))
            with m.If(~retry):
                m.d.comb += taken.eq(complete & ~engine.local)
            with m.If(complete):
                m.d.sync += [done.eq(0), engine.local.eq(0)]
                if is_write:
                    # A write being finished keeps its beats until the path has them.
                    with m.If(~finishing):
                        m.d.sync += [aw_full.eq(0), w_full.eq(0), w_sent.eq(0)]
                else:
                    m.d.sync += ar_full.eq(0)
            with m.Else():
                m.d.sync += done.eq(done | take)

        m.d.comb += [
            regs.retry.eq(Cat(*retries)),
            regs.path_fail_set.eq(path_fail[0] | path_fail[1]),
            regs.cause_set.eq(cause.value()),
        ]
        self.sites.commit(m)
        return m

    def _compare(self, m, name, vectors, beats, online):
        """Compare one channel across the online lanes: ``vectors`` are the channel vectors
        (syndrome, agreed value), ``beats`` the same as (valid, payload) pairs (divergence)."""
        n = self._lanes
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        ne = {}
        diff = Signal(_VEC, name=f"{name.lower()}_diff")
        terms = []
        for i, j in pairs:
            active = online[i] & online[j]
            (valid_i, payload_i), (valid_j, payload_j) = beats[i], beats[j]
            ne[i, j] = Signal(name=f"{name.lower()}_ne{i}{j}")
            m.d.comb += ne[i, j].eq(active & ((valid_i ^ valid_j) |
                                              (valid_i & (payload_i != payload_j))))
            terms.append(Mux(active, vectors[i] ^ vectors[j], 0))
        m.d.comb += diff.eq(_or(terms))
        differs = _or(list(ne.values()))
        if n == 3:
            odd = Cat(ne[0, 1] & ne[0, 2] & ~ne[1, 2],
                      ne[0, 1] & ne[1, 2] & ~ne[0, 2],
                      ne[0, 2] & ne[1, 2] & ~ne[0, 1])
            no_majority = ne[0, 1] & ne[0, 2] & ne[1, 2]
        else:
            odd, no_majority = Const(0, n), Const(0, 1)
        agreed = Signal(_VEC, name=f"{name.lower()}_agreed")
        for i in reversed(range(n)):
            with m.If(online[i]):
                m.d.comb += agreed.eq(vectors[i])
        return {"differs": differs, "diff": diff, "odd": odd, "no_majority": no_majority,
                "agreed": agreed}

    def _diagnose(self, m, regs, online, diagnosing, halted, cause, isolate):
        n = self._lanes
        done = Cat(*(getattr(self, f"lane{i}_diag_done") for i in range(n)))
        passed = Cat(*(getattr(self, f"lane{i}_diag_pass") for i in range(n)))
        timer = Signal(16)
        m.d.comb += self.diag_request.eq(diagnosing)
        with m.If(diagnosing):
            m.d.sync += timer.eq(timer + 1)
            with m.If(((done | ~online).all()) | (timer >= self._timeout)):
                fails = Signal(n)
                m.d.comb += fails.eq(online & ~(done & passed))
                m.d.sync += [diagnosing.eq(0), timer.eq(0)]
                with m.If((_popcount(fails) == 1) & (online & ~fails).any()):
                    m.d.comb += [isolate.eq(fails), cause[_CAUSE["DIAG_FAIL"]].eq(1)]
                with m.Else():
                    m.d.comb += cause[_CAUSE["HALTED"]].eq(1)
                    m.d.sync += halted.eq(1)


class _Causes:
    """ERROR_CAUSE bits set by the bridge: ``cause[bit]`` is a 1-bit signal made on first
    use; bits never used go to the registers as constant zeros (no undriven bits)."""

    def __init__(self):
        self._bits = {}

    def __getitem__(self, bit):
        if bit not in self._bits:
            self._bits[bit] = Signal(name=f"cause_{CAUSES[bit][0].lower()}")
        return self._bits[bit]

    def value(self):
        return Cat(*(self._bits.get(bit, Const(0, 1)) for bit in range(len(CAUSES))))


def _or(values):
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result


def _path_mux(paths, select, name):
    value = getattr(paths[0], name)
    for j in range(1, len(paths)):
        value = Mux(select == j, getattr(paths[j], name), value)
    return value
