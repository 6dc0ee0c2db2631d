"""Rollback: a re-execution never sends a request twice, and the lanes resume from their
checkpoint, equal.

The design is the real :class:`~ftvoter.hdl.lockstep.Lockstep` with ``rollback`` (bridge,
:class:`~ftvoter.hdl.rollback.Rollback`, the response replay, the lanes' state ports and
undo ports as :mod:`ftvoter.hdl.lockstep_continuous` wires them), DMR, timeout 2, an
undo log of :data:`LOG_DEPTH` entries, on two :class:`~common.FormalLane` lanes. Lane 0 is
the faulty lane: its ``upset`` is free in every cycle (every register of its own logic
takes any value, its RAM gets whatever it then writes), its ``self_error`` too. Lane 1 is
the good lane, within the lane contract: its inputs (the irq word that chooses its
operations, every answer of the path, which answers legally at any pace) are free. The
management port is idle and the lanes never address the register window, so no lane
command is ever issued.

Every I/O request of a formal lane carries its own sequence number (:class:`FormalLane`:
incremented when a transaction starts, restored by a rollback with the rest of the
state), so a request the re-execution presents again is recognisable on the path.
Properties:

- **nothing twice**: the AW, W and AR beats the path takes carry strictly increasing
  sequence numbers, channel by channel (``f_<ch>_last``): no beat reaches the path again
  because of a re-execution;
- **agreed**: every beat presented on the path is the good lane's last beat taken by the
  bridge (``f_<ch>_beat``), still owed (``f_<ch>_owed``, cleared when the path takes it);
- **resume from the checkpoint**: in the cycle after a rollback (``restoring`` falls) every
  online lane's whole state vector is the good lane's state in the cycle the checkpoint
  was taken (``f_ckpt``, recorded by the harness when the rollback's ``take`` fires), and
  its RAM word at a free address (``f_word``, ``AnyConst``) the good lane's word then.

Cover: a rollback that wrote back an undo-log entry, after which the lanes' next request
reaches the path. Mutants: ``ckpt_at_handshake`` (the rollback never sees a request
handshake, its ``accept`` input tied low: a checkpoint is taken in the cycle a request is
accepted and is not invalidated by it, so the re-execution presents that request again)
and ``no_undo`` (the undo log is never written back).
"""

from amaranth.hdl import Assert, Cat, Cover, Signal
from common import (
    LANE_IRQ_WIDTH,
    LANE_SEQ_WIDTH,
    AnyConst,
    AnySeq,
    FormalLane,
    Harness,
    drive_path,
    hs,
    idle_mgmt,
    peek,
    replaced,
)
from mutants import ckpt_at_handshake, no_undo

from ftvoter.hdl import lockstep_continuous
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.rollback import Rollback

__all__ = ["RollbackHarness", "DESIGNS", "LOG_DEPTH"]

TIMEOUT = 2
#: Undo-log entries per lane.
LOG_DEPTH = 4

#: Per channel: the payload members, and where each carries the sequence number.
_CHANNELS = (("aw", ("awaddr", "awprot"), lambda bus: bus.awaddr[2:2 + LANE_SEQ_WIDTH]),
             ("w", ("wdata", "wstrb"), lambda bus: bus.wdata[:LANE_SEQ_WIDTH]),
             ("ar", ("araddr", "arprot"), lambda bus: bus.araddr[2:2 + LANE_SEQ_WIDTH]))


def lockstep():
    """The design under proof: two formal lanes in lockstep with rollback."""
    return Lockstep(FormalLane, lanes=2, rollback=True, timeout=TIMEOUT, log_depth=LOG_DEPTH)


class RollbackHarness(Harness):
    """Rollback in a DMR lockstep of formal lanes, lane 0 faulty.

    Mutants (each a :class:`~ftvoter.hdl.rollback.Rollback` rewired, put in the real
    one's place while the Lockstep elaborates): ``ckpt_at_handshake``, ``no_undo``.
    """

    mutants = {"ckpt_at_handshake": ckpt_at_handshake, "no_undo": no_undo}

    def build(self, m):
        dut = lockstep()
        made = []

        def make(**kw):
            made.append(Rollback(**kw))
            return made[0] if self.mutant is None else self.mutants[self.mutant](made[0])
        with replaced(lockstep_continuous, "Rollback", make):
            fragment, (take,) = peek(dut, "rollback.take" if self.mutant is None else
                                     "rollback.inner.take")
        m.submodules.dut = fragment
        faulty, good = dut.units
        bridge = dut.bridge

        # --- the environment -------------------------------------------------------------
        m.d.comb += [dut.irq.eq(AnySeq(LANE_IRQ_WIDTH)),
                     faulty.upset.eq(AnySeq(1)), faulty.error.eq(AnySeq(1)),
                     good.upset.eq(0), good.error.eq(0)]
        path = dut.path0_bus
        drive_path(self, path, "path0")
        idle_mgmt(self, dut)

        # --- nothing twice, and only what the good lane presented ---------------------------
        port = bridge.lane1_bus
        for ch, payload, seq in _CHANNELS:
            beat = Signal(len(_cat(port, payload)), name=f"f_{ch}_beat")
            owed = Signal(name=f"f_{ch}_owed")
            last = Signal(LANE_SEQ_WIDTH, name=f"f_{ch}_last")
            seen = Signal(name=f"f_{ch}_seen")
            with m.If(hs(port, ch)):
                m.d.sync += [beat.eq(_cat(port, payload)), owed.eq(1)]
            with m.Elif(hs(path, ch)):
                m.d.sync += owed.eq(0)
            with m.If(getattr(path, f"{ch}valid")):
                m.d.comb += [Assert(owed), Assert(_cat(path, payload) == beat)]
            with m.If(hs(path, ch)):
                m.d.comb += Assert(~seen | (seq(path) > last))
                m.d.sync += [last.eq(seq(path)), seen.eq(1)]

        # --- resume from the checkpoint ------------------------------------------------------
        f_word = Signal(2, name="f_word")
        m.d.comb += f_word.eq(AnyConst(2))
        for lane in dut.units:
            m.d.comb += lane.ram.peek_addr.eq(f_word)
        state = [port.state_out for port in dut.state_ports]
        f_ckpt = Signal(len(state[1]), name="f_ckpt")
        f_ckpt_word = Signal(32, name="f_ckpt_word")
        with m.If(take):
            m.d.sync += [f_ckpt.eq(state[1]), f_ckpt_word.eq(good.ram.peek_data)]
        restoring_q = self.past(dut.restoring, "restoring")
        resumed = Signal(name="f_resumed")      # the first cycle after a rollback
        m.d.comb += resumed.eq(self.f_past_valid & restoring_q & ~dut.restoring)
        with m.If(resumed):
            for i, lane in enumerate(dut.units):
                with m.If(dut.online[i]):
                    m.d.comb += [Assert(state[i] == f_ckpt),
                                 Assert(lane.ram.peek_data == f_ckpt_word)]

        # --- the interesting case ----------------------------------------------------------
        f_undone = Signal(name="f_undone")      # a rollback wrote an undo entry back
        f_rolled = Signal(name="f_rolled")      # ... and is over
        with m.If(dut.restoring & Cat(*(lane.ram.undo.we for lane in dut.units)).any()):
            m.d.sync += f_undone.eq(1)
        with m.If(resumed & f_undone):
            m.d.sync += f_rolled.eq(1)
        m.d.comb += Cover(f_rolled & (hs(path, "aw") | hs(path, "ar")))


def _cat(bus, names):
    return Cat(*(getattr(bus, n) for n in names))


#: Design name -> harness factory (the names the .sby file's tasks use).
DESIGNS = {
    "dmr": lambda: RollbackHarness(),
    "dmr_ckpt_at_handshake": lambda: RollbackHarness(mutant="ckpt_at_handshake"),
    "dmr_no_undo": lambda: RollbackHarness(mutant="no_undo"),
}
