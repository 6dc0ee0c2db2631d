"""Invariants of the voting bridge's own registers, for the k-induction of the bridge proofs.

The induction step starts from any state that satisfied every assertion for k cycles, so a
property over the bridge's ports fails there if some unreachable combination of its
internal registers can persist that long (a held write flagged for the register window
with an address outside it, a lane command pending that nobody wrote). These assertions
rule such states out; each is itself proved, in the base case and in the induction.
"""

from amaranth.hdl import Assert, Cat
from common import csr_address, peek

from ftvoter.hdl.signatures import AXI4_RESP_SLVERR

__all__ = ["bridge_invariants"]

_NAMES = ("manager.pending", "write.aw_full", "write.write_addr", "write.write_csr",
          "write.write_local", "write.write_local_resp", "read.ar_full", "read.read_addr",
          "read.read_csr", "read.read_local", "read.read_local_resp")


def bridge_invariants(h, dut, real, lanes):
    """Add ``dut`` (``real``, or a mutant wrapping it) to the harness and assert the
    invariants; return the internal signals by name (``"write.aw_full"``, ...).

    They hold in the environment of :func:`~common.drive_lanes` with LANE_CMD avoided and
    the management port idle: no lane command is ever pending, the good lanes stay
    online, a held request is for the register window exactly when its address is (and
    never for LANE_CMD), a response the engine makes itself for a request outside the
    window is SLVERR, and the compare masks are as reset (zero: only the management port
    writes them).
    """
    m = h.m
    inner = "" if dut is real else "inner."
    m.submodules.dut, found = peek(dut, *(inner + name for name in _NAMES))
    f = dict(zip(_NAMES, found, strict=True))
    window = real.csr_base >> 8
    lane_cmd = csr_address(real.csr_base, "LANE_CMD")
    masks = real.registers.masks
    m.d.comb += [Assert(~f["manager.pending"]),
                 Assert(Cat(*(dut.online[i] for i in range(1, lanes))).all()),
                 Assert(Cat(*(getattr(masks, n) for n in masks.signature.members)) == 0)]
    for kind, full in (("write", "aw_full"), ("read", "ar_full")):
        addr, csr = f[f"{kind}.{kind}_addr"], f[f"{kind}.{kind}_csr"]
        with m.If(f[f"{kind}.{full}"]):
            m.d.comb += Assert(csr == ((addr >> 8) == window))
            if kind == "write":
                m.d.comb += Assert(addr != lane_cmd)
        with m.If(f[f"{kind}.{kind}_local"] & ~csr):
            m.d.comb += Assert(f[f"{kind}.{kind}_local_resp"] == AXI4_RESP_SLVERR)
    return f
