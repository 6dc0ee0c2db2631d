"""CpuLane: a CPU-memory unit, a core with its own RAM, as one lane."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from ..signatures import AXI4LiteSignature, LaneSignature
from .axil_split import AXI4LiteSplit
from .memory import AXI4LiteMemory

__all__ = ["CpuLane", "IO_BASE"]

#: The first address of the I/O path (programs/README.md, the lane's memory map).
IO_BASE = 0x1000_0000


class CpuLane(wiring.Component):
    """A core with its own program and data RAM (the white paper's CPU-memory unit).

    The core's AXI4-Lite initiator goes through an
    :class:`~ftvoter.hdl.units.axil_split.AXI4LiteSplit`: addresses below ``ram_bytes``
    reach the lane's RAM (replicated with the lane, part of its state, loaded with the
    program at configuration); every other address leaves the lane on ``bus``, so in
    lockstep it goes through the voting bridge (the I/O path from ``0x1000_0000``, the
    register window). The memory map is the contract of ``programs/README.md``.

    Parameters
    ----------
    core : wiring.Component
        The core, already constructed: a component with ``bus``, an
        ``Out(AXI4LiteSignature(32, 32))`` initiator, and optionally ``irq`` (``In(n)``)
        and ``self_error`` (``Out(1)``). Its fault sites, if it offers
        ``site_registers()``, are the lane's.
    ram_bytes : int
        Size of the RAM: a power of two from 1 KiB to 256 MiB (below ``0x1000_0000``).
    image : sequence of int
        The RAM's initial contents, little-endian 32-bit words (the program); at most
        ``ram_bytes // 4`` words, the rest is zero.
    copy_domain : str or None
        Give the RAM a memory port in this domain (``ram.copy``, see
        :class:`~ftvoter.hdl.units.memory.AXI4LiteMemory`): for a campaign bench.
    undo : bool
        Give the RAM an undo port (``ram.undo``): for rollback
        (:class:`~ftvoter.hdl.lockstep.Lockstep` ``rollback=True``).
    check : bool
        With ``undo``: check bits in the RAM, so that a rollback repairs an upset word
        from the other lane's copy (:mod:`~ftvoter.hdl.units.memory_check`).

    Members
    -------
    bus : Out(AXI4LiteSignature(32, 32))
    irq : In(irq width of the core, or 1)
    self_error : Out(1)
        The core's ``self_error``, or 0.

    Raises
    ------
    TypeError
        If ``core`` has no 32-bit AXI4-Lite ``bus``, or ``ram_bytes`` or ``image`` are of
        the wrong type or size.
    """

    def __init__(self, core, *, ram_bytes=16384, image=(), copy_domain=None, undo=False,
                 check=False):
        if not isinstance(core, wiring.Component) or "bus" not in core.signature.members:
            raise TypeError(f"Core must be a component with a bus, not {core!r}")
        expected = AXI4LiteSignature(addr_width=32, data_width=32)
        member = core.signature.members["bus"]
        if not member.is_signature or member.flow != wiring.Out or \
                member.signature != expected:
            raise TypeError(f"Core's bus must be Out({expected!r}), not {member!r}")
        if (not isinstance(ram_bytes, int) or isinstance(ram_bytes, bool) or
                ram_bytes & (ram_bytes - 1) or not 1024 <= ram_bytes <= 2**28):
            raise TypeError(f"RAM size must be a power of two from 1024 to 2**28 bytes, "
                            f"not {ram_bytes!r}")
        image = list(image)
        if len(image) > ram_bytes // 4 or not all(
                isinstance(w, int) and not isinstance(w, bool) and 0 <= w < 2**32
                for w in image):
            raise TypeError(f"Image must be at most {ram_bytes // 4} 32-bit words")
        irq_width = (len(core.irq) if "irq" in core.signature.members else 1)
        super().__init__(LaneSignature(addr_width=32, data_width=32, irq_width=irq_width))
        self._core, self._ram_bytes = core, ram_bytes
        self._split = AXI4LiteSplit(boundary=ram_bytes)
        #: A handshake of the core on any channel of its bus (RAM or I/O) in this cycle:
        #: the lane's progress, for the watchdog (:mod:`~ftvoter.hdl.watchdog`).
        self.progress = Signal(name="progress")
        self._ram = AXI4LiteMemory(addr_width=32, depth=ram_bytes // 4, init=image,
                                   copy_domain=copy_domain, undo=undo, check=check)

    @property
    def core(self):
        return self._core

    @property
    def ram_bytes(self):
        return self._ram_bytes

    @property
    def ram(self):
        return self._ram

    def site_registers(self):
        """Yield the core's fault sites (``(name, signal)``), if it has any."""
        if hasattr(self._core, "site_registers"):
            yield from self._core.site_registers()

    def attach_saboteurs(self, saboteurs):
        """Give the core's fault sites their saboteurs (see :meth:`site_registers`)."""
        if not hasattr(self._core, "attach_saboteurs"):
            raise TypeError(f"Core {self._core!r} has no fault sites")
        self._core.attach_saboteurs(saboteurs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.submodules.split = split = self._split
        m.submodules.ram = ram = self._ram
        connect(m, core.bus, split.bus)
        bus = core.bus
        m.d.comb += self.progress.eq((bus.awvalid & bus.awready) | (bus.wvalid & bus.wready) |
                                     (bus.arvalid & bus.arready) | (bus.bvalid & bus.bready) |
                                     (bus.rvalid & bus.rready))
        connect(m, split.low, ram.bus)
        connect(m, split.high, wiring.flipped(self.bus))
        members = core.signature.members
        if "irq" in members:
            m.d.comb += core.irq.eq(self.irq)
        if "self_error" in members:
            m.d.comb += self.self_error.eq(core.self_error)
        if "retired" in members:
            # For observation only (the simulator reads it): instructions retired.
            retired_count = Signal(32, name="retired_count")
            with m.If(core.retired & ~retired_count.all()):
                m.d.sync += retired_count.eq(retired_count + 1)
        return m
