"""BoardDemo: the lockstep demo as a board top-level (LEDs, a button that injects a fault)."""

import re

from amaranth.build import ResourceError
from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out, connect

from ftvoter.hdl.fault_regs import FaultRegisters
from ftvoter.hdl.inject import FaultModel
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.signatures import AXI4_RESP_SLVERR, AXI4LiteSignature

from .lanes import BoardLane
from .uart import ManagementPort

__all__ = ["BoardDemo", "DemoCore"]


class _NoFaultRegisters(wiring.Component):
    """The management port's fault bus in a build without a fault injector (lanes with no
    fault sites): every write is answered SLVERR, every read 0."""

    bus: In(AXI4LiteSignature(addr_width=5, data_width=32))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        take = bus.awvalid & bus.wvalid & ~bus.bvalid
        m.d.comb += [bus.awready.eq(take), bus.wready.eq(take), bus.arready.eq(~bus.rvalid),
                     bus.bresp.eq(AXI4_RESP_SLVERR), bus.rdata.eq(0)]
        with m.If(take):
            m.d.sync += bus.bvalid.eq(1)
        with m.Elif(bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        with m.If(bus.arvalid & ~bus.rvalid):
            m.d.sync += bus.rvalid.eq(1)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        return m


class DemoCore(wiring.Component):
    """The board-independent part: lanes, bridge and registers, path memory, fault button
    logic and the UART management port.

    ``lanes`` 1 is the simplex reference (one lane straight to the path memory, nothing
    checked); 2 and 3 put the lanes behind the voting bridge with a fault injector on the
    lane kind's sites (:attr:`BoardLane.sites <ftvoter.boards.lanes.BoardLane>`, none for
    ``picorv32-rtl``) and, with ``uart_divisor`` (clock cycles per UART bit), the
    management port (:mod:`ftvoter.boards.uart`) to the error and fault registers (without
    an injector, fault register writes are answered SLVERR).

    Parameters
    ----------
    lanes : int
        1, 2 or 3.
    lane : BoardLane, optional
        The lane kind (default: ``BoardLane("workload")``).
    ram_words : int, optional
        Depth of the path memory (default: the lane kind's ``path_words``).
    uart_divisor : int, optional
        With 2 or 3 lanes: build the management port, at this many cycles per bit.
    live_resync : bool
        With 2 or 3 lanes: INSERT is a live resync, and the quick-dump window (DUMP_SELECT,
        DUMP_DATA) reads a frozen lane (``ftvoter console --dump``).
    self_check : bool
        With 2 or 3 lanes: a self-checking bridge
        (:class:`~ftvoter.hdl.bridge_check.SelfCheckingBridge`).

    Members
    -------
    inject : In(1)
        Flips the lane kind's ``button_mask`` bits of ``button_site`` (bit 0 of lane 1's
        LFSR, or of lane 1's a0) at the clock edge that ends a cycle with ``inject`` set (a
        pulse: each cycle it is set flips the bits again).
    rx : In(1), tx : Out(1)
        The management UART (idle high).
    online : Out(lanes), halted : Out(1)
        Lanes in the vote; the bridge halted.
    activity : Out(1)
        Toggles every ``2**(activity_bits - 1)`` completed writes (2**19 for the workload
        lane, 2**12 for CPU lanes): the work goes on.

    Raises
    ------
    TypeError
        If ``lanes`` is not 1, 2 or 3, ``lane`` is not a :class:`BoardLane`, or
        ``ram_words`` is not a positive integer.
    """

    def __init__(self, lanes, *, lane=None, ram_words=None, uart_divisor=None,
                 live_resync=False, self_check=False):
        if lanes not in (1, 2, 3) or isinstance(lanes, bool):
            raise TypeError(f"Lane count must be 1, 2 or 3, not {lanes!r}")
        lane = BoardLane() if lane is None else lane
        if not isinstance(lane, BoardLane):
            raise TypeError(f"Lane must be a BoardLane, not {lane!r}")
        self.lanes, self.lane = lanes, lane
        self.ram_words = lane.path_words if ram_words is None else ram_words
        super().__init__({
            "inject":   In(1),
            "rx":       In(1, init=1),
            "tx":       Out(1, init=1),
            "online":   Out(lanes),
            "halted":   Out(1),
            "activity": Out(1),
        })
        self.memory = lane.path_memory(self.ram_words)
        self.simplex = lane.factory() if lanes == 1 else None
        self.lockstep = (Lockstep(lane.factory, lanes=lanes,
                                  faults=None if lane.sites is None else list(lane.sites),
                                  live_resync=live_resync, self_check=self_check)
                         if lanes > 1 else None)
        self.management = (ManagementPort(uart_divisor)
                           if uart_divisor is not None and lanes > 1 else None)
        injector = self.lockstep.injector if self.lockstep is not None else None
        self.fault_regs = None
        if self.management is not None:
            self.fault_regs = (FaultRegisters(injector) if injector is not None
                               else _NoFaultRegisters())

    @property
    def sites(self):
        """The fault sites' names in index order (the FAULT SITE register's values); empty
        without an injector."""
        if self.lockstep is None or self.lockstep.injector is None:
            return ()
        return tuple(site.name for site in self.lockstep.injector.sites)

    def verilog_sources(self):
        """Return ``{module name: Verilog}`` of the netlists the lanes' cores instantiate
        (:data:`ftvoter.hdl.instrument.NETLISTS`: PicoRV32's RTL, its instrumented
        netlist), for a build to read beside the design; empty for workload lanes."""
        if not self.lane.cpu:
            return {}
        from amaranth.back import rtlil

        from ftvoter.hdl.instrument import NETLISTS
        unit = self.simplex if self.lockstep is None else self.lockstep.units[0]
        # Every lane has the same core: the cells of one, converted alone.
        text = rtlil.convert(unit.lane.core, emit_src=False)
        return {name: NETLISTS[name] for name in sorted(NETLISTS)
                if re.search(rf"^\s*cell \\{re.escape(name)}\s", text, re.MULTILINE)}

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = self.memory
        if self.lockstep is None:
            m.submodules.lane = lane = self.simplex
            connect(m, lane.bus, memory.bus)
            m.d.comb += self.online.eq(~lane.self_error)
            bus = lane.bus
        else:
            m.submodules.lockstep = lockstep = self.lockstep
            connect(m, lockstep.path0_bus, memory.bus)
            m.d.comb += [self.online.eq(lockstep.online), self.halted.eq(lockstep.halted)]
            self._elaborate_faults(m, lockstep)
            bus = lockstep.path0_bus
        # A slow blink while the bus is busy: the work goes on.
        count = Signal(self.lane.activity_bits)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += count.eq(count + 1)
        m.d.comb += self.activity.eq(count[-1])
        return m

    def _elaborate_faults(self, m, lockstep):
        """The management port and the fault button."""
        if self.management is not None:
            m.submodules.management = management = self.management
            m.submodules.fault_regs = regs = self.fault_regs
            connect(m, management.regs, lockstep.mgmt)
            connect(m, management.faults, regs.bus)
            m.d.comb += [management.rx.eq(self.rx), self.tx.eq(management.tx)]
        if lockstep.injector is None:
            return
        fault = lockstep.fault
        if self.management is not None:
            # The UART reaches the error registers and the fault registers; in the cycle
            # of a button press the button's fault takes their place.
            m.d.comb += [regs.fault.cycle.eq(fault.cycle), regs.fault.active.eq(fault.active)]
            for name in ("arm", "site", "mask", "model", "start", "duration", "common"):
                m.d.comb += getattr(fault, name).eq(getattr(regs.fault, name))
        # A flip armed for one cycle with the start at the current cycle: it happens at
        # this clock edge, also once the injector's counter has stopped at its end.
        with m.If(self.inject):
            m.d.comb += [fault.arm.eq(1), fault.site.eq(self.sites.index(self.lane.button_site)),
                         fault.mask.eq(self.lane.button_mask), fault.model.eq(FaultModel.FLIP),
                         fault.start.eq(fault.cycle), fault.duration.eq(0),
                         fault.common.eq(0)]


class BoardDemo(Elaboratable):
    """The demo on a board: LEDs show each lane's vote state, a halt and activity; the
    first button injects a fault into lane 1 (workload lanes: flips its LFSR bit 0, DMR
    halts, TMR outvotes lane 1 and goes on; ``picorv32`` lanes: flips bit 0 of its a0, the
    same once the flipped value reaches the lanes' I/O, and with parity DMR isolates lane
    1 at once); the UART (``baud``, 8N1) is the management port
    (:mod:`ftvoter.boards.uart`) to the error and fault registers.

    Parameters
    ----------
    lanes : int
        1, 2 or 3.
    lane : BoardLane, optional
        The lane kind (default: the workload lane).
    ram_words : int, optional
        Depth of the path memory (default: the lane kind's).
    baud : int
        The management UART's bit rate.
    live_resync, self_check : bool
        Live resync and the quick-dump window; a self-checking bridge (see
        :class:`DemoCore`).
    """

    def __init__(self, lanes, *, lane=None, ram_words=None, baud=115200, live_resync=False,
                 self_check=False):
        self.lanes, self.lane, self.ram_words, self.baud = lanes, lane, ram_words, baud
        self.live_resync, self.self_check = live_resync, self_check
        self.core = None

    def elaborate(self, platform):
        m = Module()
        divisor = round(platform.default_clk_frequency / self.baud)
        m.submodules.core = core = DemoCore(self.lanes, lane=self.lane,
                                            ram_words=self.ram_words, uart_divisor=divisor,
                                            live_resync=self.live_resync,
                                            self_check=self.self_check)
        self.core = core
        for name, text in core.verilog_sources().items():
            platform.add_file(f"{name}.v", text)
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
        if self.lane is not None and self.lane.cpu and self.lanes == 1 and \
                len(leds) < len(shown):
            # A CPU lane has no self_error: only the activity LED would show it at work.
            raise ValueError(f"A simplex CPU build needs {len(shown)} LEDs to show its "
                             f"activity, not {len(leds)}: synthesis would remove the lane; "
                             f"build 2 or 3 lanes")
        for index, port in enumerate(leds[:len(shown)]):
            m.submodules[f"led{index}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(shown[index])
        m.submodules.button = button = io.Buffer("i", platform.request("button", 0, dir="-"))
        # Synchronise and edge-detect the button (bounces only re-inject the same fault).
        sync = Signal(3)
        m.d.sync += sync.eq(Cat(button.i, sync[:-1]))
        m.d.comb += core.inject.eq(sync[-2] & ~sync[-1])
        return m
