"""Live resync: once a resync is over, the joining lane is the survivor, flip-flop for
flip-flop and word for word, whatever the survivor did meanwhile.

The design is the real :class:`~ftvoter.hdl.lockstep.Lockstep` with ``live_resync``
(bridge, lane manager, :class:`~ftvoter.hdl.resync.Resync`, the lanes' state ports and
lane memory ports as :mod:`ftvoter.hdl.lockstep_continuous` wires them), timeout 2, one
pre-copy round at most, on two (DMR) or three (TMR) :class:`~common.FormalLane` lanes (a
few registers and a RAM of four one-word blocks). Lane 0 is the faulty lane, the joiner:
its ``upset`` is free in every cycle in which it is out of the vote (every register of
its own logic takes any value, and its RAM gets whatever it then writes), its
``self_error`` in every cycle, and the hardware lane-command port issues any command on
it, in any cycle (REMOVE, FREEZE, SPLIT, INSERT, MERGE, invalid ones) but RESET_INSERT.
The survivors are within the lane contract: their inputs (the irq word that chooses
their operations, every answer of the path, which answers legally at any pace) are free.
The split path never answers, the management port is idle, every lane stays present.

Why lane 0 is upset only while out, and RESET_INSERT left out: a rapid resync (a lane
REMOVED or FROZEN when no other lane left since) copies only the blocks either RAM wrote
since the lane left, so it trusts the RAM the lane had when it left. An upset while
online can change a RAM word without anything reaching the bus (nothing diverges), and
RESET_INSERT resets every lane's flip-flops but no RAM: either way lane 0 can leave with
a RAM unlike the survivors', and a rapid resync keeps the difference (both counterexamples
are in formal/README.md).

Property: from the cycle after a live resync's ``done`` (the joiner ONLINE), as long as
every lane is online and the joiner has not been upset again, every flip-flop of the
lanes' state vectors (their own logic, their RAMs' registers and bitmaps) is equal, and so
is every RAM word (one free ``AnyConst`` address, ``f_word``, read through
:class:`~common.PeekMemory`'s extra port); and the joiner is ONLINE in the cycle after
``done``.

Covers: a resync completes after the survivor wrote its RAM during the pre-copy, the
joiner having been upset while out, its state unlike the survivor's in the cycle of
``done`` and its word ``f_word`` unlike it during the stop, with words copied again in
the stop (the dirty blocks); and then, the joiner back in the vote, the lanes' next
request reaches the path. Mutants: ``no_final_copy`` (the stop copies none of the blocks
written since the pre-copy: their dirty bitmaps read as zero in the stop) and
``flop_missed`` (bit 0 of the state loaded into the joiner is the joiner's own: one
flip-flop not copied).
"""

from amaranth.hdl import Assert, Assume, Cover, Fragment, Signal
from common import (
    LANE_IRQ_WIDTH,
    AnyConst,
    AnySeq,
    FormalLane,
    Harness,
    drive_path,
    hs,
    idle_mgmt,
    replaced,
)
from mutants import flop_missed, no_final_copy

from ftvoter.hdl import lockstep_continuous
from ftvoter.hdl.encodings import LANE_OPS
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.resync import Resync

__all__ = ["ResyncHarness", "DESIGNS", "PRECOPY_ROUNDS"]

TIMEOUT = 2
#: Pre-copy rounds at most: one full copy, then the stop copies what it dirtied.
PRECOPY_ROUNDS = 1


def lockstep(lanes):
    """The design under proof: the formal lanes in lockstep with live resync."""
    return Lockstep(FormalLane, lanes=lanes, live_resync=True, timeout=TIMEOUT,
                    precopy_rounds=PRECOPY_ROUNDS)


class ResyncHarness(Harness):
    """Live resync of lane 0 into a lockstep of ``lanes`` formal lanes.

    Mutants (each a :class:`~ftvoter.hdl.resync.Resync` rewired, put in the real one's
    place while the Lockstep elaborates): ``no_final_copy``, ``flop_missed``.
    """

    mutants = {"no_final_copy": no_final_copy, "flop_missed": flop_missed}

    def __init__(self, lanes=2, *, mutant=None):
        super().__init__(mutant=mutant)
        self.lanes = lanes

    def build(self, m):
        dut = lockstep(self.lanes)
        make = Resync
        if self.mutant is not None:
            def make(**kw):
                return self.mutants[self.mutant](Resync(**kw))
        with replaced(lockstep_continuous, "Resync", make):
            m.submodules.dut = Fragment.get(dut, None)
        units = dut.units
        joiner, survivors = units[0], units[1:]

        # --- the environment -------------------------------------------------------------
        online = dut.online
        m.d.comb += dut.irq.eq(AnySeq(LANE_IRQ_WIDTH))
        drive_path(self, dut.path0_bus, "path0")
        idle_mgmt(self, dut)
        op = Signal(3, name="f_op")
        m.d.comb += [
            # A lane split off (SPLIT, back by MERGE: a full copy) waits on the split path
            # for ever: its behaviour meanwhile is free anyway (upset).
            dut.split_bus.awready.eq(0), dut.split_bus.wready.eq(0),
            dut.split_bus.arready.eq(0), dut.split_bus.bvalid.eq(0),
            dut.split_bus.rvalid.eq(0),
            dut.present.eq(-1),
            dut.lane_cmd.eq(AnySeq(1)), dut.lane_cmd_lane.eq(0),
            op.eq(AnySeq(3)), dut.lane_cmd_op.eq(op),
            # Any command on lane 0 but RESET_INSERT (the reset-everything resync, which
            # leaves the RAMs as they are: not the live resync proved here).
            Assume(op != LANE_OPS["RESET_INSERT"]),
            # Upset only while out of the vote: a rapid resync copies only the blocks
            # written since the lane left, so it trusts the RAM of a lane taken out by a
            # command (see the module's description).
            joiner.upset.eq(AnySeq(1) & ~online[0]), joiner.error.eq(AnySeq(1)),
        ]
        for lane in survivors:
            m.d.comb += [lane.upset.eq(0), lane.error.eq(0)]

        # --- the property ------------------------------------------------------------------
        done = dut.bridge.resync_done
        states = [port.state_out for port in dut.state_ports]
        f_word = Signal(2, name="f_word")
        m.d.comb += f_word.eq(AnyConst(2))
        for lane in units:
            m.d.comb += lane.ram.peek_addr.eq(f_word)
        f_synced = Signal(name="f_synced")      # resynced, not upset since, all online
        with m.If(done):
            m.d.sync += f_synced.eq(1)
        with m.Elif(joiner.upset | ~online.all()):
            m.d.sync += f_synced.eq(0)
        done_q = self.past(done, "done")
        with m.If(self.f_past_valid & done_q):
            m.d.comb += Assert(online[0])
        with m.If(f_synced & online.all()):
            for lane, state in zip(survivors, states[1:], strict=True):
                m.d.comb += [Assert(states[0] == state),
                             Assert(joiner.ram.peek_data == lane.ram.peek_data)]

        # --- the interesting cases ---------------------------------------------------------
        phase = dut.resync_phase
        f_upset = Signal(name="f_upset")        # the joiner was upset while out
        f_dirtied = Signal(name="f_dirtied")    # the survivor wrote its RAM in the pre-copy
        f_recopied = Signal(name="f_recopied")  # words copied in the stop
        f_stale = Signal(name="f_stale")        # the joiner's word f_word differed in it
        with m.If(joiner.upset & ~online[0]):
            m.d.sync += f_upset.eq(1)
        with m.If((phase == 1) & survivors[0].ram.undo.wr):
            m.d.sync += f_dirtied.eq(1)
        with m.If((phase == 3) & joiner.ram.undo.we):
            m.d.sync += f_recopied.eq(1)
        with m.If((phase == 3) & (joiner.ram.peek_data != survivors[0].ram.peek_data)):
            m.d.sync += f_stale.eq(1)
        m.d.comb += Cover(done & (states[0] != states[1]) & f_upset & f_dirtied &
                          f_recopied & f_stale)
        # ... and, the joiner back in the vote, the lanes' next request reaches the path.
        path = dut.path0_bus
        m.d.comb += Cover(f_synced & online.all() & f_stale &
                          (hs(path, "aw") | hs(path, "ar")))


#: Design name -> harness factory (the names the .sby file's tasks use).
DESIGNS = {
    "dmr": lambda: ResyncHarness(2),
    "dmr_no_final_copy": lambda: ResyncHarness(2, mutant="no_final_copy"),
    "dmr_flop_missed": lambda: ResyncHarness(2, mutant="flop_missed"),
    "tmr": lambda: ResyncHarness(3),
}
