"""ErrorRegisters: what software and operators read about the voter, and how they steer it."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from .compare_masks import CompareMaskSignature
from .csr_bank import CSRAccessSignature, CSRBank
from .csr_bus import AXI4LiteCSRBridge
from .encodings import (
    CAUSES,
    CHANNELS,
    EVENT_KINDS,
    ID_VALUE,
    LANE_OPS,
    LANE_STATES,
    POLICIES,
    POLICY_NAMES,
    UNLOCK_KEY,
    VERSION,
)
from .error_map import ERROR_REGISTERS
from .signatures import AXI4LiteSignature

__all__ = ["ERROR_REGISTERS", "ErrorRegisters", "UNLOCK_KEY", "ID_VALUE", "CAUSES",
           "LANE_STATES", "LANE_OPS", "EVENT_KINDS", "CHANNELS", "POLICIES", "MASK_REGISTERS"]

#: The compare-mask registers (:mod:`~ftvoter.hdl.compare_masks`), in map order.
MASK_REGISTERS = ("COMPARE_MASK", "MASK_AWADDR", "MASK_WDATA", "MASK_ARADDR")


class ErrorRegisters(wiring.Component):
    """The error registers: sticky causes, counters, event log, interrupts and controls.

    Built from :data:`ERROR_REGISTERS` by :class:`~ftvoter.hdl.csr.CSRBank`, with the
    behaviour around it: saturating counters, first-error capture, the event FIFO, the
    interrupt line, and access control:

    - ``lanes`` is the access port of agreed transactions from the lanes. With
      CONTROL.LOCK set, their writes to CONTROL, UNLOCK, LANE_CMD and SELFTEST are
      ignored. Their writes to the compare masks (:data:`MASK_REGISTERS`) are always
      ignored, and so is every write of theirs while ``w_masked`` (its W beat was taken
      while a W bit was masked, so its data may be one lane's).
    - ``mgmt`` is an AXI4-Lite target for out-of-band access
      (:class:`~ftvoter.hdl.csr_bus.AXI4LiteCSRBridge`). A write to CONTROL, LANE_CMD,
      SELFTEST or a compare mask is only accepted right after UNLOCK was written with
      :data:`UNLOCK_KEY` (one write per unlock); a wrong key, or a protected write
      without unlock, is ignored.

    ``masks`` drives the stored compare masks to the bridge's comparison
    (:mod:`~ftvoter.hdl.compare_masks`); STATUS.MASKED shows that one is set, and
    SYNDROME_MASK, captured with SYNDROME, whether one was (and on the syndrome's
    channel).

    One access per cycle: the lanes' port has priority (its reads are combinational and
    it cannot wait), so a mgmt access offered in a cycle of a lanes' access waits a
    cycle; within mgmt, a write goes before a read.

    Every ignored write answers SLVERR (``lanes_error`` for the lanes' port), increments
    REJECTED and sets ERROR_CAUSE.REJECTED. Sticky bits are RW1C: a hardware set wins
    over a software clear in the same cycle, so no error is lost.

    Parameters
    ----------
    lanes, paths : int
        For FEATURES and the widths of the per-lane ports.
    policy : str
        "halt" or "diagnose", for FEATURES.
    timeout : int
        Path timeout, for FEATURES.
    mgmt_addr_width : int
        Address width of ``mgmt`` (the register map uses the low 8 bits), 8 to 64.

    Raises
    ------
    TypeError
        If ``lanes`` is not 2 or 3, ``paths`` not 1 or 2, ``timeout`` not an integer from
        2 to 65535 or ``mgmt_addr_width`` not one from 8 to 64.
    ValueError
        If ``policy`` is not ``"halt"`` or ``"diagnose"``.
    """

    def __init__(self, *, lanes=2, paths=1, policy="halt", timeout=64, mgmt_addr_width=8):
        for name, value, choices in (("Lane count", lanes, (2, 3)),
                                     ("Path count", paths, (1, 2))):
            if not isinstance(value, int) or isinstance(value, bool) or value not in choices:
                raise TypeError(f"{name} must be {choices[0]} or {choices[1]}, not {value!r}")
        if policy not in POLICY_NAMES:
            raise ValueError(f"Policy must be one of {', '.join(POLICY_NAMES)}, not "
                             f"{policy!r}")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or \
                not 2 <= timeout <= 65535:
            raise TypeError(f"Timeout must be an integer from 2 to 65535, not {timeout!r}")
        if not isinstance(mgmt_addr_width, int) or isinstance(mgmt_addr_width, bool) or \
                not 8 <= mgmt_addr_width <= 64:
            raise TypeError(f"Management address width must be an integer from 8 to 64, "
                            f"not {mgmt_addr_width!r}")
        self._lanes, self._paths, self._policy, self._timeout = lanes, paths, policy, timeout
        self._mgmt_addr_width = mgmt_addr_width
        self._bank = CSRBank(ERROR_REGISTERS)
        super().__init__({
            "lanes":         In(CSRAccessSignature(8)),
            "lanes_error":   Out(1),
            "mgmt":          In(AXI4LiteSignature(addr_width=mgmt_addr_width, data_width=32)),
            # Inputs from the bridge and lane manager.
            "cause_set":     In(len(CAUSES)),
            "divergence":    In(1),
            "div_channel":   In(3),
            "div_lanes":     In(3),
            "div_ctrl":      In(8),
            "div_bits":      In(32),
            "corrected":     In(1),
            "retry":         In(2),
            "lane_errors":   In(3),
            "path_fail_set": In(2),
            "active_path":   In(1),
            "halted":        In(1),
            "syncing":       In(1),
            "diagnosing":    In(1),
            "online":        In(3),
            "lane_state":    In(6),
            "event_valid":   In(1),
            "event_lane":    In(2),
            "event_kind":    In(3),
            "rollback":      In(1),
            "dump_data":     In(32),
            "w_masked":      In(1),
            # Outputs to the bridge and lane manager.
            "irq":           Out(1),
            "lock":          Out(1),
            "resume":        Out(1),
            "lane_cmd":      Out(1),
            "lane_cmd_lane": Out(2),
            "lane_cmd_op":   Out(3),
            "path_failed":   Out(2),
            "cycle":         Out(32),
            "dump_lane":     Out(2),
            "dump_memory":   Out(1),
            "dump_index":    Out(24),
            "selftest_period": Out(24),
            "masks":         Out(CompareMaskSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = self._bank
        rejected, unlocked = self._access(m, bank)
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        m.d.comb += self.cycle.eq(cycle)
        self._counters(m, bank.port, rejected)
        causes = self._captures(m, bank.port, cycle, rejected)
        self._status(m, bank.port, cycle, unlocked)
        logged = self._event_log(m, bank, cycle)
        self._controls(m, bank.port, causes, logged)
        self._dump(m, bank)
        self._masks(m, bank.port)
        return m

    def _masks(self, m, port):
        """Drive the stored compare masks on ``masks``."""
        masks = self.masks
        m.d.comb += [
            masks.channels.eq(Cat(*(port("COMPARE_MASK", name) for name in CHANNELS))),
            masks.aw_prot.eq(port("COMPARE_MASK", "AWPROT")),
            masks.w_strb.eq(port("COMPARE_MASK", "WSTRB")),
            masks.ar_prot.eq(port("COMPARE_MASK", "ARPROT")),
            masks.aw_addr.eq(port("MASK_AWADDR", "ADDR")),
            masks.w_data.eq(port("MASK_WDATA", "DATA")),
            masks.ar_addr.eq(port("MASK_ARADDR", "ADDR")),
        ]

    def _mask_flags(self):
        """Return ``(active, channel)``: some compare mask is set; per channel (in
        :data:`CHANNELS` order), one of its masks is."""
        masks = self.masks
        mine = {"AW": (masks.aw_addr, masks.aw_prot), "W": (masks.w_data, masks.w_strb),
                "AR": (masks.ar_addr, masks.ar_prot), "B": (), "R": ()}
        channel = [Cat(masks.channels[bit], *mine[name]).any()
                   for name, bit in CHANNELS.items()]
        return Cat(*channel).any(), channel

    def _dump(self, m, bank):
        """DUMP_SELECT and DUMP_DATA: the quick-dump window, its index moving on by itself."""
        port = bank.port
        with m.If(port("DUMP_SELECT", "INDEX", "_write")):
            m.d.sync += [self.dump_index.eq(port("DUMP_SELECT", "INDEX")),
                         self.dump_lane.eq(port("DUMP_SELECT", "LANE")),
                         self.dump_memory.eq(port("DUMP_SELECT", "MEMORY"))]
        with m.Elif(bank.dump_data_read):
            m.d.sync += self.dump_index.eq(self.dump_index + 1)
        m.d.comb += port("DUMP_DATA", "DATA").eq(self.dump_data)

    def _access(self, m, bank):
        """Arbitrate the two ports and protect CONTROL, UNLOCK, LANE_CMD and the compare
        masks; return the ``rejected`` (this cycle's write is ignored) and ``unlocked``
        signals."""
        port = bank.port
        # --- access arbitration: the lanes' port has priority; mgmt waits a cycle ------
        m.submodules.mgmt_bridge = mgmt = AXI4LiteCSRBridge(self._mgmt_addr_width)
        wiring.connect(m, wiring.flipped(self.mgmt), mgmt.bus)
        m.d.comb += mgmt.busy.eq(self.lanes.en)
        from_mgmt = Signal()
        enable = Signal()
        write = Signal()
        addr = Signal(8)
        wdata = Signal(32)
        wstrb = Signal(4)
        with m.If(self.lanes.en):
            m.d.comb += [enable.eq(1), write.eq(self.lanes.write), addr.eq(self.lanes.addr),
                         wdata.eq(self.lanes.wdata), wstrb.eq(self.lanes.wstrb)]
        with m.Elif(mgmt.csr.en):
            m.d.comb += [from_mgmt.eq(1), enable.eq(1), write.eq(mgmt.csr.write),
                         addr.eq(mgmt.csr.addr), wdata.eq(mgmt.csr.wdata),
                         wstrb.eq(mgmt.csr.wstrb)]

        # --- protection -------------------------------------------------------------------
        unlocked = Signal()
        protected = Signal()
        rejected = Signal()
        is_unlock = enable & write & (addr == ERROR_REGISTERS["UNLOCK"].offset)
        to_mask = Signal()
        m.d.comb += [
            to_mask.eq(enable & write & Cat(*(addr == ERROR_REGISTERS[name].offset
                                              for name in MASK_REGISTERS)).any()),
            protected.eq(to_mask | (enable & write & (
                (addr == ERROR_REGISTERS["CONTROL"].offset) |
                (addr == ERROR_REGISTERS["LANE_CMD"].offset) |
                (addr == ERROR_REGISTERS["UNLOCK"].offset) |
                (addr == ERROR_REGISTERS["SELFTEST"].offset)))),
        ]
        with m.If(from_mgmt):
            m.d.comb += rejected.eq((protected & ~is_unlock & ~unlocked) |
                                    (is_unlock & (wdata != UNLOCK_KEY)))
            with m.If(is_unlock):
                m.d.sync += unlocked.eq(wdata == UNLOCK_KEY)
            with m.Elif(protected):
                m.d.sync += unlocked.eq(0)
        with m.Else():
            m.d.comb += rejected.eq((protected & port("CONTROL", "LOCK")) | to_mask |
                                    (enable & write & self.w_masked))
        # A rejected write does not reach the bank; mgmt gets SLVERR, the lanes lanes_error.
        m.d.comb += [
            bank.access.en.eq(enable), bank.access.write.eq(write & ~rejected),
            bank.access.addr.eq(addr), bank.access.wdata.eq(wdata),
            bank.access.wstrb.eq(wstrb),
            self.lanes.rdata.eq(bank.access.rdata),
            self.lanes_error.eq(self.lanes.en & rejected),
            mgmt.csr.rdata.eq(bank.access.rdata),
            mgmt.error.eq(from_mgmt & rejected),
        ]
        return rejected, unlocked

    def _counters(self, m, port, rejected):
        """The saturating counters."""
        counters = {}
        for name in ("CORRECTED", "RETRIES", "REJECTED", "ERRORS0", "ERRORS1", "ERRORS2",
                     "ROLLBACKS"):
            counters[name] = Signal(32, name=f"count_{name.lower()}")
            m.d.comb += port(name, "COUNT").eq(counters[name])

        def count(name, event):
            counter = counters[name]
            with m.If(event & ~counter.all()):
                m.d.sync += counter.eq(counter + 1)

        count("CORRECTED", self.corrected)
        retries = counters["RETRIES"]
        with m.If(self.retry.any()):
            m.d.sync += retries.eq(Mux(retries >= 2**32 - 2, 2**32 - 1,
                                       retries + self.retry[0] + self.retry[1]))
        count("REJECTED", rejected)
        count("ROLLBACKS", self.rollback)
        for lane in range(3):
            count(f"ERRORS{lane}", self.lane_errors[lane])

    def _captures(self, m, port, cycle, rejected):
        """ERROR_CAUSE, FIRST_ERROR_CYCLE and SYNDROME; return this cycle's causes."""
        causes = Signal(len(CAUSES))
        m.d.comb += causes.eq(self.cause_set | (rejected << [n for n, _ in CAUSES].index(
            "REJECTED")))
        cause_value = Cat(*(port("ERROR_CAUSE", name) for name, _ in CAUSES))
        for bit, (name, _) in enumerate(CAUSES):
            m.d.comb += port("ERROR_CAUSE", name, "_set").eq(causes[bit])

        first_cycle = Signal(32)
        with m.If(causes.any() & ~cause_value.any()):
            m.d.sync += first_cycle.eq(cycle)
        m.d.comb += port("FIRST_ERROR_CYCLE", "CYCLE").eq(first_cycle)

        syndrome = Signal(3 + 3 + 8 + 32 + 2)
        syndrome_valid = Signal()
        active, channel_masked = self._mask_flags()
        with m.If(self.divergence & ~syndrome_valid):
            m.d.sync += [syndrome_valid.eq(1),
                         syndrome.eq(Cat(self.div_channel, self.div_lanes, self.div_ctrl,
                                         self.div_bits, active,
                                         Cat(*(flag & (self.div_channel == c) for c, flag
                                               in enumerate(channel_masked))).any()))]
        with m.Elif(~cause_value.any() & ~causes.any()):
            m.d.sync += syndrome_valid.eq(0)
        m.d.comb += [
            port("SYNDROME", "CHANNEL").eq(syndrome[0:3]),
            port("SYNDROME", "LANES").eq(syndrome[3:6]),
            port("SYNDROME", "CTRL").eq(syndrome[6:14]),
            port("SYNDROME", "VALID").eq(syndrome_valid),
            port("SYNDROME_BITS", "BITS").eq(syndrome[14:46]),
            port("SYNDROME_MASK", "ACTIVE").eq(syndrome[46] & syndrome_valid),
            port("SYNDROME_MASK", "CHANNEL").eq(syndrome[47] & syndrome_valid),
        ]
        return causes

    def _status(self, m, port, cycle, unlocked):
        """The constants and the live status."""
        m.d.comb += [
            port("ID", "ID").eq(ID_VALUE),
            port("VERSION", "MAJOR").eq(VERSION[0]),
            port("VERSION", "MINOR").eq(VERSION[1]),
            port("FEATURES", "LANES").eq(self._lanes),
            port("FEATURES", "PATHS").eq(self._paths),
            port("FEATURES", "POLICY").eq(POLICIES[self._policy.upper()]),
            port("FEATURES", "TIMEOUT").eq(min(self._timeout, 0xFFFF)),
            port("STATUS", "HALTED").eq(self.halted),
            port("STATUS", "SYNCING").eq(self.syncing),
            port("STATUS", "DIAGNOSING").eq(self.diagnosing),
            port("STATUS", "UNLOCKED").eq(unlocked),
            port("STATUS", "ONLINE").eq(self.online),
            port("STATUS", "MASKED").eq(self._mask_flags()[0]),
            port("CYCLE", "CYCLE").eq(cycle),
            port("PATH_STATUS", "ACTIVE").eq(self.active_path),
            port("PATH_STATUS", "FAILED", "_set").eq(self.path_fail_set),
        ]
        for lane in range(3):
            m.d.comb += port("LANE_STATE", f"LANE{lane}").eq(self.lane_state[2 * lane:
                                                                               2 * lane + 2])

    def _event_log(self, m, bank, cycle):
        """The event FIFO; return the signal of an event entering it."""
        port = bank.port
        # An event enters the log one cycle after it happened, with the cycle it happened
        # in: the register keeps the path from the lanes' outputs (compare, vote,
        # isolation) to the log's write enable out of one clock cycle.
        m.submodules.events = events = fifo.SyncFIFOBuffered(width=31, depth=16)
        logged = Signal()
        logged_data = Signal(31)
        m.d.sync += [logged.eq(self.event_valid),
                     logged_data.eq(Cat(cycle[:26], self.event_lane, self.event_kind))]
        m.d.comb += [
            events.w_data.eq(logged_data),
            events.w_en.eq(logged),
            port("EVENT_STATUS", "OVERFLOW", "_set").eq(logged & ~events.w_rdy),
            port("EVENT_STATUS", "COUNT").eq(events.level),
            port("EVENT", "CYCLE").eq(events.r_data[:26]),
            port("EVENT", "LANE").eq(events.r_data[26:28]),
            port("EVENT", "KIND").eq(events.r_data[28:31]),
            port("EVENT", "VALID").eq(events.r_rdy),
            events.r_en.eq(bank.event_read),
        ]
        return logged

    def _controls(self, m, port, causes, logged):
        """Interrupts and the controls to the bridge and lane manager."""
        halted_q = Signal()
        m.d.sync += halted_q.eq(self.halted)
        m.d.comb += [
            port("IRQ_STATUS", "ERROR", "_set").eq(causes.any()),
            port("IRQ_STATUS", "EVENT", "_set").eq(logged),
            port("IRQ_STATUS", "HALT", "_set").eq(self.halted & ~halted_q),
            self.irq.eq((port("IRQ_STATUS", "ERROR") & port("IRQ_ENABLE", "ERROR")) |
                        (port("IRQ_STATUS", "EVENT") & port("IRQ_ENABLE", "EVENT")) |
                        (port("IRQ_STATUS", "HALT") & port("IRQ_ENABLE", "HALT"))),
            self.lock.eq(port("CONTROL", "LOCK")),
            self.resume.eq(port("CONTROL", "RESUME", "_write") & port("CONTROL", "RESUME")),
            self.lane_cmd.eq(port("LANE_CMD", "OP", "_write") &
                             (port("LANE_CMD", "OP") != LANE_OPS["NONE"])),
            self.lane_cmd_lane.eq(port("LANE_CMD", "LANE")),
            self.lane_cmd_op.eq(port("LANE_CMD", "OP")),
            self.path_failed.eq(port("PATH_STATUS", "FAILED")),
            self.selftest_period.eq(port("SELFTEST", "PERIOD")),
        ]
