"""The voting bridge's comparison of the lanes' AXI4-Lite requests, channel by channel."""

from amaranth.hdl import Cat, Const, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge_args import _check_addr_width, _check_range
from .compare import _check_lanes, compare_lanes, odd_lane
from .compare_masks import CompareMaskSignature, channel_masks
from .encodings import CHANNELS
from .signatures import AXI4LiteSignature

__all__ = ["ChannelCompare", "RequestSignature", "BusCompare"]


class ChannelCompare(wiring.Component):
    """Compare one channel (a valid bit and a payload) across the online lanes.

    Two online lanes differ when exactly one of them presents a valid beat, or both do
    and their payloads differ; the payload of an idle beat is not compared. The
    comparison is :func:`~ftvoter.hdl.compare.compare_lanes`, the code of
    :class:`~ftvoter.hdl.compare.LockstepComparator` (with every lane online and valid,
    ``differs`` and ``syndrome`` are the comparator's combinational ``mismatch`` and
    difference bits). Purely combinational: every output follows the inputs in the same
    cycle.

    A channel without payload (``width=0``: a ready signal) compares only ``valid``.

    **Mask.** Payload bits set in ``mask`` are not compared (a compare mask): they never
    make two lanes differ and are zero in ``syndrome``; ``valid`` is always compared, and
    ``agreed`` carries the lowest online lane's value on them. Without payload, ``mask``
    (1 bit) excludes ``valid`` itself: the lanes' readies are then not compared at all.

    Parameters
    ----------
    lanes : int
        2 or 3.
    width : int
        Payload width in bits (0 to 64).

    Members
    -------
    online : In(lanes)
        Lanes taking part; the others are ignored.
    valid : In(lanes)
        Each lane's valid bit.
    lane<i> : In(width)
        Each lane's payload (only with ``width`` > 0).
    mask : In(width), or In(1) without payload
        Bits not compared (the payload's, or without payload ``valid``).
    differs : Out(1)
        Two online lanes differ.
    odd : Out(lanes)
        With 3 lanes, the single online lane that differs from the two others while those
        agree; zero with 2 lanes.
    no_majority : Out(1)
        With 3 lanes, all three differ pairwise.
    syndrome : Out(width), valid_syndrome : Out(1)
        Bits not all equal across the online lanes (payloads compared even when idle).
    agreed : Out(width), agreed_valid : Out(1)
        The beat of the lowest online lane (zero if none is online): the agreed beat when
        ``differs`` is low.

    Raises
    ------
    TypeError
        If ``lanes`` is not 2 or 3 or ``width`` is not an integer from 0 to 64.
    """

    def __init__(self, *, lanes, width):
        _check_lanes(lanes)
        _check_range("Payload width", width, 0, 64)
        self._lanes, self._width = lanes, width
        members = {"online": In(lanes), "valid": In(lanes)}
        if width:
            members.update({f"lane{i}": In(width) for i in range(lanes)})
        members["mask"] = In(max(width, 1))
        members.update({
            "differs":        Out(1),
            "odd":            Out(lanes),
            "no_majority":    Out(1),
            "valid_syndrome": Out(1),
            "agreed_valid":   Out(1),
        })
        if width:
            members.update({"syndrome": Out(width), "agreed": Out(width)})
        super().__init__(members)

    @property
    def lanes(self):
        return self._lanes

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        n = self._lanes
        valid = [self.valid[i] for i in range(n)]
        online = [self.online[i] for i in range(n)]
        if self._width:
            payloads = [getattr(self, f"lane{i}") for i in range(n)]
            comparison = compare_lanes(payloads, valid=valid, active=online, mask=self.mask)
            valid_syndrome = comparison.valid_syndrome
            m.d.comb += self.syndrome.eq(comparison.syndrome)
        else:
            comparison = compare_lanes(valid, active=online, mask=self.mask)
            valid_syndrome = comparison.syndrome
        odd, no_majority = odd_lane(comparison, n)
        m.d.comb += [
            self.differs.eq(comparison.differs),
            self.odd.eq(odd),
            self.no_majority.eq(no_majority),
            self.valid_syndrome.eq(valid_syndrome),
        ]
        for i in reversed(range(n)):
            with m.If(online[i]):
                m.d.comb += self.agreed_valid.eq(valid[i])
                if self._width:
                    m.d.comb += self.agreed.eq(payloads[i])
        return m


class RequestSignature(wiring.Signature):
    """What an AXI4-Lite initiator drives: requests (AW, W, AR) and readies (B, R).

    The members of :class:`~ftvoter.hdl.signatures.AXI4LiteSignature` that are outputs
    of the initiator, with the same names and flows: ``In(RequestSignature(...))`` observes
    an initiator.

    Parameters
    ----------
    addr_width : int
        Of ``awaddr`` and ``araddr``.

    Members
    -------
    awaddr, awprot, awvalid, wdata, wstrb, wvalid, bready, araddr, arprot, arvalid, rready
        As in :class:`~ftvoter.hdl.signatures.AXI4LiteSignature` (data width 32).
    """

    def __init__(self, *, addr_width):
        bus = AXI4LiteSignature(addr_width=addr_width, data_width=32)
        self._addr_width = addr_width
        super().__init__({name: member for name, member in bus.members.items()
                          if member.flow == Out})

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return type(other) is type(self) and other.addr_width == self.addr_width

    def __hash__(self):
        return hash((type(self), self.addr_width))

    def __repr__(self):
        return f"RequestSignature(addr_width={self.addr_width})"


class BusCompare(wiring.Component):
    """Compare the lanes' AXI4-Lite requests: AW, W, AR beats and the B, R readies.

    One :class:`ChannelCompare` per channel, in the order of
    :data:`~ftvoter.hdl.registers.CHANNELS`: AW (``awaddr`` and ``awprot`` while
    ``awvalid``), W (``wdata`` and ``wstrb`` while ``wvalid``), AR (``araddr`` and
    ``arprot`` while ``arvalid``), B (``bready``), R (``rready``). Purely combinational.

    **Compare masks** (``masks``). A bit set in a channel's mask (its bit of
    ``masks.channels``, which stands for the whole payload or the ready, or its own bit)
    is not compared: a difference there is never a divergence, never in the syndrome, and
    in TMR never makes a lane odd (masked bits are not voted). The beat forwarded carries
    the lowest online lane's value on a masked bit. ``valid`` of AW, W and AR is always
    compared, so the lanes' transactions stay paired. One exception keeps the register
    window out of a single lane's reach: in a cycle in which any online lane's AW (or AR)
    address lies in the window ``[csr_base, csr_base + 256)``, that channel's address and
    prot are compared in full, so a masked address bit can neither take a request into or
    out of the window nor change the register it reaches.

    Parameters
    ----------
    lanes : int
        2 or 3.
    addr_width : int
        AXI4-Lite address width of the lanes (9 to 32; data width 32).
    csr_base : int or None
        Byte address of the register window (aligned to 256); by default the top 256
        bytes of the address space, as :class:`~ftvoter.hdl.bridge.VotingBridge`'s.

    Members
    -------
    lane<i> : In(RequestSignature(addr_width))
        Each lane's requests.
    online : In(lanes)
        Lanes taking part.
    masks : In(CompareMaskSignature())
        The compare masks (:mod:`~ftvoter.hdl.compare_masks`; all zero: every bit
        compared).
    differs : Out(5)
        Bit ``CHANNELS[name]``: the online lanes differ on that channel.
    odd, no_majority : Out(lanes), Out(1)
        OR over the channels of :class:`ChannelCompare`'s outputs.
    channel : Out(3), bits : Out(32), ctrl : Out(8)
        The syndrome of the first differing channel (in channel order; zero when none
        differs): its number, the differing address (AW, AR) or data (W) bits, and the
        differing control bits (bit 0 valid or ready, bits 1-3 prot or 1-4 wstrb); masked
        bits are never shown.
    aw_valid, aw_addr, aw_prot, w_valid, w_data, w_strb, ar_valid, ar_addr, ar_prot : Out
        The lowest online lane's request beats (the agreed beats when nothing differs).
    w_masked : Out(1)
        Some bit of the W channel is masked: a W beat taken now may carry one lane's bits.

    Raises
    ------
    TypeError
        If ``lanes`` is not 2 or 3, ``addr_width`` is not an integer from 9 to 32 or
        ``csr_base`` is not an integer.
    ValueError
        If ``csr_base`` is not aligned to 256 or lies outside the address space.
    """

    def __init__(self, *, lanes, addr_width, csr_base=None):
        _check_lanes(lanes)
        _check_addr_width(addr_width)
        self._csr_base = _check_csr_base(csr_base, addr_width)
        self._lanes, self._addr_width = lanes, addr_width
        members = {f"lane{i}": In(RequestSignature(addr_width=addr_width))
                   for i in range(lanes)}
        members.update({
            "online":      In(lanes),
            "masks":       In(CompareMaskSignature()),
            "differs":     Out(len(CHANNELS)),
            "odd":         Out(lanes),
            "no_majority": Out(1),
            "channel":     Out(3),
            "bits":        Out(32),
            "ctrl":        Out(8),
            "aw_valid":    Out(1), "aw_addr": Out(addr_width), "aw_prot": Out(3),
            "w_valid":     Out(1), "w_data":  Out(32),         "w_strb":  Out(4),
            "ar_valid":    Out(1), "ar_addr": Out(addr_width), "ar_prot": Out(3),
            "w_masked":    Out(1),
        })
        super().__init__(members)

    @property
    def lanes(self):
        return self._lanes

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def csr_base(self):
        return self._csr_base

    def elaborate(self, platform):
        m = Module()
        n, a = self._lanes, self._addr_width
        lanes = [getattr(self, f"lane{i}") for i in range(n)]
        # name: (valid, payload members, width of the address/data part of the payload)
        layout = {
            "AW": ("awvalid", ("awaddr", "awprot"), a),
            "W":  ("wvalid", ("wdata", "wstrb"), 32),
            "AR": ("arvalid", ("araddr", "arprot"), a),
            "B":  ("bready", (), 0),
            "R":  ("rready", (), 0),
        }
        masks = channel_masks(m, self.masks, lanes, self.online, a, self._csr_base)
        channels = {}
        for name, (valid, payload, _) in layout.items():
            width = sum(len(getattr(lanes[0], member)) for member in payload)
            m.submodules[name.lower()] = channel = ChannelCompare(lanes=n, width=width)
            channels[name] = channel
            m.d.comb += [channel.online.eq(self.online), channel.mask.eq(masks[name]),
                         channel.valid.eq(Cat(*(getattr(lane, valid) for lane in lanes)))]
            for i, lane in enumerate(lanes):
                if payload:
                    m.d.comb += getattr(channel, f"lane{i}").eq(
                        Cat(*(getattr(lane, member) for member in payload)))
            m.d.comb += self.differs[CHANNELS[name]].eq(channel.differs)
        m.d.comb += [
            self.odd.eq(_or([channel.odd for channel in channels.values()])),
            self.no_majority.eq(_or([channel.no_majority for channel in channels.values()])),
            self.w_masked.eq(masks["W"].any()),
        ]
        self._syndrome(m, channels, layout)
        for name, prefix in (("AW", "aw"), ("W", "w"), ("AR", "ar")):
            channel = channels[name]
            first = layout[name][2]
            m.d.comb += [getattr(self, f"{prefix}_valid").eq(channel.agreed_valid),
                         getattr(self, f"{prefix}_{'data' if name == 'W' else 'addr'}").eq(
                             channel.agreed[:first]),
                         getattr(self, f"{prefix}_{'strb' if name == 'W' else 'prot'}").eq(
                             channel.agreed[first:])]
        return m

    def _syndrome(self, m, channels, layout):
        """Select the syndrome of the first differing channel, in channel order."""
        for name in reversed(list(CHANNELS)):
            channel = channels[name]
            bits = layout[name][2]
            if bits:
                payload_bits = channel.syndrome[:bits]
                ctrl = Cat(channel.valid_syndrome, channel.syndrome[bits:])
            else:
                payload_bits = Const(0, 32)
                ctrl = channel.valid_syndrome
            with m.If(channel.differs):
                m.d.comb += [self.channel.eq(CHANNELS[name]), self.bits.eq(payload_bits),
                             self.ctrl.eq(ctrl)]


def _check_csr_base(csr_base, addr_width):
    """Return the register window's base address (by default the top 256 bytes)."""
    if csr_base is None:
        return 2**addr_width - 256
    if not isinstance(csr_base, int) or isinstance(csr_base, bool):
        raise TypeError(f"CSR base must be an integer, not {csr_base!r}")
    if csr_base % 256 or not 0 <= csr_base <= 2**addr_width - 256:
        raise ValueError(f"CSR base must be a multiple of 256 within the "
                         f"{addr_width}-bit address space, not {csr_base:#x}")
    return csr_base


def _or(values):
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result
