"""BoardDemo: the lockstep demo as a board top-level (LEDs, a button that injects a fault)."""

from amaranth.build import ResourceError
from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out, connect

from ftvoter.hdl.fault_regs import FaultRegisters
from ftvoter.hdl.inject import FaultModel
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane

from .uart import ManagementPort

__all__ = ["BoardDemo", "DemoCore"]

#: The register the button flips (bit 0 of lane 1's LFSR: the lanes diverge at once).
BUTTON_SITE = "lane1.lfsr.state"
#: The fault sites of the board build: the button's, and every lane's parity-failure flag
#: (stuck at 1, the lane reports itself broken: it is isolated). A saboteur on the
#: register-file parity bits would do the same but lengthen the lane's slowest path
#: (ALU, parity, saboteur) by two logic levels.
SITES = (BUTTON_SITE, "ctrl.parity_fail")


def board_lane():
    # Four registers and four scratch words: the same workload mix, small enough for two
    # lanes, the bridge and the management port on an iCE40UP5K.
    return WorkloadLane(seed=0x5EED, addr_width=16, io_words=64, regs=4, scratch_words=4)


class DemoCore(wiring.Component):
    """The board-independent part: lanes, bridge and registers, RAM, fault button logic and
    the UART management port.

    ``lanes`` 1 is the simplex reference (one lane straight to the RAM, nothing checked);
    2 and 3 put the lanes behind the voting bridge with a fault injector on :data:`SITES`
    and, with ``uart_divisor`` (clock cycles per UART bit), the management port
    (:mod:`ftvoter.boards.uart`) to the error and fault registers.

    Members
    -------
    inject : In(1)
        Flips :data:`BUTTON_SITE` at the clock edge that ends a cycle with ``inject`` set
        (a pulse: each cycle it is set flips the bit again).
    rx : In(1), tx : Out(1)
        The management UART (idle high).
    online : Out(lanes), halted : Out(1)
        Lanes in the vote; the bridge halted.
    activity : Out(1)
        Toggles every 2**19 completed writes: the work goes on.
    """

    def __init__(self, lanes, *, ram_words=64, uart_divisor=None):
        if lanes not in (1, 2, 3) or isinstance(lanes, bool):
            raise TypeError(f"Lane count must be 1, 2 or 3, not {lanes!r}")
        self.lanes = lanes
        self.ram_words = ram_words
        super().__init__({
            "inject":   In(1),
            "rx":       In(1, init=1),
            "tx":       Out(1, init=1),
            "online":   Out(lanes),
            "halted":   Out(1),
            "activity": Out(1),
        })
        self.lockstep = (Lockstep(board_lane, lanes=lanes, faults=list(SITES))
                         if lanes > 1 else None)
        self.management = (ManagementPort(uart_divisor)
                           if uart_divisor is not None and lanes > 1 else None)
        self.fault_regs = (FaultRegisters(self.lockstep.injector)
                           if self.management is not None else None)

    def elaborate(self, platform):
        m = Module()
        memory = AXI4LiteMemory(addr_width=16, data_width=32, depth=self.ram_words)
        m.submodules.memory = memory
        if self.lockstep is None:
            m.submodules.lane = lane = board_lane()
            connect(m, lane.bus, memory.bus)
            m.d.comb += self.online.eq(~lane.self_error)
            bus = lane.bus
        else:
            m.submodules.lockstep = lockstep = self.lockstep
            connect(m, lockstep.path0_bus, memory.bus)
            m.d.comb += [self.online.eq(lockstep.online), self.halted.eq(lockstep.halted)]
            fault = lockstep.fault
            sites = [site.name for site in lockstep.injector.sites]
            if self.management is not None:
                # The UART reaches the error registers and the fault registers; in the
                # cycle of a button press the button's fault takes their place.
                m.submodules.management = management = self.management
                m.submodules.fault_regs = regs = self.fault_regs
                connect(m, management.regs, lockstep.mgmt)
                connect(m, management.faults, regs.bus)
                m.d.comb += [management.rx.eq(self.rx), self.tx.eq(management.tx),
                             regs.fault.cycle.eq(fault.cycle),
                             regs.fault.active.eq(fault.active)]
                for name in ("arm", "site", "mask", "model", "start", "duration", "common"):
                    m.d.comb += getattr(fault, name).eq(getattr(regs.fault, name))
            # A flip armed for one cycle with the start at the current cycle: it happens
            # at this clock edge, also once the injector's counter has stopped at its end.
            with m.If(self.inject):
                m.d.comb += [fault.arm.eq(1), fault.site.eq(sites.index(BUTTON_SITE)),
                             fault.mask.eq(1), fault.model.eq(FaultModel.FLIP),
                             fault.start.eq(fault.cycle), fault.duration.eq(0),
                             fault.common.eq(0)]
            bus = lockstep.path0_bus
        # A slow blink while the bus is busy: the work goes on.
        count = Signal(20)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += count.eq(count + 1)
        m.d.comb += self.activity.eq(count[-1])
        return m


class BoardDemo(Elaboratable):
    """The demo on a board: LEDs show each lane's vote state, a halt and activity; the
    first button injects a fault (flips lane 1's LFSR bit 0: DMR halts, TMR outvotes
    lane 1 and goes on); the UART (``baud``, 8N1) is the management port
    (:mod:`ftvoter.boards.uart`) to the error and fault registers."""

    def __init__(self, lanes, *, ram_words=64, baud=115200):
        self.lanes, self.ram_words, self.baud = lanes, ram_words, baud

    def elaborate(self, platform):
        m = Module()
        divisor = round(platform.default_clk_frequency / self.baud)
        m.submodules.core = core = DemoCore(self.lanes, ram_words=self.ram_words,
                                            uart_divisor=divisor)
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        leds = []
        for index in range(8):
            try:
                leds.append(platform.request("led", index, dir="-"))
            except ResourceError:
                break
        shown = Cat(core.online, core.halted, core.activity)
        for index, port in enumerate(leds[:len(shown)]):
            m.submodules[f"led{index}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(shown[index])
        m.submodules.button = button = io.Buffer("i", platform.request("button", 0, dir="-"))
        # Synchronise and edge-detect the button (bounces only re-inject the same fault).
        sync = Signal(3)
        m.d.sync += sync.eq(Cat(button.i, sync[:-1]))
        m.d.comb += core.inject.eq(sync[-2] & ~sync[-1])
        return m
