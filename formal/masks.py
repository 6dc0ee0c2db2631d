"""Compare masks do not weaken containment of the unmasked bits.

The bridge of :mod:`containment` (lane 0 free in every output, the good lanes one legal
stream), but its registers' compare masks (:mod:`ftvoter.hdl.compare_masks`) are free:
``AnySeq``, a new value every cycle, every bit (per channel, per address, data, strobe
and prot bit), as if the management port rewrote them at will. The property is that of
:mod:`containment`, on the unmasked bits: every AW, W and AR beat presented on the path
is the good lanes' last beat taken by the bridge, still owed and not for the register
window, on every bit not masked in the cycle the bridge took it; a beat taken by the path
is never presented again; an OKAY for a request outside the window comes only after the
path took all its beats. (Bits masked when the beat was taken carry the first online
lane's value, which may be lane 0's: that is what a mask means.)

:class:`FreeMaskRegisters` and :class:`FreeMaskBridge` serve :mod:`registers` too.
Mutant ``blind_data_bit``: the bridge's comparison ignores bit 0 of the write data while
the registers' masks leave it compared (a wiring fault between the mask registers and the
comparator); the proof must reject it.
"""

from amaranth.hdl import Cat, Cover
from common import AnySeq, hs
from containment import ADDR_WIDTH, TIMEOUT, Containment
from mutants import blind_mask_bit

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.encodings import CHANNELS
from ftvoter.hdl.registers import MASK_REGISTERS, ErrorRegisters

__all__ = ["FreeMaskRegisters", "FreeMaskBridge", "channel_mask", "MaskedContainment",
           "DESIGNS"]


class FreeMaskRegisters(ErrorRegisters):
    """ErrorRegisters whose ``masks`` output is free (``AnySeq``, every cycle) instead of
    the stored mask registers; everything else, STATUS.MASKED and the refusal of a write
    taken under a W mask included, is the real registers' and sees the free masks.

    ``unrefused=True`` is a mutant: the lanes' writes are no longer refused for
    ``w_masked`` (a W beat taken under a W mask goes into the registers).
    """

    def __init__(self, *, unrefused=False, **kw):
        super().__init__(**kw)
        self._unrefused = unrefused

    def elaborate(self, platform):
        m = super().elaborate(platform)
        for name in self.masks.signature.members:
            port = getattr(self.masks, name)
            m.d.comb += port.eq(AnySeq(len(port)))      # the last assignment wins
        return m

    def _access(self, m, bank):
        rejected, unlocked = super()._access(m, bank)
        if self._unrefused:
            lanes, port = self.lanes, bank.port
            offset = {name: self._bank.regmap[name].offset for name in
                      ("CONTROL", "UNLOCK", "LANE_CMD", *MASK_REGISTERS)}
            locked = port("CONTROL", "LOCK") & Cat(*(lanes.addr == offset[name] for name in
                                                     ("CONTROL", "UNLOCK", "LANE_CMD"))).any()
            to_mask = Cat(*(lanes.addr == offset[name] for name in MASK_REGISTERS)).any()
            with m.If(lanes.en & ~locked & ~to_mask):
                m.d.comb += rejected.eq(0)              # the last assignment wins
        return rejected, unlocked


class FreeMaskBridge(VotingBridge):
    """The voting bridge with :class:`FreeMaskRegisters` (``unrefused`` passed on)."""

    def __init__(self, *, unrefused=False, **kw):
        super().__init__(**kw)
        self._regs = FreeMaskRegisters(unrefused=unrefused, lanes=self.lanes,
                                       paths=self.paths, policy=self.policy,
                                       timeout=self.timeout)


def free_mask_bridge(lanes, **kw):
    """:class:`FreeMaskBridge` as the proofs see it (the widths of :mod:`containment`)."""
    return FreeMaskBridge(lanes=lanes, paths=1, timeout=TIMEOUT, addr_width=ADDR_WIDTH, **kw)


def channel_mask(masks, ch, addr_width=ADDR_WIDTH):
    """The bits of channel ``ch`` ("aw", "w", "ar") that ``masks`` (a
    :class:`~ftvoter.hdl.compare_masks.CompareMaskSignature` port) masks, as the beat is
    concatenated (address then prot, data then strobes), the channel bit over all."""
    first, second = {"aw": ("aw_addr", "aw_prot"), "w": ("w_data", "w_strb"),
                     "ar": ("ar_addr", "ar_prot")}[ch]
    bits = Cat(getattr(masks, first)[:32 if ch == "w" else addr_width],
               getattr(masks, second))
    return bits | masks.channels[CHANNELS[ch.upper()]].replicate(len(bits))


class MaskedContainment(Containment):
    """Containment of the unmasked bits, the masks free. Mutant ``blind_data_bit``."""

    mutants = {"blind_data_bit": blind_mask_bit}

    def bridge(self):
        return free_mask_bridge(self.lanes)

    def mask(self, real, ch):
        return channel_mask(real.registers.masks, ch)

    def covers(self, m, dut, path, beats, csr, diverged):
        # A W beat whose masked bits are lane 0's reaches the path, with no divergence
        # seen; and, after a divergence on unmasked bits, a good write and read still do.
        good = beats["w"]
        m.d.comb += [
            Cover(hs(path, "w") & (Cat(path.wdata, path.wstrb) != good) & ~diverged),
            Cover(diverged & hs(path, "w") & ~csr["aw"] &
                  (Cat(path.wdata, path.wstrb) != good)),
            Cover(diverged & hs(path, "ar")),
        ]


#: Design name -> harness factory.
DESIGNS = {
    "dmr": lambda: MaskedContainment(2),
    "tmr": lambda: MaskedContainment(3),
    "dmr_blind_data_bit": lambda: MaskedContainment(2, mutant="blind_data_bit"),
    "tmr_blind_data_bit": lambda: MaskedContainment(3, mutant="blind_data_bit"),
}

