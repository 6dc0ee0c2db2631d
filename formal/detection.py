"""Detection: the comparator's ``mismatch`` exactly one cycle after a differing cycle, and
the voting bridge's isolation of the odd lane in the cycle after.

Comparator (:class:`~ftvoter.hdl.compare.LockstepComparator`, 8 bits, registered, no
offset): lane 0 free, the others equal to each other (``Assume``). Its documented latency
is one cycle (``registered=True``), which is what is asserted: ``mismatch`` in cycle t+1
if and only if the lanes differed in cycle t (never in the first cycle); ``disagree`` is
``0b11`` in DMR and exactly lane 0 in TMR; ``syndrome`` is the XOR of the first
differing cycle, held. With ``registered=False`` the same holds with no delay.

Bridge (:class:`~ftvoter.hdl.bridge.VotingBridge`, as in :mod:`containment`): a cycle in
which lane 0 is online, the bridge neither halted nor resetting the lanes nor in a
comparator self-test cycle (:mod:`~ftvoter.hdl.selftest`: nothing is accepted in one, so a
difference that lasts only that cycle sends nothing; one that lasts is seen the cycle
after; containment, :mod:`containment`, holds through them), and lane 0's
request channels differ from the good lanes' (valid differs; or both valid and the
payload differs; or ``bready``/``rready`` differ) is a differing cycle, computed here
independently of the bridge's own comparison. ``mismatch`` is asserted in cycle t+1 if
and only if cycle t was one; then in TMR ``disagree`` is ``0b001`` and lane 0 is out of
the vote (``online == 0b110``); in DMR ``disagree`` is ``0b11`` and lane 0 is out or the
bridge halted.
"""

from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal
from common import AnySeq, Harness, csr_address, drive_lanes, drive_path, idle_mgmt, peek
from containment import BridgeHarness
from mutants import blind_addr_bit, blind_bit

from ftvoter.hdl.compare import LockstepComparator

__all__ = ["ComparatorDetection", "BridgeDetection", "DESIGNS"]

WIDTH = 8


class ComparatorDetection(Harness):
    """Mutant ``blind_bit``: a comparator that ignores bit 0 of lane 0."""

    mutants = ("blind_bit",)

    def __init__(self, lanes, *, registered=True, mutant=None):
        super().__init__(mutant=mutant)
        self.lanes, self.registered = lanes, registered

    def build(self, m):
        real = LockstepComparator(WIDTH, lanes=self.lanes, registered=self.registered)
        dut = real if self.mutant is None else blind_bit(real)
        # The comparator's own record of a first mismatch, for the induction.
        inner = "" if dut is real else "inner."
        m.submodules.dut, (f_dut_captured,) = peek(dut, inner + "captured")
        values = [getattr(dut, f"lane{i}") for i in range(self.lanes)]
        for i, value in enumerate(values):
            m.d.comb += value.eq(AnySeq(WIDTH))
            if i >= 2:
                m.d.comb += Assume(value == values[1])
        differs = Signal(name="f_differs")
        m.d.comb += differs.eq(values[0] != values[1])
        diff = values[0] ^ values[1]
        odd = 0b11 if self.lanes == 2 else 0b001
        first, captured = Signal(WIDTH, name="f_first"), Signal(name="f_captured")
        with m.If(differs & ~captured):
            m.d.sync += [first.eq(diff), captured.eq(1)]
        m.d.comb += Assert(f_dut_captured == captured)
        if self.registered:
            seen = Signal(name="f_seen")
            m.d.sync += seen.eq(differs)
            m.d.comb += [Assert(dut.mismatch == seen),
                         Assert(dut.disagree == Mux(seen, odd, 0)),
                         Assert(dut.syndrome == first)]
        else:
            seen = differs
            m.d.comb += [Assert(dut.mismatch == differs),
                         Assert(dut.disagree == Mux(differs, odd, 0)),
                         Assert(dut.syndrome == Mux(captured, first, Mux(differs, diff, 0)))]
        # The interesting case: a single-bit difference seen, after an agreeing cycle.
        m.d.comb += Cover(seen & (dut.syndrome == 1) & self.f_past_valid)


class BridgeDetection(BridgeHarness):
    """Mutant ``blind_addr_bit``: a bridge whose comparison ignores bit 0 of lane 0's
    write address."""

    mutants = {"blind_addr_bit": lambda real, lanes: blind_addr_bit(real)}

    def build(self, m):
        real, dut = self.designs()
        inner = "" if dut is real else "inner."
        m.submodules.dut, (f_pending, f_aw_full, f_addr, f_csr, f_test) = peek(
            dut, *(inner + name for name in ("manager.pending", "write.aw_full",
                                             "write.write_addr", "write.write_csr",
                                             "selftest.active")))
        lane_cmd = csr_address(real.csr_base, "LANE_CMD")
        g = drive_lanes(self, dut, self.lanes, avoid=(lane_cmd,))
        idle_mgmt(self, dut)
        drive_path(self, dut.path0_bus, "path0")
        faulty, good = dut.lane0_bus, getattr(dut, f"lane{g}_bus")
        differs = []
        for valid, payload in (("awvalid", ("awaddr", "awprot")),
                               ("wvalid", ("wdata", "wstrb")),
                               ("arvalid", ("araddr", "arprot"))):
            v0, vg = getattr(faulty, valid), getattr(good, valid)
            p0 = Cat(*(getattr(faulty, n) for n in payload))
            pg = Cat(*(getattr(good, n) for n in payload))
            differs.append((v0 != vg) | (v0 & (p0 != pg)))
        differs += [faulty.bready != good.bready, faulty.rready != good.rready]
        live = dut.online[0] & ~dut.halted & ~dut.lanes_reset & ~f_test
        diverged = Signal(name="f_diverged")
        m.d.comb += diverged.eq(live & Cat(*differs).any())
        seen = Signal(name="f_seen")
        m.d.sync += seen.eq(diverged)
        resumed = self.past(real.registers.resume, "resume")
        good_lanes = Cat(*(dut.online[i] for i in range(1, self.lanes)))
        # Invariants for the induction: a held write is for the register window exactly
        # when its address is, and not for LANE_CMD; no lane command is pending (none is
        # written); the good lanes stay in the vote; the compare masks are as reset (only
        # the management port, idle here, writes them).
        with m.If(f_aw_full):
            m.d.comb += [Assert(f_csr == ((f_addr >> 8) == (real.csr_base >> 8))),
                         Assert(f_addr != lane_cmd)]
        masks = real.registers.masks
        m.d.comb += [Assert(~f_pending), Assert(good_lanes.all()),
                     Assert(Cat(*(getattr(masks, n) for n in masks.signature.members)) == 0)]
        m.d.comb += Assert(dut.mismatch == seen)
        everyone = (1 << self.lanes) - 1
        with m.If(seen):
            if self.lanes == 3:
                m.d.comb += [Assert(dut.disagree == 0b001), Assert(dut.online == 0b110)]
            else:
                # CONTROL.RESUME written in the cycle of the divergence wins over the
                # halt (documented); the next divergent cycle halts.
                m.d.comb += [Assert(dut.disagree == 0b11),
                             Assert(~dut.online[0] | dut.halted | resumed)]
        with m.Else():
            m.d.comb += Assert(dut.disagree == 0)
        # The interesting cases: lane 0 isolated after a divergence, (DMR) or a halt.
        was_online = self.past(dut.online == everyone, "all_online")
        m.d.comb += Cover(seen & was_online & ~dut.online[0])
        if self.lanes == 2:
            m.d.comb += Cover(seen & dut.halted)


#: Design name -> harness factory.
DESIGNS = {
    "cmp_dmr": lambda: ComparatorDetection(2),
    "cmp_tmr": lambda: ComparatorDetection(3),
    "cmp_dmr_comb": lambda: ComparatorDetection(2, registered=False),
    "cmp_tmr_comb": lambda: ComparatorDetection(3, registered=False),
    "cmp_dmr_blind_bit": lambda: ComparatorDetection(2, mutant="blind_bit"),
    "cmp_tmr_blind_bit": lambda: ComparatorDetection(3, mutant="blind_bit"),
    "bridge_dmr": lambda: BridgeDetection(2),
    "bridge_tmr": lambda: BridgeDetection(3),
    "bridge_dmr_blind_addr_bit": lambda: BridgeDetection(2, mutant="blind_addr_bit"),
    "bridge_tmr_blind_addr_bit": lambda: BridgeDetection(3, mutant="blind_addr_bit"),
}
