"""VotingBridge: the I/O boundary that compares the lanes, contains divergence, isolates."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge_args import _check_addr_width, _check_paths, _check_timeout
from .bridge_compare import BusCompare
from .bridge_fanout import ResponseFanout
from .bridge_path import join_channels
from .bridge_policy import POLICIES, BlamePolicy, Causes
from .bridge_read import ReadEngine
from .bridge_rollback import connect_resync, connect_rollback, resync_members, rollback_members
from .bridge_window import RegisterWindow, connect_window
from .bridge_write import WriteEngine
from .compare import _check_lanes
from .compare_masks import connect_masks
from .encodings import ADDR_WIDTH
from .lanes import LaneManager
from .registers import ErrorRegisters
from .selftest import connect_compare
from .signatures import AXI4LiteSignature, _check_width

__all__ = ["VotingBridge", "POLICIES"]


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
    a path. (Bits set in the compare masks are not compared; the first online lane's value
    is forwarded on them: :mod:`~ftvoter.hdl.compare_masks`.) In a cycle with any
    divergence nothing is accepted, and:

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

    How late answers and half-written paths are handled: :mod:`ftvoter.hdl.bridge_write`.

    **Registers.** Agreed transactions to ``[csr_base, csr_base + 256)`` go to the
    :class:`~ftvoter.hdl.registers.ErrorRegisters` instead of a path; ``mgmt`` reaches
    them out of band. A lane can never write a register alone: only agreed writes arrive.

    **Lanes.** :class:`~ftvoter.hdl.lanes.LaneManager` keeps the lane states and handles
    LANE_CMD; while it resynchronises a lane, no new transaction is accepted, and once
    none is in flight ``lanes_reset`` resets all lanes together.

    **Parts.** The bridge assembles components, each with its own signature:
    :class:`~ftvoter.hdl.bridge_compare.BusCompare` (one
    :class:`~ftvoter.hdl.bridge_compare.ChannelCompare` per channel, on the comparison
    code of :class:`~ftvoter.hdl.compare.LockstepComparator`),
    :class:`~ftvoter.hdl.bridge_policy.BlamePolicy` (isolate, halt, diagnose),
    :class:`~ftvoter.hdl.bridge_write.WriteEngine` and
    :class:`~ftvoter.hdl.bridge_read.ReadEngine` (one request each, on the paths, with
    retry and timeout), :class:`~ftvoter.hdl.bridge_window.RegisterWindow` and one
    :class:`~ftvoter.hdl.bridge_fanout.ResponseFanout` per response channel.

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
        AXI4-Lite address width of lanes and paths, 9 to 32 (default 32; data width 32).
    irq_width : int
        Width of ``irq_in``, at least 1.
    csr_base : int or None
        Byte address of the register window (256 bytes, aligned); by default the top
        256 bytes of the address space.
    rollback : bool
        Divergences without blame roll back instead (:mod:`ftvoter.hdl.rollback`; the
        members of :func:`~ftvoter.hdl.bridge_rollback.rollback_members`).
    live_resync : bool
        LANE_CMD INSERT is a live resync (:mod:`ftvoter.hdl.resync`), and lanes have a
        presence input (surprise removal): the members of
        :func:`~ftvoter.hdl.bridge_rollback.resync_members`.

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
    selftest_fail : Out(1)
        The comparator's self-test (:mod:`~ftvoter.hdl.selftest`, SELFTEST.PERIOD) did not
        see the mismatch it forced (ERROR_CAUSE.SELFTEST), for one cycle.
    checker_in : In(1)
        Only with ``checked``: the copies of a self-checking bridge disagree
        (ERROR_CAUSE.CHECKER).
    diag_request : Out(1); lane<i>_diag_done, lane<i>_diag_pass : In(1)
        Only with ``policy="diagnose"``: the self-test handshake.

    Raises
    ------
    TypeError
        If ``lanes``, ``paths``, ``policy``, ``timeout``, ``addr_width`` or ``irq_width`` are
        of the wrong type or out of range.
    ValueError
        If ``csr_base`` is not aligned to 256 or lies outside the address space.
    """

    def __init__(self, *, lanes=2, paths=1, policy="halt", timeout=64, addr_width=ADDR_WIDTH,
                 irq_width=1, csr_base=None, rollback=False, live_resync=False,
                 checked=False):
        _check_lanes(lanes)
        _check_paths(paths)
        if policy not in POLICIES:
            raise TypeError(f"Policy must be 'halt' or 'diagnose', not {policy!r}")
        _check_timeout(timeout)
        _check_addr_width(addr_width)
        _check_width("Interrupt width", irq_width)
        if csr_base is None:
            csr_base = 2**addr_width - 256
        if not isinstance(csr_base, int) or isinstance(csr_base, bool):
            raise TypeError(f"CSR base must be an integer, not {csr_base!r}")
        if csr_base % 256 or not 0 <= csr_base <= 2**addr_width - 256:
            raise ValueError(f"CSR base must be a multiple of 256 within the "
                             f"{addr_width}-bit address space, not {csr_base:#x}")
        for name, value in (("Rollback", rollback), ("Live resync", live_resync),
                            ("Checked", checked)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {value!r}")
        self._lanes, self._paths, self._policy, self._timeout = lanes, paths, policy, timeout
        self._rollback, self._live = rollback, live_resync
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
            "selftest_fail": Out(1),
        })
        if checked:
            members["checker_in"] = In(1)
        if policy == "diagnose":
            members["diag_request"] = Out(1)
            for i in range(lanes):
                members[f"lane{i}_diag_done"] = In(1)
                members[f"lane{i}_diag_pass"] = In(1)
        if rollback:
            members.update(rollback_members())
        if live_resync:
            members.update(resync_members(lanes))
        super().__init__(members)
        self._regs = ErrorRegisters(lanes=lanes, paths=paths, policy=policy, timeout=timeout)
        self._manager = LaneManager(lanes, live=live_resync)
        self._write = WriteEngine(paths=paths, timeout=timeout, addr_width=addr_width)
        self._compare = BusCompare(lanes=lanes, addr_width=addr_width, csr_base=csr_base)

    @property
    def lanes(self):
        return self._lanes

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
        n, p, a = self._lanes, self._paths, self._addr_width
        m.submodules.regs = regs = self._regs
        m.submodules.manager = manager = self._manager
        m.submodules.compare = compare = self._compare
        m.submodules.policy = policy = BlamePolicy(lanes=n, policy=self._policy,
                                                   timeout=self._timeout,
                                                   rollback=self._rollback)
        m.submodules.window = window = RegisterWindow()
        m.submodules.write = write = self._write
        m.submodules.read = read = ReadEngine(paths=p, timeout=self._timeout, addr_width=a)
        m.submodules.b_fanout = b_fanout = ResponseFanout(lanes=n)
        m.submodules.r_fanout = r_fanout = ResponseFanout(lanes=n)
        lanes = [getattr(self, f"lane{i}_bus") for i in range(n)]
        online = manager.online

        # --- compare the lanes (and test the comparison), blame and isolate -------------
        selftest = connect_compare(m, lanes, compare, policy, regs, online)
        connect_masks(m, compare, regs, write)
        m.d.comb += self.selftest_fail.eq(selftest.fail)
        self._blame(m, policy, compare, regs, manager, selftest)

        # --- lane manager, register status ------------------------------------------------
        # A LANE_CMD write wins over a command from the hardware port (live resync only).
        hw = (self.hw_cmd, self.hw_cmd_lane, self.hw_cmd_op) if self._live else (0, 0, 0)
        m.d.comb += [
            manager.cmd.eq(regs.lane_cmd | hw[0]),
            manager.cmd_lane.eq(Mux(regs.lane_cmd, regs.lane_cmd_lane, hw[1])),
            manager.cmd_op.eq(Mux(regs.lane_cmd, regs.lane_cmd_op, hw[2])),
            manager.safe.eq(write.idle & read.idle),
            regs.syncing.eq(manager.syncing),
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

        # --- engines, register window, responses -------------------------------------------
        self._engines(m, write, read, compare, policy, regs, manager, selftest)
        connect_window(m, window, write, read, regs)
        for engine, fanout, kind in ((write, b_fanout, "b"), (read, r_fanout, "r")):
            held = self.hold if "hold" in self.signature.members else 0   # no response
            m.d.comb += [fanout.valid.eq(engine.resp_valid & ~held), fanout.online.eq(online),
                         fanout.ready.eq(Cat(*(getattr(bus, f"{kind}ready") for bus in lanes))),
                         engine.complete.eq(fanout.complete)]
            m.d.comb += [getattr(bus, f"{kind}valid").eq(fanout.lane_valid[i])
                         for i, bus in enumerate(lanes)]
            m.d.comb += [getattr(bus, f"{kind}resp").eq(engine.resp) for bus in lanes]
        m.d.comb += [bus.rdata.eq(read.data) for bus in lanes]
        if self._live:
            connect_resync(m, self, write=write, read=read, manager=manager, regs=regs)
        if self._rollback:
            connect_rollback(m, self, policy=policy, fanouts=(b_fanout, r_fanout), regs=regs,
                             manager=manager)

        cause = Causes()
        m.d.comb += [
            cause["PATH_ERROR"].eq(write.path_error | read.path_error),
            cause["PATH_TIMEOUT"].eq(write.path_timeout | read.path_timeout),
            cause["NO_PATH"].eq(write.no_path | read.no_path),
            cause["SELFTEST"].eq(selftest.fail),
            cause["CHECKER"].eq(self.checker_in if "checker_in" in self.signature.members
                                else 0),
            regs.cause_set.eq(policy.cause | cause.value()),
            regs.retry.eq(Cat(write.retry, read.retry)),
            regs.path_fail_set.eq(write.path_fail | read.path_fail),
        ]
        return m

    def _blame(self, m, policy, compare, regs, manager, selftest):
        """Connect the blame policy to the comparison, the lane manager and the registers."""
        n = self._lanes
        m.d.comb += [
            policy.differs.eq(compare.differs),
            policy.odd.eq(compare.odd),
            policy.no_majority.eq(compare.no_majority),
            policy.online.eq(manager.online),
            policy.self_error.eq(Cat(*(getattr(self, f"lane{i}_self_error")
                                       for i in range(n)))),
            policy.lanes_reset.eq(manager.lanes_reset |
                                  (self.hold if "hold" in self.signature.members else 0)),
            policy.resume.eq(regs.resume),
            manager.isolate.eq(policy.isolate),
            regs.divergence.eq(policy.diverged),
            regs.corrected.eq(policy.corrected),
            regs.div_lanes.eq(policy.blamed),
            regs.lane_errors.eq(policy.blamed),
            regs.halted.eq(policy.halted),
            regs.diagnosing.eq(policy.diagnosing),
            self.halted.eq(policy.halted),
            self.mismatch.eq(policy.mismatch & ~selftest.tested),
            self.disagree.eq(Mux(selftest.tested, 0, policy.disagree)),
        ]
        with m.If(policy.diverged):
            m.d.comb += [regs.div_channel.eq(compare.channel), regs.div_bits.eq(compare.bits),
                         regs.div_ctrl.eq(compare.ctrl)]
        if self._policy == "diagnose":
            m.d.comb += [
                self.diag_request.eq(policy.diag_request),
                policy.diag_done.eq(Cat(*(getattr(self, f"lane{i}_diag_done")
                                          for i in range(n)))),
                policy.diag_pass.eq(Cat(*(getattr(self, f"lane{i}_diag_pass")
                                          for i in range(n)))),
            ]

    def _engines(self, m, write, read, compare, policy, regs, manager, selftest):
        """Feed the engines the agreed beats; connect them to the paths and the lanes."""
        p = self._paths
        failed = regs.path_failed[:p]
        preferred = Signal()
        if p == 2:
            # The first path not failed; path 0 when both are, unless it holds half a
            # write and path 1 does not.
            broken = write.broken
            m.d.comb += preferred.eq((failed[0] & ~failed[1]) | (broken[0] & ~broken[1]))
        m.d.comb += regs.active_path.eq(preferred)
        window = self._csr_base >> 8        # addresses of the register window, >> 8
        for engine in (write, read):
            m.d.comb += [engine.allow.eq(~policy.frozen & ~policy.diverged &
                                         ~selftest.active),
                         engine.syncing.eq(manager.quiesce |
                                           (self.drain if self._live else 0)),
                         engine.preferred.eq(preferred), engine.failed.eq(failed)]
        m.d.comb += [
            write.aw_valid.eq(compare.aw_valid), write.aw_addr.eq(compare.aw_addr),
            write.aw_prot.eq(compare.aw_prot), write.aw_csr.eq((compare.aw_addr >> 8) == window),
            write.w_valid.eq(compare.w_valid), write.w_data.eq(compare.w_data),
            write.w_strb.eq(compare.w_strb),
            read.ar_valid.eq(compare.ar_valid), read.ar_addr.eq(compare.ar_addr),
            read.ar_prot.eq(compare.ar_prot), read.ar_csr.eq((compare.ar_addr >> 8) == window),
        ]
        for i in range(self._lanes):
            bus, online = getattr(self, f"lane{i}_bus"), manager.online[i]
            m.d.comb += [bus.awready.eq(write.aw_ready & online),
                         bus.wready.eq(write.w_ready & online),
                         bus.arready.eq(read.ar_ready & online)]
        for j in range(p):
            for engine in (write, read):
                join_channels(m, getattr(self, f"path{j}_bus"), getattr(engine, f"path{j}"))
