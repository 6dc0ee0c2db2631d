"""Register semantics: RW1C with the hardware set winning, LOCK, UNLOCK for one write only,
the compare masks written only from the management port, and no single lane changing
CONTROL, LANE_CMD or the compare masks.

``regs`` (:class:`~ftvoter.hdl.registers.ErrorRegisters` alone, unbounded): every input
free, the lanes' access port included; the management port driven by a legal AXI4-Lite
initiator. Asserted, from the bank's stored fields:

- every ERROR_CAUSE bit is ``set | (old & ~clear)`` of the previous cycle: a hardware set
  and a software write-1-to-clear in the same cycle leave it set (no error is lost);
- with CONTROL.LOCK set, a lanes' write to CONTROL, UNLOCK, LANE_CMD or SELFTEST never
  reaches the bank, issues no lane command and answers an error; with LOCK clear it goes
  through;
- with ``w_masked`` (the bridge took the write's W beat under a W compare mask) a lanes'
  write never reaches the bank and answers an error;
- a management write to CONTROL, LANE_CMD, SELFTEST or a compare mask (COMPARE_MASK,
  MASK_AWADDR, MASK_WDATA, MASK_ARADDR) reaches the bank exactly when the model
  ``f_unlocked`` says so: set by a management write of the key to UNLOCK, cleared by any
  other management write to UNLOCK, CONTROL, LANE_CMD, SELFTEST or a mask (one write per
  unlock); and STATUS.UNLOCKED reads
  that model;
- the compare masks: a lanes' write to one never reaches the bank and answers an error;
  each mask register's stored value changes only in the cycle after a management write
  to it while ``f_unlocked``; the ``masks`` output is the stored masks.

``single_*`` (the voting bridge, as in :mod:`containment`, bounded): lane 0 free, the
good lanes free to write any register but LANE_CMD, the management port idle, and the
compare masks the comparison uses free (``AnySeq``, :class:`masks.FreeMaskRegisters`).
Every write that reaches the register bank is the good lanes' last AW beat (low 8 address
bits) with their last W beat (so no masked bit of lane 0's reaches a register);
CONTROL.LOCK changes only by such a write to CONTROL, no lane command is ever issued, and
the stored compare masks never change: a single lane can never change CONTROL, LANE_CMD or
the compare masks.
"""

from amaranth.hdl import Assert, Assume, Cat, Cover, Signal
from amaranth.lib import wiring
from common import (
    REQUESTS,
    AnySeq,
    Harness,
    csr_address,
    drive_lanes,
    drive_path,
    hs,
    idle_mgmt,
    source_rules,
)
from containment import BridgeHarness
from masks import free_mask_bridge
from mutants import forward_lane0

from ftvoter.hdl.encodings import CAUSES, CHANNELS, UNLOCK_KEY
from ftvoter.hdl.registers import ERROR_REGISTERS, MASK_REGISTERS, ErrorRegisters

__all__ = ["RegisterRules", "SingleLane", "DESIGNS"]

_OFFSET = {name: ERROR_REGISTERS[name].offset for name in
           ("CONTROL", "UNLOCK", "LANE_CMD", "ERROR_CAUSE", "SELFTEST", *MASK_REGISTERS)}


def _stored_masks(bank):
    """The stored compare masks, register by register: ``{name: value}``."""
    return {name: Cat(*(bank.port(name, field.name) for field in ERROR_REGISTERS[name].fields))
            for name in MASK_REGISTERS}


def _to_mask(addr):
    return Cat(*(addr == _OFFSET[name] for name in MASK_REGISTERS)).any()


class _MutantRegisters(ErrorRegisters):
    """ErrorRegisters broken on purpose: ``clear_wins`` (a software clear beats the hardware
    set of the same bit), ``lock_ignored`` (the lanes' protected writes go through while
    locked), ``unlock_sticky`` (an unlock is never used up), ``masks_from_lanes`` (the
    lanes' writes to the compare masks go through unless locked, as CONTROL's do),
    ``masks_no_unlock`` (a management write to a compare mask needs no unlock)."""

    def __init__(self, mutant, **kw):
        super().__init__(**kw)
        self._mutant = mutant

    def _access(self, m, bank):
        rejected, unlocked = super()._access(m, bank)
        if self._mutant == "lock_ignored":
            with m.If(self.lanes.en):
                m.d.comb += rejected.eq(0)          # the last assignment wins
        if self._mutant == "unlock_sticky":
            with m.If(unlocked):
                m.d.sync += unlocked.eq(1)
        lanes, access = self.lanes, bank.access
        if self._mutant == "masks_from_lanes":
            with m.If(lanes.en & _to_mask(lanes.addr) & ~bank.port("CONTROL", "LOCK") &
                      ~self.w_masked):
                m.d.comb += rejected.eq(0)
        if self._mutant == "masks_no_unlock":
            with m.If(~lanes.en & access.en & _to_mask(access.addr)):
                m.d.comb += rejected.eq(0)
        return rejected, unlocked

    def _captures(self, m, port, cycle, rejected):
        causes = super()._captures(m, port, cycle, rejected)
        if self._mutant == "clear_wins":
            access = self._bank.access
            clear = Signal(32, name="mutant_clear")
            m.d.comb += clear.eq(Cat(*(access.wstrb[k].replicate(8) for k in range(4))) &
                                 access.wdata)
            with m.If(access.en & access.write & (access.addr == _OFFSET["ERROR_CAUSE"])):
                for bit, (name, _) in enumerate(CAUSES):
                    m.d.comb += port("ERROR_CAUSE", name, "_set").eq(causes[bit] & ~clear[bit])
        return causes


class RegisterRules(Harness):
    mutants = ("clear_wins", "lock_ignored", "unlock_sticky", "masks_from_lanes",
               "masks_no_unlock")

    def build(self, m):
        kw = dict(lanes=2, paths=1, timeout=2)
        regs = ErrorRegisters(**kw) if self.mutant is None else \
            _MutantRegisters(self.mutant, **kw)
        m.submodules.dut = regs
        bank = regs._bank
        for path, member, value in regs.signature.flatten(regs):
            if member.flow == wiring.In and path[0] != "mgmt":
                m.d.comb += value.eq(AnySeq(len(value)))
        mgmt = regs.mgmt
        for name in REQUESTS:
            m.d.comb += getattr(mgmt, name).eq(AnySeq(len(getattr(mgmt, name))))
        source_rules(self, Assume, mgmt, "mgmt")
        access = bank.access
        bank_write = access.en & access.write

        # RW1C: the hardware set wins over the software clear.
        clear_write = bank_write & (access.addr == _OFFSET["ERROR_CAUSE"])
        both = Signal(name="f_set_and_clear")
        for bit, (name, _) in enumerate(CAUSES):
            value = bank.port("ERROR_CAUSE", name)
            # The hardware's own set (the REJECTED bit is the registers' own refusal).
            hw_set = bank.port("ERROR_CAUSE", name, "_set") if name == "REJECTED" else \
                regs.cause_set[bit]
            clear = clear_write & access.wdata[bit] & access.wstrb[bit // 8]
            past_value = self.past(value, f"cause_{name}")
            past_set, past_clear = self.past(hw_set, f"set_{name}"), self.past(clear, f"clr_{name}")
            with m.If(self.f_past_valid):
                m.d.comb += Assert(value == (past_set | (past_value & ~past_clear)))
            if bit == 0:
                m.d.comb += both.eq(hw_set & clear)

        # LOCK: the lanes' protected writes are refused while locked.
        lock = bank.port("CONTROL", "LOCK")
        lanes = regs.lanes
        protected = lanes.en & lanes.write & ((lanes.addr == _OFFSET["CONTROL"]) |
                                              (lanes.addr == _OFFSET["UNLOCK"]) |
                                              (lanes.addr == _OFFSET["LANE_CMD"]) |
                                              (lanes.addr == _OFFSET["SELFTEST"]))
        with m.If(protected & ~regs.w_masked):
            m.d.comb += [Assert(access.write == ~lock), Assert(regs.lanes_error == lock)]
        with m.If(protected & lock):
            m.d.comb += Assert(~regs.lane_cmd)
        # A write whose W beat was taken under a W mask, or a write to a mask: refused.
        lane_write = lanes.en & lanes.write
        with m.If(lane_write & (regs.w_masked | _to_mask(lanes.addr))):
            m.d.comb += [Assert(~access.write), Assert(regs.lanes_error)]

        # UNLOCK: one management write per unlock.
        unlocked = Signal(name="f_unlocked")
        addr = mgmt.awaddr[:8]
        mgmt_write = hs(mgmt, "aw")
        to_guarded = (addr == _OFFSET["CONTROL"]) | (addr == _OFFSET["LANE_CMD"]) | \
            (addr == _OFFSET["SELFTEST"]) | _to_mask(addr)
        with m.If(mgmt_write & (addr == _OFFSET["UNLOCK"])):
            m.d.sync += unlocked.eq(mgmt.wdata == UNLOCK_KEY)
        with m.Elif(mgmt_write & to_guarded):
            m.d.sync += unlocked.eq(0)
        with m.If(mgmt_write & to_guarded):
            m.d.comb += Assert(access.write == unlocked)
        m.d.comb += [Assert(mgmt_write == (hs(mgmt, "w") & access.en & ~lanes.en)),
                     Assert(bank.port("STATUS", "UNLOCKED") == unlocked)]
        accepted = Signal(2, name="f_accepted")
        with m.If(mgmt_write & to_guarded & (accepted != 3)):
            m.d.sync += accepted.eq(accepted + 1)

        # The compare masks change only by a management write after UNLOCK.
        changed = Signal(name="f_mask_changed")
        stored = {
            "channels": Cat(*(bank.port("COMPARE_MASK", name) for name in CHANNELS)),
            "aw_addr": bank.port("MASK_AWADDR", "ADDR"),
            "aw_prot": bank.port("COMPARE_MASK", "AWPROT"),
            "w_data": bank.port("MASK_WDATA", "DATA"),
            "w_strb": bank.port("COMPARE_MASK", "WSTRB"),
            "ar_addr": bank.port("MASK_ARADDR", "ADDR"),
            "ar_prot": bank.port("COMPARE_MASK", "ARPROT"),
        }
        m.d.comb += [Assert(getattr(regs.masks, name) == value)
                     for name, value in stored.items()]
        for name, value in _stored_masks(bank).items():
            past_value = self.past(value, f"mask_{name}")
            past_write = self.past(mgmt_write & (addr == _OFFSET[name]) & unlocked,
                                   f"mask_write_{name}")
            with m.If(self.f_past_valid & ~past_write):
                m.d.comb += Assert(value == past_value)
            with m.If(self.f_past_valid & (value != past_value)):
                m.d.comb += changed.eq(1)
        m.d.comb += [
            Cover(both),                                        # set and clear together
            Cover(protected & lock),                            # a locked write refused
            Cover((accepted == 2) & ~unlocked & self.f_past_valid),  # one taken, one refused
            Cover(changed),                                     # a mask written from mgmt
            Cover(lane_write & _to_mask(lanes.addr) & ~lock),   # the lanes' refused
            Cover(lane_write & regs.w_masked & ~lock & ~_to_mask(lanes.addr)),
        ]


class SingleLane(BridgeHarness):
    """Mutants ``forward_lane0`` (the bridge forwards lane 0 without comparing) and
    ``w_unrefused`` (the registers take a lanes' write whose W beat the bridge took under
    a W mask)."""

    mutants = {"forward_lane0": forward_lane0, "w_unrefused": lambda real, lanes: real}

    def bridge(self):
        return free_mask_bridge(self.lanes, unrefused=self.mutant == "w_unrefused")

    def build(self, m):
        real, dut = self.designs()
        m.submodules.dut = dut
        # The good lanes never write LANE_CMD (their own command could take them out of
        # the vote, leaving lane 0 alone: no fault of lane 0), so no lane command may
        # ever be issued.
        g = drive_lanes(self, dut, self.lanes,
                        avoid=(csr_address(real.csr_base, "LANE_CMD"),))
        idle_mgmt(self, dut)
        drive_path(self, dut.path0_bus, "path0")
        good = getattr(dut, f"lane{g}_bus")
        regs = real.registers
        bank = regs._bank
        aw, w = Signal(8, name="f_last_aw"), Signal(36, name="f_last_w")
        with m.If(hs(good, "aw")):
            m.d.sync += aw.eq(good.awaddr[:8])
        with m.If(hs(good, "w")):
            m.d.sync += w.eq(Cat(good.wdata, good.wstrb))
        access = bank.access
        bank_write = access.en & access.write
        with m.If(bank_write):
            m.d.comb += [Assert(access.addr == aw), Assert(Cat(access.wdata, access.wstrb) == w)]
        lock = bank.port("CONTROL", "LOCK")
        past_lock = self.past(lock, "lock")
        past_control = self.past(bank_write & (access.addr == _OFFSET["CONTROL"]), "control")
        with m.If(self.f_past_valid & ~past_control):
            m.d.comb += Assert(lock == past_lock)
        m.d.comb += [Assert(~regs.lane_cmd),
                     Assert(~bank_write | (access.addr != _OFFSET["LANE_CMD"]))]
        # The stored compare masks stay as they were reset (the management port is idle).
        m.d.comb += [Assert(value == 0) for value in _stored_masks(bank).values()]
        diverged = Signal(name="f_diverged")
        with m.If(dut.mismatch):
            m.d.sync += diverged.eq(1)
        lanes = regs.lanes
        masked = Cat(*(getattr(regs.masks, n) for n in regs.masks.signature.members)).any()
        m.d.comb += [
            Cover(diverged & (lock != past_lock)),
            Cover(diverged & bank_write & masked),              # a write taken under masks
            Cover(lanes.en & lanes.write & regs.w_masked),      # one refused for its W mask
        ]


#: Design name -> harness factory.
DESIGNS = {
    "regs": lambda: RegisterRules(),
    "regs_clear_wins": lambda: RegisterRules(mutant="clear_wins"),
    "regs_lock_ignored": lambda: RegisterRules(mutant="lock_ignored"),
    "regs_unlock_sticky": lambda: RegisterRules(mutant="unlock_sticky"),
    "regs_masks_from_lanes": lambda: RegisterRules(mutant="masks_from_lanes"),
    "regs_masks_no_unlock": lambda: RegisterRules(mutant="masks_no_unlock"),
    "single_dmr": lambda: SingleLane(2),
    "single_tmr": lambda: SingleLane(3),
    "single_dmr_forward_lane0": lambda: SingleLane(2, mutant="forward_lane0"),
    "single_tmr_forward_lane0": lambda: SingleLane(3, mutant="forward_lane0"),
    "single_dmr_w_unrefused": lambda: SingleLane(2, mutant="w_unrefused"),
    "single_tmr_w_unrefused": lambda: SingleLane(3, mutant="w_unrefused"),
}
