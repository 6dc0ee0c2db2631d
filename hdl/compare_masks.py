"""Compare masks: bits of the lanes' requests the voting bridge does not compare.

A lane output known to differ legitimately between lanes can be excluded from the
comparison by the registers COMPARE_MASK, MASK_AWADDR, MASK_WDATA and MASK_ARADDR
(:data:`~ftvoter.hdl.registers.ERROR_REGISTERS`; reset 0, nothing masked; written only
from the management port after UNLOCK). :class:`~ftvoter.hdl.registers.ErrorRegisters`
drives them on its ``masks`` port (:class:`CompareMaskSignature`);
:class:`~ftvoter.hdl.bridge_compare.BusCompare` applies them (:func:`channel_masks`);
:func:`connect_masks` wires the two inside the voting bridge.

What a masked bit means: a difference there is never a divergence (nor in the syndrome,
nor, in TMR, a vote against a lane); the beat forwarded carries the first online lane's
value on it. Two rules keep the masks from opening the register window to a single lane:
an address channel is compared in full in a cycle in which an online lane addresses the
window, and a write whose W beat was taken while a W bit was masked is refused by the
registers (SLVERR, REJECTED).
"""

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .encodings import CHANNELS

__all__ = ["CompareMaskSignature", "channel_masks", "connect_masks"]


class CompareMaskSignature(wiring.Signature):
    """The compare masks, from the side that drives them (the error registers).

    A set bit excludes that bit of the lanes' requests from the voting bridge's
    comparison. Addresses are 32 bits wide whatever the bridge's address width (the bits
    above it are ignored).

    Members
    -------
    channels : Out(5)
        Bit ``CHANNELS[name]``: the whole payload of AW, W or AR (address and prot, or
        data and strobes; never ``valid``), or ``bready`` (B) or ``rready`` (R).
    aw_addr, aw_prot, w_data, w_strb, ar_addr, ar_prot : Out(32), Out(3), Out(32), Out(4),
    Out(32), Out(3)
        Per bit: the payload bits of each request channel.
    """

    def __init__(self):
        super().__init__({
            "channels": Out(len(CHANNELS)),
            "aw_addr": Out(32), "aw_prot": Out(3),
            "w_data":  Out(32), "w_strb":  Out(4),
            "ar_addr": Out(32), "ar_prot": Out(3),
        })

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        return "CompareMaskSignature()"


def channel_masks(m, masks, lanes, online, addr_width, csr_base):
    """Return each channel's mask, by channel name, as
    :class:`~ftvoter.hdl.bridge_compare.ChannelCompare` takes it (combinational).

    AW, W, AR: the payload's bits (address then prot, data then strobes) set in ``masks``
    or all of them when the channel's bit of ``masks.channels`` is set; none on AW (AR) in
    a cycle in which an ``online`` lane's ``awaddr`` (``araddr``) lies in the register
    window ``[csr_base, csr_base + 256)``. B, R: the ready's bit of ``masks.channels``.
    ``lanes`` are the lanes' request ports (:class:`~ftvoter.hdl.bridge_compare.
    RequestSignature`), ``masks`` a :class:`CompareMaskSignature` port.
    """
    window = csr_base >> 8
    result = {}
    for name, (addr, prot) in (("AW", ("aw_addr", "aw_prot")), ("W", ("w_data", "w_strb")),
                               ("AR", ("ar_addr", "ar_prot"))):
        bits = Cat(getattr(masks, addr)[:addr_width if name != "W" else 32],
                   getattr(masks, prot))
        value = bits | masks.channels[CHANNELS[name]].replicate(len(bits))
        if name != "W":
            member = f"{name.lower()}addr"
            in_window = Cat(*(online[i] & (getattr(lane, member)[8:] == window)
                              for i, lane in enumerate(lanes))).any()
            value = Mux(in_window, 0, value)
        result[name] = Signal(len(bits), name=f"mask_{name.lower()}")
        m.d.comb += result[name].eq(value)
    for name in ("B", "R"):
        result[name] = masks.channels[CHANNELS[name]]
    return result


def connect_masks(m, compare, regs, write):
    """Wire the compare masks inside the voting bridge: ``regs``' masks to ``compare``
    (:class:`~ftvoter.hdl.bridge_compare.BusCompare`), and to ``regs.w_masked`` whether the
    W beat that the write engine ``write`` holds was taken while a W bit was masked (the
    registers refuse such a write: its data may carry one lane's bits)."""
    wiring.connect(m, regs.masks, compare.masks)
    w_masked = Signal(name="w_masked")
    with m.If(write.w_ready):
        m.d.sync += w_masked.eq(compare.w_masked)
    m.d.comb += regs.w_masked.eq(w_masked)
