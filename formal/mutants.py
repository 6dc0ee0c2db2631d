"""Deliberately broken designs: each wraps a real one and breaks it at its ports.

A mutant has the signature of the design it wraps, so a harness drives it exactly as it
drives the real one. None of them touches ``hdl/``: each is the real component with a
few of its inputs or outputs rewired, the way a wiring fault or a careless edit would.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring

from ftvoter.hdl.signatures import AXI4_RESP_SLVERR

__all__ = ["Rewired", "forward_lane0", "blind_bit", "blind_addr_bit", "blind_mask_bit",
           "no_slverr", "hasty_withdraw", "no_final_copy", "flop_missed",
           "ckpt_at_handshake", "no_undo"]


class Rewired(wiring.Component):
    """``inner`` with the same ports, passed through but for ``inputs`` and ``outputs``:
    dicts from a port path (``("lane1_bus", "awaddr")``) to a function of ``(outer,
    inner)`` giving the value that drives the inner input (or the outer output). A
    function may add logic of its own to the wrapper's module, ``outer.m``."""

    def __init__(self, inner, *, inputs=None, outputs=None):
        self._inner = inner
        self._inputs, self._outputs = inputs or {}, outputs or {}
        super().__init__(inner.signature)

    @property
    def inner(self):
        return self._inner

    def elaborate(self, platform):
        m = Module()
        self.m = m
        m.submodules.inner = self._inner
        outer_ports = dict((path, value) for path, _, value in self.signature.flatten(self))
        for path, member, value in self._inner.signature.flatten(self._inner):
            outer = outer_ports[path]
            if member.flow == wiring.In:
                rewire = self._inputs.get(path)
                m.d.comb += value.eq(rewire(self, self._inner) if rewire else outer)
            else:
                rewire = self._outputs.get(path)
                m.d.comb += outer.eq(rewire(self, self._inner) if rewire else value)
        return m


def forward_lane0(bridge, lanes):
    """A bridge that forwards lane 0 without comparing: every other lane's request inputs
    are lane 0's, so the bridge sees agreement whatever the lanes present."""
    inputs = {}
    for i in range(1, lanes):
        for name in ("awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
                     "araddr", "arprot", "arvalid", "rready"):
            inputs[(f"lane{i}_bus", name)] = (
                lambda outer, inner, name=name: getattr(outer.lane0_bus, name))
    return Rewired(bridge, inputs=inputs)


def blind_bit(comparator, bit=0):
    """A comparator that ignores one bit: lane 0's bit ``bit`` is replaced by lane 1's."""
    def lane0(outer, inner):
        value = outer.lane0
        if len(value) == 1:
            return outer.lane1
        parts = []
        if bit:
            parts.append(value[:bit])
        parts.append(outer.lane1[bit])
        if bit + 1 < len(value):
            parts.append(value[bit + 1:])
        return Cat(*parts)
    return Rewired(comparator, inputs={("lane0",): lane0})


def blind_addr_bit(bridge, bit=0):
    """A bridge whose comparison ignores bit ``bit`` of lane 0's write address: the
    bridge's lane 0 sees lane 1's bit there (lane 0's other bits are its own)."""
    def awaddr(outer, inner):
        value = outer.lane0_bus.awaddr
        return Cat(*(outer.lane1_bus.awaddr[k] if k == bit else value[k]
                     for k in range(len(value))))
    return Rewired(bridge, inputs={("lane0_bus", "awaddr"): awaddr})


def blind_mask_bit(bridge, lanes, bit=0):
    """A bridge whose comparison ignores bit ``bit`` of the write data as if it were
    masked, while the registers' compare masks leave it compared: the bridge's own
    comparator (``bridge._compare``, a :class:`~ftvoter.hdl.bridge_compare.BusCompare`) is
    rewired in place so that its ``masks.w_data`` input always has that bit set."""
    bridge._compare = Rewired(bridge._compare, inputs={
        ("masks", "w_data"): lambda outer, inner: outer.masks.w_data | (1 << bit)})
    return bridge


def no_slverr(bridge, lanes):
    """A bridge that hangs instead of answering an error: a B or R response with SLVERR
    is never shown to the lanes (``bvalid``/``rvalid`` held low)."""
    outputs = {}
    for i in range(lanes):
        for kind in ("b", "r"):
            outputs[(f"lane{i}_bus", f"{kind}valid")] = (
                lambda outer, inner, i=i, kind=kind: Mux(
                    getattr(getattr(inner, f"lane{i}_bus"), f"{kind}resp") == AXI4_RESP_SLVERR,
                    0, getattr(getattr(inner, f"lane{i}_bus"), f"{kind}valid")))
    return Rewired(bridge, outputs=outputs)


def hasty_withdraw(bridge):
    """A bridge that withdraws its write address from path 0 after one stalled cycle, long
    before its timeout (the bridge itself still thinks it is presenting it)."""
    def awvalid(outer, inner):
        stalled = Signal(name="mutant_stalled")
        bus = inner.path0_bus
        outer.m.d.sync += stalled.eq(bus.awvalid & ~bus.awready)
        return bus.awvalid & ~stalled
    return Rewired(bridge, outputs={("path0_bus", "awvalid"): awvalid})


def no_final_copy(resync):
    """A live resync that skips the final copy: in the stop (``phase`` 3) the blocks the
    survivors wrote since the last pre-copy round are not copied, as if every lane's
    dirty bitmap (``ram<i>.dirty``) read zero there."""
    lanes = sum(1 for name in resync.signature.members if name.startswith("state"))

    def dirty(i):
        return lambda outer, inner: Mux(inner.phase == 3, 0, getattr(outer, f"ram{i}").dirty)
    return Rewired(resync, inputs={(f"ram{i}", "dirty"): dirty(i) for i in range(lanes)})


def flop_missed(resync, bit=0):
    """A live resync that does not copy one flip-flop: bit ``bit`` of the state it loads
    into the joiner (``state_in``) is lane 0's own (lane 0 is the joiner in the proof)."""
    def state_in(outer, inner):
        value = inner.state_in
        return Cat(*(outer.state0[k] if k == bit else value[k] for k in range(len(value))))
    return Rewired(resync, outputs={("state_in",): state_in})


def ckpt_at_handshake(rollback):
    """A rollback that does not wait for an I/O boundary: its ``accept`` input (a request
    beat accepted at this edge) is tied low, so a checkpoint is taken in the very cycle a
    request is accepted and that request does not invalidate it."""
    return Rewired(rollback, inputs={("accept",): lambda outer, inner: 0})


def no_undo(rollback):
    """A rollback that never writes its undo logs back: every lane's ``ram<i>.we`` low."""
    lanes = sum(1 for name in rollback.signature.members if name.startswith("state"))
    return Rewired(rollback, outputs={(f"ram{i}", "we"): lambda outer, inner: 0
                                      for i in range(lanes)})
