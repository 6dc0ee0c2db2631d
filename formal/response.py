"""Bounded response: with a path that never answers, every request is answered, SLVERR.

The bridge (as in :mod:`containment`, timeout 2) has one path that takes beats at will but
never gives a B or R response. Lane 0 is free in every output; the good lanes present one
legal stream, never writing LANE_CMD. A write is the good lanes' request once the bridge
has taken both its AW and W beats, a read once it has taken the AR beat. Asserted:

- the good lanes see ``bvalid`` (``rvalid``) at most ``timeout + 2`` cycles after the
  cycle in which the bridge took the request's last beat (``f_wait_*`` counts the cycles
  in between and never exceeds ``timeout + 1``): no request is left without an answer,
  whatever lane 0 does and whether or not the path took the beats;
- the answer to a request outside the register window is SLVERR.

Mutant ``no_slverr``: a bridge that hangs instead of answering SLVERR (it never shows an
error response to the lanes).
"""

from amaranth.hdl import Assert, Cover, Signal
from common import csr_address, drive_lanes, drive_path, hs, idle_mgmt
from containment import TIMEOUT, BridgeHarness
from invariants import bridge_invariants
from mutants import no_slverr

from ftvoter.hdl.signatures import AXI4_RESP_SLVERR

__all__ = ["BoundedResponse", "DESIGNS", "BOUND"]

#: The most cycles between taking a request's last beat and showing its answer, minus 1.
BOUND = TIMEOUT + 1


class BoundedResponse(BridgeHarness):
    mutants = {"no_slverr": no_slverr}

    def build(self, m):
        real, dut = self.designs()
        f = bridge_invariants(self, dut, real, self.lanes)
        g = drive_lanes(self, dut, self.lanes,
                        avoid=(csr_address(real.csr_base, "LANE_CMD"),))
        idle_mgmt(self, dut)
        drive_path(self, dut.path0_bus, "path0", answers=False)
        good = getattr(dut, f"lane{g}_bus")
        window = real.csr_base >> 8

        # Writes: both beats taken, not yet answered.
        aw_in, w_in, aw_csr = (Signal(name=f"f_{n}") for n in ("aw_in", "w_in", "aw_csr"))
        with m.If(hs(good, "b")):
            m.d.sync += [aw_in.eq(0), w_in.eq(0)]
        with m.Else():
            with m.If(hs(good, "aw")):
                m.d.sync += [aw_in.eq(1), aw_csr.eq((good.awaddr >> 8) == window)]
            with m.If(hs(good, "w")):
                m.d.sync += w_in.eq(1)
        ar_in, ar_csr = Signal(name="f_ar_in"), Signal(name="f_ar_csr")
        with m.If(hs(good, "r")):
            m.d.sync += ar_in.eq(0)
        with m.Elif(hs(good, "ar")):
            m.d.sync += [ar_in.eq(1), ar_csr.eq((good.araddr >> 8) == window)]

        # The harness's record of the request agrees with the engine's.
        with m.If(aw_in & f["write.aw_full"]):
            m.d.comb += Assert(aw_csr == f["write.write_csr"])
        with m.If(ar_in & f["read.ar_full"]):
            m.d.comb += Assert(ar_csr == f["read.read_csr"])

        errors = Signal(2, name="f_errors")
        for kind, waiting, csr in (("b", aw_in & w_in, aw_csr), ("r", ar_in, ar_csr)):
            wait = Signal(4, name=f"f_wait_{kind}")
            valid, resp = getattr(good, f"{kind}valid"), getattr(good, f"{kind}resp")
            with m.If(waiting & ~valid):
                m.d.sync += wait.eq(wait + (wait != 15))
            with m.Else():
                m.d.sync += wait.eq(0)
            m.d.comb += Assert(wait <= BOUND)
            with m.If(valid & ~csr):
                m.d.comb += Assert(resp == AXI4_RESP_SLVERR)
            if kind == "b":
                with m.If(hs(good, "b") & (resp == AXI4_RESP_SLVERR) & (errors != 3)):
                    m.d.sync += errors.eq(errors + 1)
            # The interesting case: a request that waited the longest for its answer.
            m.d.comb += Cover(valid & (wait == BOUND) & ~csr)
        # No deadlock after a timeout: a second write timed out and answered too.
        m.d.comb += Cover(errors == 2)


#: Design name -> harness factory.
DESIGNS = {
    "dmr": lambda: BoundedResponse(2),
    "tmr": lambda: BoundedResponse(3),
    "dmr_no_slverr": lambda: BoundedResponse(2, mutant="no_slverr"),
    "tmr_no_slverr": lambda: BoundedResponse(3, mutant="no_slverr"),
}
