"""The error registers' map, as data: every register, field, offset, access and reset.

:class:`~ftvoter.hdl.registers.ErrorRegisters` is built from it; ``ftvoter regs`` writes it
as Markdown (docs/registers.md), a C header, JSON, SystemRDL and IP-XACT.
"""

from .csr import Access, Field, Register, RegisterMap
from .encodings import (
    CAUSES,
    CHANNELS,
    EVENT_KINDS,
    ID_VALUE,
    LANE_OPS,
    LANE_STATES,
    POLICIES,
    UNLOCK_KEY,
)

__all__ = ["ERROR_REGISTERS"]

RO, RW, RW1C, WO = Access.RO, Access.RW, Access.RW1C, Access.WO

def _lane_fields(width, access, doc, **kw):
    return [Field(f"LANE{i}", i * width, width, access, doc=doc.format(i=i), **kw)
            for i in range(3)]


def _count(name, offset, doc):
    return Register(name, offset, [Field("COUNT", 0, 32, RO, doc="Saturating count.")],
                    doc=doc)


ERROR_REGISTERS = RegisterMap("ftvoter_regs", [
    Register("ID", 0x00, [Field("ID", 0, 32, RO, doc=f"Always 0x{ID_VALUE:08x} (\"FTVR\").")],
             doc="Identifies the block."),
    Register("VERSION", 0x04, [Field("MINOR", 0, 8, RO, doc="Minor version."),
                               Field("MAJOR", 8, 8, RO, doc="Major version.")],
             doc="Register map version."),
    Register("FEATURES", 0x08, [
        Field("LANES", 0, 2, RO, doc="Number of lanes (2 or 3)."),
        Field("PATHS", 2, 2, RO, doc="Number of secondary paths (1 or 2)."),
        Field("POLICY", 4, 1, RO, enum=POLICIES,
              doc="What a DMR divergence without self_error does."),
        Field("TIMEOUT", 16, 16, RO, doc="Path timeout in cycles."),
    ], doc="Build-time parameters."),
    Register("CONTROL", 0x0C, [
        Field("LOCK", 0, 1, RW, doc="1: writes from the lanes to CONTROL, UNLOCK and "
                                    "LANE_CMD are ignored (and counted); only the "
                                    "management port can change them."),
        Field("RESUME", 1, 1, WO, doc="Write 1 to leave the halted state."),
    ], doc="Protected: from the management port, write UNLOCK first."),
    Register("UNLOCK", 0x10, [Field("KEY", 0, 32, WO, doc=f"Write 0x{UNLOCK_KEY:08x} "
                                    "(\"UNLK\") to allow the next management write to "
                                    "CONTROL, LANE_CMD or a compare mask (COMPARE_MASK, "
                                    "MASK_AWADDR, MASK_WDATA, MASK_ARADDR); other values "
                                    "are counted as rejected.")],
             doc="One-shot unlock of the protected registers for the management port."),
    Register("STATUS", 0x14, [
        Field("HALTED", 0, 1, RO, doc="Forwarding stopped (fail-safe); see CONTROL.RESUME."),
        Field("SYNCING", 1, 1, RO, doc="A lane is being resynchronised."),
        Field("DIAGNOSING", 2, 1, RO, doc="Waiting for the lanes' self-test verdicts."),
        Field("UNLOCKED", 3, 1, RO, doc="The management unlock is armed."),
        Field("ONLINE", 4, 3, RO, doc="Mask of online lanes."),
        Field("MASKED", 7, 1, RO, doc="A compare mask is set (COMPARE_MASK, MASK_AWADDR, "
                                      "MASK_WDATA or MASK_ARADDR not zero)."),
    ], doc="Live state of the bridge."),
    Register("LANE_STATE", 0x18, _lane_fields(2, RO, "State of lane {i}.", enum=LANE_STATES),
             doc="Per-lane state."),
    Register("ERROR_CAUSE", 0x1C, [Field(name, bit, 1, RW1C, doc=doc)
                                   for bit, (name, doc) in enumerate(CAUSES)],
             doc="Sticky causes; write 1 to clear. When all are clear, the next error "
                 "captures FIRST_ERROR_CYCLE and SYNDROME again."),
    Register("FIRST_ERROR_CYCLE", 0x20, [Field("CYCLE", 0, 32, RO,
                                               doc="CYCLE when the first cause was set.")],
             doc="When the first error since ERROR_CAUSE was clear happened."),
    Register("CYCLE", 0x24, [Field("CYCLE", 0, 32, RO, doc="Cycles since reset (wraps).")],
             doc="Free-running cycle counter."),
    Register("SYNDROME", 0x28, [
        Field("CHANNEL", 0, 3, RO, enum=CHANNELS, doc="Channel of the first divergence."),
        Field("LANES", 4, 3, RO, doc="Lanes that disagreed (DMR: both)."),
        Field("CTRL", 8, 8, RO, doc="Differing control bits: bit 0 valid (or ready), "
                                    "bits 1-4 wstrb (W) or bits 1-3 prot (AW, AR)."),
        Field("VALID", 31, 1, RO, doc="A syndrome was captured."),
    ], doc="First divergence since ERROR_CAUSE was clear."),
    Register("SYNDROME_BITS", 0x2C, [Field("BITS", 0, 32, RO, doc="Differing address (AW, "
                                           "AR) or data (W) bits (if only one lane's beat "
                                           "was valid: its bits XOR the other's idle "
                                           "output).")],
             doc="Differing payload bits of the first divergence."),
    _count("CORRECTED", 0x30, "TMR divergences outvoted (odd lane taken out)."),
    _count("RETRIES", 0x34, "Path operations retried on the other path."),
    _count("REJECTED", 0x38, "Writes ignored: protected register locked, no unlock, "
                             "wrong key, a lane command that could not be done, a lanes' "
                             "write to a compare mask or one whose W beat was taken while "
                             "a W bit was masked."),
    _count("ERRORS0", 0x40, "Divergences in which lane 0 disagreed."),
    _count("ERRORS1", 0x44, "Divergences in which lane 1 disagreed."),
    _count("ERRORS2", 0x48, "Divergences in which lane 2 disagreed."),
    Register("PATH_STATUS", 0x4C, [
        Field("FAILED", 0, 2, RW1C, doc="Path j failed (error or timeout) and is out of "
                                        "service; write 1 to return it to service."),
        Field("ACTIVE", 4, 1, RO, doc="Path that new operations go to."),
    ], doc="Secondary paths."),
    Register("LANE_CMD", 0x50, [
        Field("LANE", 0, 2, WO, doc="Lane to act on."),
        Field("OP", 4, 3, WO, enum=LANE_OPS, doc="REMOVE takes an online lane out; INSERT "
              "resynchronises a broken or removed lane and brings it online (with live "
              "resync, from the survivors' state while they run; otherwise by resetting "
              "every lane); FREEZE removes it and stops its clock so its state can be "
              "inspected; RESET_INSERT brings it online by resetting every lane; SPLIT takes "
              "an online lane out of the vote to run on its own on the split path (live "
              "resync designs); MERGE brings a split lane back by a live resync from the "
              "others."),
    ], doc="Protected: from the management port, write UNLOCK first."),
    Register("EVENT", 0x54, [
        Field("CYCLE", 0, 26, RO, doc="Low bits of CYCLE when it happened."),
        Field("LANE", 26, 2, RO, doc="Lane."),
        Field("KIND", 28, 3, RO, enum=EVENT_KINDS, doc="What happened (ROLLBACK: the "
              "online lanes were rolled back to their last checkpoint; LANE is then the "
              "first online lane)."),
        Field("VALID", 31, 1, RO, doc="1: an event was popped; 0: the log is empty."),
    ], doc="Event log of lane state changes (FIFO of 16); each read pops one event. An "
           "event is in the log from the cycle after it happened.",
        read_strobe=True),
    Register("EVENT_STATUS", 0x58, [
        Field("COUNT", 0, 5, RO, doc="Events waiting."),
        Field("OVERFLOW", 8, 1, RW1C, doc="An event was lost because the log was full."),
    ], doc="Event log fill level."),
    Register("IRQ_STATUS", 0x5C, [
        Field("ERROR", 0, 1, RW1C, doc="An ERROR_CAUSE bit was set."),
        Field("EVENT", 1, 1, RW1C, doc="An event was logged."),
        Field("HALT", 2, 1, RW1C, doc="The bridge halted."),
    ], doc="Pending interrupts; write 1 to clear."),
    Register("IRQ_ENABLE", 0x60, [
        Field("ERROR", 0, 1, RW, doc="Interrupt on ERROR."),
        Field("EVENT", 1, 1, RW, doc="Interrupt on EVENT."),
        Field("HALT", 2, 1, RW, doc="Interrupt on HALT."),
    ], doc="The interrupt line is high while any IRQ_STATUS bit is set with its enable."),
    Register("SCRATCH", 0x64, [Field("VALUE", 0, 32, RW, doc="Free for software.")],
             doc="Scratch register (no effect on the hardware)."),
    _count("ROLLBACKS", 0x68, "Divergences without blame rolled back to the last "
                              "checkpoint and re-executed (bridges built with rollback)."),
    Register("DUMP_SELECT", 0x6C, [
        Field("INDEX", 0, 24, WO, doc="First word to read."),
        Field("LANE", 24, 2, WO, doc="Lane to read (freeze it first: its clock stopped, "
                                     "its state holds still)."),
        Field("MEMORY", 28, 1, WO, doc="0: the lane's state vector (every flip-flop, 32 "
                                       "bits a word, bit 0 first); 1: its RAM."),
    ], doc="Quick dump (designs with live resync): what DUMP_DATA reads."),
    Register("DUMP_DATA", 0x70, [Field("DATA", 0, 32, RO, doc="The selected word.")],
             doc="Quick dump: the word at DUMP_SELECT; each read moves INDEX on by one.",
             read_strobe=True),
    Register("COMPARE_MASK", 0x74, [
        *(Field(name, bit, 1, RW, doc=f"1: {what} not compared{valid}.")
          for name, bit, what, valid in (
              ("AW", 0, "awaddr and awprot are", " (awvalid still is; nor are any AW bits "
                                                 "masked in a cycle in which an online lane's "
                                                 "awaddr is in the register window)"),
              ("W", 1, "wdata and wstrb are", " (wvalid still is)"),
              ("AR", 2, "araddr and arprot are", " (arvalid still is; as for AW)"),
              ("B", 3, "bready is", "; each lane still takes a response at its own pace "
                                    "and the next waits for all"),
              ("R", 4, "rready is", "; as for B"))),
        Field("AWPROT", 8, 3, RW, doc="awprot bits not compared."),
        Field("WSTRB", 12, 4, RW, doc="wstrb bits not compared."),
        Field("ARPROT", 16, 3, RW, doc="arprot bits not compared."),
    ], doc="Compare masks per channel (the whole payload, or the ready) and per control bit "
           "(reset 0: every bit compared). A masked bit never causes a divergence; the beat "
           "forwarded carries the first online lane's value on it (TMR: masked bits are not "
           "voted). Protected: written only from the management port, each write after its "
           "own UNLOCK; the lanes' writes are refused."),
    Register("MASK_AWADDR", 0x78, [Field("ADDR", 0, 32, RW, doc="awaddr bits not compared "
                                         "(bits above the bridge's address width are "
                                         "ignored).")],
             doc="Compare mask of the write address, per bit, as COMPARE_MASK; not applied "
                 "in a cycle in which an online lane's awaddr is in the register window."),
    Register("MASK_WDATA", 0x7C, [Field("DATA", 0, 32, RW, doc="wdata bits not compared.")],
             doc="Compare mask of the write data, per bit, as COMPARE_MASK. A lanes' write "
                 "to any of the error registers whose W beat was taken while a W bit (here, "
                 "COMPARE_MASK.W or WSTRB) was masked is refused."),
    Register("MASK_ARADDR", 0x80, [Field("ADDR", 0, 32, RW, doc="araddr bits not compared "
                                         "(bits above the bridge's address width are "
                                         "ignored).")],
             doc="Compare mask of the read address, per bit, as COMPARE_MASK; not applied "
                 "in a cycle in which an online lane's araddr is in the register window."),
    Register("SYNDROME_MASK", 0x84, [
        Field("ACTIVE", 0, 1, RO, doc="A compare mask was set (STATUS.MASKED) when the "
                                      "syndrome was captured: SYNDROME.CTRL and "
                                      "SYNDROME_BITS show only bits that were compared."),
        Field("CHANNEL", 1, 1, RO, doc="The syndrome's channel itself had a mask bit set "
                                       "(its COMPARE_MASK bit or a bit of its own masks)."),
    ], doc="The compare masks at the first divergence: captured with SYNDROME; zero while "
           "SYNDROME.VALID is."),
    Register("SELFTEST", 0x88, [
        Field("PERIOD", 0, 24, RW, reset=1024, doc="Cycles from one comparator self-test "
              "sequence's start to the next (each sequence: one cycle per channel in which "
              "a mismatch is forced on the highest online lane and must be seen, and the "
              "lanes wait; one sequence runs at reset); 0: only the one at reset. A failed "
              "check sets ERROR_CAUSE.SELFTEST."),
    ], doc="Comparator self-test. Protected: from the management port, write UNLOCK first."),
], size=256, doc="Error registers of the ftvoter voting bridge. Reached by the lanes "
                 "(agreed transactions at the bridge's csr_base) and by the out-of-band "
                 "management port (mgmt).")
