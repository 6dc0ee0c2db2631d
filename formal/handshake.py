"""AXI4-Lite handshake rules on every port of the voting bridge.

The bridge (as in :mod:`containment`) with lane 0 free in every output, the good lanes one
legal stream, the management port driven by a legal initiator (anything it may write,
UNLOCK and LANE_CMD included) and a path that answers legally at any pace. The peers'
rules are assumed (:func:`~common.source_rules` on what they drive,
:func:`~common.response_rules` on the path's answers); the bridge's are asserted:

- as a target (every lane port while the lane is online, and ``mgmt``): B and R held
  until taken with a stable payload; one response per request and none without one;
- as an initiator (the path): AW, W and AR held until taken with a stable payload, except
  that a beat the path has left waiting ``timeout`` cycles may be withdrawn (the bridge's
  documented timeout).

Mutant ``hasty_withdraw``: a bridge that withdraws its write address from the path after
one stalled cycle.
"""

from amaranth.hdl import Assert, Assume, Cover
from common import (
    REQUESTS,
    AnySeq,
    drive_lanes,
    drive_path,
    hs,
    response_rules,
    source_rules,
)
from containment import TIMEOUT, BridgeHarness
from mutants import hasty_withdraw

__all__ = ["Handshake", "DESIGNS"]


class Handshake(BridgeHarness):
    mutants = {"hasty_withdraw": lambda real, lanes: hasty_withdraw(real)}

    def build(self, m):
        real, dut = self.designs()
        m.submodules.dut = dut
        drive_lanes(self, dut, self.lanes)
        mgmt = dut.mgmt
        for name in REQUESTS:
            m.d.comb += getattr(mgmt, name).eq(AnySeq(len(getattr(mgmt, name))))
        source_rules(self, Assume, mgmt, "mgmt")
        path = dut.path0_bus
        drive_path(self, path, "path0")

        for i in range(self.lanes):
            online = dut.online[i]
            was_online = self.past(online, f"lane{i}_online")
            response_rules(self, Assert, getattr(dut, f"lane{i}_bus"), f"lane{i}",
                           when=online & (was_online | ~self.f_past_valid))
        response_rules(self, Assert, mgmt, "mgmt")
        source_rules(self, Assert, path, "path0_out", timeout=TIMEOUT)

        # The interesting cases: the path stalls a write address, then takes it; a lane
        # leaves a response waiting, then takes it.
        aw_stalled = self.past(path.awvalid & ~path.awready, "aw_stalled")
        good = dut.lane1_bus
        b_waiting = self.past(good.bvalid & ~good.bready, "b_waiting")
        m.d.comb += [Cover(aw_stalled & hs(path, "aw")), Cover(b_waiting & hs(good, "b")),
                     Cover(hs(mgmt, "b"))]


#: Design name -> harness factory.
DESIGNS = {
    "dmr": lambda: Handshake(2),
    "tmr": lambda: Handshake(3),
    "dmr_hasty_withdraw": lambda: Handshake(2, mutant="hasty_withdraw"),
    "tmr_hasty_withdraw": lambda: Handshake(3, mutant="hasty_withdraw"),
}
