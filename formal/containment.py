"""Containment: only what the good lanes presented reaches a path, once, and none of it is
lost.

The bridge (one path, smallest widths: 9-bit addresses, timeout 2) sees lane 0 free in
every output, cycle by cycle, while the other lanes present one legal stream. For each
request channel X in AW, W, AR a shadow register ``f_X_beat`` holds the good lanes' last
beat taken by the bridge and ``f_X_owed`` says it has not reached the path yet:

- a beat the bridge presents on the path is that beat, still owed, and not for the
  register window (nothing sent that the good lanes did not send, nothing divergent);
- a beat the path takes is no longer owed: it is never presented again (nothing twice);
- an OKAY response to the good lanes for a request outside the register window comes only
  after the path took all its beats (none dropped: the only request not sent is one
  answered SLVERR or by the registers).

The good lanes never write LANE_CMD (software that takes the good lanes out of the vote
by command is no fault of lane 0); everything else, register writes included, is free.
"""

from amaranth.hdl import Assert, Cat, Cover, Signal
from common import Harness, csr_address, drive_lanes, drive_path, hs, idle_mgmt
from mutants import forward_lane0

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.signatures import AXI4_RESP_OKAY

__all__ = ["Containment", "DESIGNS"]

ADDR_WIDTH = 9
TIMEOUT = 2

_CHANNELS = (("aw", ("awaddr", "awprot"), "b"),
             ("w", ("wdata", "wstrb"), "b"),
             ("ar", ("araddr", "arprot"), "r"))


def bridge(lanes, **kw):
    """The bridge as the proofs see it: one path, 9-bit addresses, timeout 2."""
    return VotingBridge(lanes=lanes, paths=1, timeout=TIMEOUT, addr_width=ADDR_WIDTH, **kw)


class BridgeHarness(Harness):
    """A harness on :func:`bridge` with ``lanes`` lanes. ``mutants`` maps each mutant's name
    to ``make(real, lanes)``, the broken design built around the real bridge."""

    mutants = {}

    def __init__(self, lanes, *, mutant=None):
        super().__init__(mutant=mutant)
        self.lanes = lanes

    def bridge(self):
        """The real bridge of the proof (:func:`bridge`, unless a harness says otherwise)."""
        return bridge(self.lanes)

    def designs(self):
        """``(real, dut)``: the real bridge, and the design under proof (the mutant's, or
        the real one)."""
        real = self.bridge()
        if self.mutant is None:
            return real, real
        return real, self.mutants[self.mutant](real, self.lanes)


class Containment(BridgeHarness):
    """Containment on the voting bridge with ``lanes`` lanes, lane 0 faulty.

    Mutant ``forward_lane0``: the bridge forwards lane 0 without comparing.
    """

    mutants = {"forward_lane0": forward_lane0}

    def mask(self, real, ch):
        """The bits of channel ``ch``'s beat (as :data:`_CHANNELS` concatenates them) that
        need not be the good lanes' (none here; see :mod:`masks`)."""
        return None

    def covers(self, m, dut, path, beats, csr, diverged):
        """The interesting case: lane 0 diverged, yet a good write and read went through."""
        m.d.comb += [
            Cover(diverged & hs(path, "w") & ~csr["aw"]),
            Cover(diverged & hs(path, "ar")),
        ]

    def build(self, m):
        real, dut = self.designs()
        m.submodules.dut = dut
        base = real.csr_base
        g = drive_lanes(self, dut, self.lanes, avoid=(csr_address(base, "LANE_CMD"),))
        idle_mgmt(self, dut)
        path = dut.path0_bus
        drive_path(self, path, "path0")
        good = getattr(dut, f"lane{g}_bus")

        csr = {}
        owed = {}
        beats = {}
        for ch, payload, _ in _CHANNELS:
            beat = Signal(sum(len(getattr(good, n)) for n in payload), name=f"f_{ch}_beat")
            beats[ch] = beat
            owed[ch] = Signal(name=f"f_{ch}_owed")
            good_beat = _cat(good, payload)
            path_beat = _cat(path, payload)
            with m.If(hs(good, ch)):
                m.d.sync += [beat.eq(good_beat), owed[ch].eq(1)]
            with m.Elif(hs(path, ch)):
                m.d.sync += owed[ch].eq(0)
            # The bits that may differ: none, or those masked when the bridge took the beat.
            mask = self.mask(real, ch)
            differ = path_beat ^ beat
            if mask is not None:
                taken_mask = Signal(len(beat), name=f"f_{ch}_mask")
                with m.If(hs(good, ch)):
                    m.d.sync += taken_mask.eq(mask)
                differ = differ & ~taken_mask
            with m.If(getattr(path, f"{ch}valid")):
                m.d.comb += [Assert(owed[ch]), Assert(differ == 0)]
            if ch != "w":
                addr = getattr(good, f"{ch}addr")
                csr[ch] = Signal(name=f"f_{ch}_csr")
                with m.If(hs(good, ch)):
                    m.d.sync += csr[ch].eq((addr >> 8) == (base >> 8))
                with m.If(getattr(path, f"{ch}valid")):
                    m.d.comb += Assert(~csr[ch])
        # None dropped: an OKAY to the good lanes means the path had the whole request.
        with m.If(hs(good, "b") & (good.bresp == AXI4_RESP_OKAY) & ~csr["aw"]):
            m.d.comb += Assert(~owed["aw"] & ~owed["w"])
        with m.If(hs(good, "r") & (good.rresp == AXI4_RESP_OKAY) & ~csr["ar"]):
            m.d.comb += Assert(~owed["ar"])

        # The interesting case: lane 0 diverged, yet a good write and read went through.
        diverged = Signal(name="f_diverged")
        with m.If(dut.mismatch):
            m.d.sync += diverged.eq(1)
        self.covers(m, dut, path, beats, csr, diverged)


def _cat(bus, names):
    return Cat(*(getattr(bus, n) for n in names))


#: Design name -> harness factory (the names the .sby file's tasks use).
DESIGNS = {
    "dmr": lambda: Containment(2),
    "tmr": lambda: Containment(3),
    "dmr_forward_lane0": lambda: Containment(2, mutant="forward_lane0"),
    "tmr_forward_lane0": lambda: Containment(3, mutant="forward_lane0"),
}
