"""Lockstep: N replicated lanes behind a voting bridge (or, delayed, a comparator)."""

from amaranth.hdl import Cat, EnableInserter, Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from . import inject
from .bridge import VotingBridge
from .bridge_check import SelfCheckingBridge
from .bridge_netlist import InstrumentedBridge
from .compare import LockstepComparator, _check_lanes
from .inject import FaultInjector, lane_sites
from .lockstep_continuous import continuous_members, elaborate_continuous
from .resync import MAX_ROUNDS
from .rollback import LOG_DEPTH, Rollback
from .signatures import AXI4LiteSignature, check_lane
from .watchdog import has_progress, watchdog_verdict

__all__ = ["Lockstep"]


def _bus_members(bus, flow):
    return [(".".join(map(str, path)), value)
            for path, member, value in bus.signature.flatten(bus) if member.flow == flow]


def _delay(m, value, cycles, name):
    for stage in range(cycles):
        value_q = Signal.like(value, name=f"{name}_q{stage}")
        m.d.sync += value_q.eq(value)
        value = value_q
    return value


class _OutputCheck(wiring.Component):
    """Comparator over the lanes' output vectors (delayed lockstep: always 2 lanes).

    ``voted`` is lane 0's vector: in delayed lockstep lane 0 leads and drives the path.
    A separate module so that the comparator's ``lane<i>`` inputs are not named in the
    Lockstep's own module, where ``lane<i>`` are the lane instances (fault-site paths).
    """

    def __init__(self, width, *, lanes, registered, offset):
        self._comparator = LockstepComparator(width, lanes=lanes, registered=registered,
                                              offset=offset)
        super().__init__({**{f"out{i}": In(width) for i in range(lanes)},
                          "voted": Out(width), "mismatch": Out(1), "disagree": Out(lanes),
                          "syndrome": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.comparator = comparator = self._comparator
        outputs = [getattr(self, f"out{i}") for i in range(comparator.lanes)]
        for index, vector in enumerate(outputs):
            m.d.comb += getattr(comparator, f"lane{index}").eq(vector)
        m.d.comb += [
            self.mismatch.eq(comparator.mismatch),
            self.disagree.eq(comparator.disagree),
            self.syndrome.eq(comparator.syndrome),
            self.voted.eq(outputs[0]),
        ]
        return m


class Lockstep(wiring.Component):
    """Replicate a lane, run the copies in lockstep, vote on everything they send out.

    ``lane_factory()`` is called once per lane and must return a component honouring the
    lane contract (:class:`~ftvoter.hdl.signatures.LaneSignature`); all lanes must have the
    same signature.

    **Plain lockstep** (``offset=0``, the default): the lanes' buses go through a
    :class:`~ftvoter.hdl.bridge.VotingBridge`, which forwards only agreed beats to the
    path(s), isolates a faulty lane and keeps going on the others, with the error
    registers on ``mgmt`` and at ``csr_base`` in the lanes' address space. The bridge's
    ``lanes_reset`` resets all lanes (resynchronisation) and ``lane_freeze`` stops a
    lane's clock (LANE_CMD FREEZE). Lanes need 32-bit data. A lane may offer the diagnose
    policy's self-test as members ``diag_done`` and ``diag_pass`` (``Out(1)``); a lane
    without them reports "done, passed unless ``self_error``".

    **Delayed lockstep** (``offset=k``, 2 lanes only): detection only. Lane 1 is held in
    reset ``k`` cycles longer than lane 0 and receives every input ``k`` cycles later; a
    :class:`~ftvoter.hdl.compare.LockstepComparator` compares lane 0's delayed bus outputs
    with lane 1's, and lane 0 drives ``path0_bus``. A fault that hits both lanes in the same
    cycle (common cause) hits them at different points of the work and is detected; but
    lane 0's output reaches I/O before it is checked (no containment, no bridge): a
    leading lane needs its responses before the trailing lane could agree on the request.

    Parameters
    ----------
    lane_factory : callable
        Called with no arguments, once per lane.
    lanes : int
        2 or 3.
    offset : int
        Delayed lockstep: cycles by which lane 0 leads lane 1; 0 for the voting bridge.
    registered : bool
        Delayed lockstep: ``mismatch`` one cycle after the difference, or in it.
    paths, policy, timeout, csr_base
        Of the :class:`~ftvoter.hdl.bridge.VotingBridge` (plain lockstep only).
    faults : list of str, optional
        Build a :class:`~ftvoter.hdl.inject.FaultInjector` with saboteurs on the lane
        registers matching these patterns (``["*"]``: every state register of every lane)
        and expose its controls as ``fault``. Without it, no saboteur logic is built.
        Patterns starting with ``bridge.`` select the bridge's own flip-flops (its
        comparison, blame policy, engines, lane manager and error registers:
        ``bridge.write.aw_full``; see ``bridge_sites``); ``*`` never does.
    self_check : bool
        Plain lockstep: a :class:`~ftvoter.hdl.bridge_check.SelfCheckingBridge` (two
        copies of the bridge checked against each other) instead of a
        :class:`~ftvoter.hdl.bridge.VotingBridge`.
    bridge_sites : bool or None
        Plain lockstep: every flip-flop of the bridge a fault site, with a state port
        (:class:`~ftvoter.hdl.bridge_netlist.InstrumentedBridge`); ``None``: when a
        ``faults`` pattern starts with ``bridge.``.
    rollback : bool
        Plain lockstep: a divergence that no lane's ``self_error`` explains rolls the lanes
        back to their last verified checkpoint and re-executes
        (:class:`~ftvoter.hdl.rollback.Rollback`) instead of going to ``policy``; each
        lane gets a state port over all its flip-flops
        (:func:`~ftvoter.hdl.lane_state.elaborate_with_state`), and a lane RAM with an
        undo port (``lane.ram.undo``) an undo log of ``log_depth`` entries.
    live_resync : bool
        Plain lockstep: LANE_CMD INSERT copies the survivors' state into the lane while
        they run (:class:`~ftvoter.hdl.resync.Resync`; RESET_INSERT is the reset-everything
        kind), and each lane has a presence input (``present``).
    precopy_rounds : int
        With ``live_resync``: pre-copy rounds at most
        (:data:`~ftvoter.hdl.resync.MAX_ROUNDS` by default); 0 copies the whole RAM in the
        stop (no pre-copy: a baseline for ``ftvoter bench-resync``).
    watchdog : bool
        With ``policy="diagnose"``: a lane that offers no self-test (``diag_done``,
        ``diag_pass``) but a ``progress`` signal (a CPU lane) is diagnosed by
        :mod:`~ftvoter.hdl.watchdog`: one that neither makes progress nor waits for the
        bridge for ``timeout`` cycles while another goes on is taken out.

    Members
    -------
    path0_bus, path1_bus : Out(AXI4LiteSignature)
        The secondary path(s), of the lanes' bus signature (``path1_bus`` with 2 paths).
    irq : In(irq_width)
        Interrupts, delivered to the lanes (the lanes' ``irq`` width).
    self_error : Out(lanes)
        Each lane's own ``self_error``.
    online : Out(lanes)
        Lanes in the vote (all, in delayed lockstep).
    mismatch : Out(1), disagree : Out(lanes)
        Asserted one cycle after the lanes differed, with the lanes blamed.
    mgmt : In(AXI4LiteSignature(8, 32)), mgmt_irq : Out(1)
        Plain lockstep: out-of-band access to the error registers, and their interrupt.
    halted : Out(1)
        Plain lockstep: the bridge stopped forwarding (fail-safe).
    checker_error : Out(1)
        Plain lockstep: the checker found a fault in itself: a failed comparator self-test
        (one cycle) or, with ``self_check``, its copies disagreed (until reset).
    fault : Out(FaultInjector signature)
        With ``faults``: ``fault__arm``, ``fault__site``, ``fault__mask``,
        ``fault__model``, ``fault__start``, ``fault__duration``, ``fault__common`` (inputs),
        ``fault__cycle``, ``fault__active`` (outputs); see the injector.
    rollback : Out(1), restoring : Out(1), rollback_cycles : Out(16)
        With ``rollback``: a rollback starts (one cycle); one is under way; the length of
        the last one in cycles.
    present : In(lanes)
        With ``live_resync``: each lane's presence (surprise removal when it drops).
    lane_cmd : In(1), lane_cmd_lane : In(2), lane_cmd_op : In(3)
        With ``live_resync``: a lane command from hardware (a campaign bench, a board's
        button), as LANE_CMD gives it (``LANE_OPS``), for one cycle.
    split_bus : Out(AXI4LiteSignature)
        With ``live_resync``: the split path: the bus of the lane split off by LANE_CMD
        SPLIT, running on its own (idle while no lane is split).
    resync_busy : Out(1), resync_stop : Out(16), resync_words : Out(32),
    resync_rounds : Out(8), resync_flops : Out(32)
        With ``live_resync``: a resync is under way; the last one's stop (the survivors'
        pause, cycles), RAM words copied, pre-copy rounds, flip-flop bits copied.
    resync_phase : Out(2), lane_states : Out(6), lane_frozen : Out(lanes)
        With ``live_resync``, for observation: the resync's phase (0 idle, 1 pre-copy, 2
        waiting for a transaction boundary, 3 stop); each lane's state (LANE_STATE); the
        frozen lanes. A frozen lane's state port holds it still, its core included.
    syndrome : Out(compared_width)
        Delayed lockstep: the comparator's first-mismatch syndrome over the concatenated
        bus outputs (``awaddr``, ``awprot``, ``awvalid``, ``wdata``, ``wstrb``,
        ``wvalid``, ``bready``, ``araddr``, ``arprot``, ``arvalid``, ``rready``, least
        significant first).

    Raises
    ------
    TypeError
        If ``lane_factory`` is not callable or makes something that is not a lane,
        ``lanes`` is not 2 or 3, ``offset`` is not a non-negative integer, or a bridge
        parameter is invalid.
    ValueError
        If the lanes' signatures differ, an offset is asked for with 3 lanes or bridge
        options, or the bridge is given lanes whose data width is not 32.
    """

    def __init__(self, lane_factory, *, lanes=2, offset=0, registered=True, paths=1,
                 policy="halt", timeout=64, csr_base=None, faults=None, rollback=False,
                 log_depth=LOG_DEPTH, live_resync=False, precopy_rounds=MAX_ROUNDS,
                 watchdog=False, self_check=False, bridge_sites=None):
        if not callable(lane_factory):
            raise TypeError(f"Lane factory must be callable, not {lane_factory!r}")
        _check_lanes(lanes)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise TypeError(f"Offset must be a non-negative integer, not {offset!r}")
        if offset and lanes != 2:
            raise ValueError(f"Delayed lockstep needs 2 lanes: with 3, the voted bus would "
                             f"run behind lane 0, not offset {offset!r}")
        if offset and paths != 1:
            raise ValueError(f"Delayed lockstep is detection-only, with one path, "
                             f"not {paths!r}")
        if bridge_sites is None:
            bridge_sites = any(str(p).startswith("bridge.") for p in faults or ())
        for name, value in (("Rollback", rollback), ("Live resync", live_resync),
                            ("Watchdog", watchdog), ("Self check", self_check),
                            ("Bridge sites", bridge_sites)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {value!r}")
        if watchdog and (offset or policy != "diagnose"):
            raise ValueError(f"The watchdog is the diagnose policy's: it needs "
                             f"policy='diagnose' and no offset, not {policy!r}")
        bridge_options = {"policy": (policy, "halt"), "timeout": (timeout, 64),
                          "csr_base": (csr_base, None), "rollback": (rollback, False),
                          "live_resync": (live_resync, False),
                          "self_check": (self_check, False),
                          "bridge_sites": (bridge_sites, False)}
        for name, (value, default) in bridge_options.items():
            if offset and value != default:
                raise ValueError(f"Delayed lockstep has no voting bridge: {name} must be "
                                 f"left at its default, not {value!r}")
        self._units = tuple(lane_factory() for _ in range(lanes))
        signatures = [check_lane(unit) for unit in self._units]
        if any(signature != signatures[0] for signature in signatures):
            raise ValueError(f"Lanes must all have the same signature, not {signatures!r}")
        lane_sig = signatures[0]
        self._offset = offset
        self._registered = registered
        self._rollback, self._log_depth, self._live = rollback, log_depth, live_resync
        self._watchdog = watchdog
        if not isinstance(precopy_rounds, int) or isinstance(precopy_rounds, bool) or \
                not 0 <= precopy_rounds <= 255:
            raise TypeError(f"Pre-copy rounds must be an integer from 0 to 255, not "
                            f"{precopy_rounds!r}")
        self._precopy_rounds = precopy_rounds
        self.state_ports = None    # each lane's LaneState, once elaborated with them
        self._compared_width = sum(len(value) for _, value in
                                   _bus_members(self._units[0].bus, Out))
        bus = lane_sig.members["bus"].signature
        members = {"path0_bus": Out(bus)}
        self._bridge = None
        if not offset:
            if lane_sig.data_width != 32:
                raise ValueError(f"The voting bridge needs lanes with 32-bit data, "
                                 f"not {lane_sig.data_width}")
            kind = SelfCheckingBridge if self_check else VotingBridge
            self._bridge = kind(lanes=lanes, paths=paths, policy=policy,
                                timeout=timeout, addr_width=lane_sig.addr_width,
                                irq_width=lane_sig.irq_width, csr_base=csr_base,
                                rollback=rollback, live_resync=live_resync)
            if bridge_sites:
                self._bridge = InstrumentedBridge(self._bridge)
            if rollback:
                # Checked here, so that a bad depth is reported at construction.
                Rollback._check_depth(log_depth)
            members.update(continuous_members(rollback, live_resync, lanes, bus))
            if paths == 2:
                members["path1_bus"] = Out(bus)
            members["mgmt"] = In(AXI4LiteSignature(addr_width=8, data_width=32))
            members.update(mgmt_irq=Out(1), halted=Out(1), checker_error=Out(1))
        else:
            members["syndrome"] = Out(self._compared_width)
        self._injector = None
        if faults is not None:
            if isinstance(faults, str) or not all(isinstance(p, str) for p in faults):
                raise TypeError(f"Faults must be a list of site patterns, not {faults!r}")
            sites = lane_sites(self._units, faults)
            if self._bridge is not None:
                sites += inject.bridge_sites(self._bridge, faults)
            if not sites:
                raise ValueError(f"Faults must match at least one site, not {faults!r}")
            self._injector = FaultInjector(sites)
            self._injector.attach()
            members["fault"] = Out(self._injector.signature)
        members.update({
            "irq":        In(lane_sig.irq_width),
            "self_error": Out(lanes),
            "online":     Out(lanes),
            "mismatch":   Out(1),
            "disagree":   Out(lanes),
        })
        super().__init__(members)

    @property
    def lanes(self):
        return len(self._units)

    @property
    def units(self):
        """The lane components, in lane order."""
        return self._units

    @property
    def offset(self):
        return self._offset

    @property
    def bridge(self):
        """The :class:`VotingBridge` (``None`` in delayed lockstep)."""
        return self._bridge

    @property
    def injector(self):
        """The :class:`~ftvoter.hdl.inject.FaultInjector` (``None`` without ``faults``)."""
        return self._injector

    @property
    def compared_width(self):
        """Width of the comparator's vector of bus outputs (delayed lockstep), in bits."""
        return self._compared_width

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.self_error.eq(Cat(*(unit.self_error for unit in self._units)))
        if self._injector is not None:
            m.submodules.injector = self._injector
            connect(m, flipped(self.fault), self._injector)
        if self._bridge is not None:
            self._elaborate_bridge(m, platform)
        else:
            self._elaborate_delayed(m)
        return m

    def _elaborate_bridge(self, m, platform):
        m.submodules.bridge = bridge = self._bridge
        lanes = self._units
        if self._rollback or self._live:
            lanes = elaborate_continuous(self, m, bridge, platform, rollback=self._rollback,
                                         live_resync=self._live, log_depth=self._log_depth,
                                         precopy_rounds=self._precopy_rounds)
        else:
            for index, unit in enumerate(self._units):
                connect(m, unit.bus, getattr(bridge, f"lane{index}_bus"))
        for index, (unit, built_lane) in enumerate(zip(self._units, lanes, strict=True)):
            members = unit.signature.members
            lane = ResetInserter(bridge.lanes_reset)(built_lane)
            m.submodules[f"lane{index}"] = EnableInserter(~bridge.lane_freeze[index])(lane)
            m.d.comb += [
                getattr(bridge, f"lane{index}_self_error").eq(unit.self_error),
                unit.irq.eq(getattr(bridge, f"lane{index}_irq")[:len(unit.irq)]),
            ]
            if bridge.policy == "diagnose":
                done = unit.diag_done if "diag_done" in members else 1
                passed = unit.diag_pass if "diag_pass" in members else ~unit.self_error
                if self._watchdog and "diag_done" not in members and has_progress(unit):
                    done, passed = watchdog_verdict(m, bridge, index, unit)
                m.d.comb += [getattr(bridge, f"lane{index}_diag_done").eq(done),
                             getattr(bridge, f"lane{index}_diag_pass").eq(passed)]
        connect(m, flipped(self.path0_bus), bridge.path0_bus)
        if bridge.paths == 2:
            connect(m, flipped(self.path1_bus), bridge.path1_bus)
        connect(m, flipped(self.mgmt), bridge.mgmt)
        m.d.comb += [
            bridge.irq_in.eq(self.irq),
            self.mgmt_irq.eq(bridge.mgmt_irq),
            self.online.eq(bridge.online),
            self.mismatch.eq(bridge.mismatch),
            self.disagree.eq(bridge.disagree),
            self.halted.eq(bridge.halted),
            self.checker_error.eq(bridge.selftest_fail | (
                bridge.checker_error if "checker_error" in bridge.signature.members else 0)),
        ]

    def _elaborate_delayed(self, m):
        k = self._offset
        trailing_reset = Signal(k, init=(1 << k) - 1)
        m.d.sync += trailing_reset.eq(trailing_reset >> 1)

        inputs = dict(_bus_members(self.path0_bus, In))
        for index, unit in enumerate(self._units):
            delay = k if index else 0
            if delay:
                m.submodules[f"lane{index}"] = ResetInserter(trailing_reset[0])(unit)
            else:
                m.submodules[f"lane{index}"] = unit
            for path, value in _bus_members(unit.bus, In):
                m.d.comb += value.eq(_delay(m, inputs[path], delay, f"lane{index}_{path}"))
            m.d.comb += unit.irq.eq(_delay(m, self.irq, delay, f"lane{index}_irq"))

        outputs = [Cat(*(value for _, value in _bus_members(unit.bus, Out)))
                   for unit in self._units]
        m.submodules.check = check = _OutputCheck(
            self._compared_width, lanes=self.lanes, registered=self._registered, offset=k)
        for index, vector in enumerate(outputs):
            m.d.comb += getattr(check, f"out{index}").eq(vector)
        m.d.comb += [
            self.mismatch.eq(check.mismatch),
            self.disagree.eq(check.disagree),
            self.syndrome.eq(check.syndrome),
            self.online.eq((1 << self.lanes) - 1),
            Cat(*(value for _, value in _bus_members(self.path0_bus, Out))).eq(check.voted),
        ]
