"""RerunLane: a CPU lane that runs its program again and again, for the board demo."""

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import connect, flipped

from ftvoter.hdl.signatures import check_lane
from ftvoter.hdl.units.cpu import IO_BASE

__all__ = ["EXIT_ADDRESS", "RerunLane"]

#: The EXIT register of the lane's memory map (``programs/README.md``): a program's last
#: write.
EXIT_ADDRESS = IO_BASE + 4


class RerunLane(wiring.Component):
    """Restart a lane from reset after each completed write to EXIT.

    A program for the CPU lanes writes its exit code to EXIT (``0x1000_0004``) and then
    spins for ever; on a board the demo should go on, and a fault injected later should
    still meet a program that uses the register hit. So the wrapped lane is reset one
    cycle after the cycle in which its write to EXIT got its response (``bvalid`` and
    ``bready``), and starts again at the reset vector. The lane's RAM keeps its
    contents: ``crt0.S`` zeroes ``.bss`` and sets every register at each start, so a
    program that does not write its initialised ``.data`` runs the same each time, and
    any program restarts in the same cycle in every lane of a lockstep group.

    The lane runs in a clock domain of its own (the ``sync`` clock; reset by ``sync``'s
    reset, a restart, or a reset of this wrapper): a Verilog core sees an Amaranth
    ``ResetInserter`` only through it. So the resynchronisation reset of a
    :class:`~ftvoter.hdl.lockstep.Lockstep` (``lanes_reset``, which resets the wrapper)
    restarts the lane too, one cycle late (it lasts several cycles, and the bridge
    resets lanes only with nothing in flight). The wrapper's own state is two flip-flops.

    Parameters
    ----------
    lane : wiring.Component
        The lane (a :class:`~ftvoter.hdl.units.cpu.CpuLane`, say): the lane contract
        (:class:`~ftvoter.hdl.signatures.LaneSignature`) with a 32-bit bus. Its fault sites,
        if it offers ``site_registers()``, are the wrapper's, named as the lane names them.

    Members
    -------
    bus, irq, self_error
        The lane's.

    Raises
    ------
    TypeError
        If ``lane`` is not a lane, or its bus addresses are not 32 bits wide.
    """

    def __init__(self, lane):
        signature = check_lane(lane)
        if signature.addr_width != 32:
            raise TypeError(f"Lane must have a 32-bit address bus (EXIT is at "
                            f"{EXIT_ADDRESS:#x}), not {signature.addr_width}-bit")
        self._lane = lane
        super().__init__(signature)

    @property
    def lane(self):
        """The wrapped lane."""
        return self._lane

    def site_registers(self):
        """Yield the lane's fault sites (``(name, signal)``), if it has any."""
        if hasattr(self._lane, "site_registers"):
            yield from self._lane.site_registers()

    def attach_saboteurs(self, saboteurs):
        """Give the lane's fault sites their saboteurs (see :meth:`site_registers`)."""
        self._lane.attach_saboteurs(saboteurs)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        # 1 in the cycle after a reset of this wrapper (power-up, resynchronisation).
        fresh = Signal(init=1)
        m.d.sync += fresh.eq(0)
        exiting = Signal()          # EXIT's address beat accepted, its response not yet
        rerun = Signal()            # the response came: restart at the next clock edge
        m.d.sync += rerun.eq(0)
        with m.If(bus.awvalid & bus.awready & (bus.awaddr == EXIT_ADDRESS)):
            m.d.sync += exiting.eq(1)
        with m.If(exiting & bus.bvalid & bus.bready):
            m.d.sync += [exiting.eq(0), rerun.eq(1)]
        m.domains.run = run = ClockDomain("run", local=True)
        reset = ResetSignal(allow_reset_less=True)
        m.d.comb += [run.clk.eq(ClockSignal()), run.rst.eq(reset | fresh | rerun)]
        m.submodules.lane = DomainRenamer("run")(self._lane)
        connect(m, self._lane.bus, flipped(bus))
        m.d.comb += [self._lane.irq.eq(self.irq), self.self_error.eq(self._lane.self_error)]
        return m
