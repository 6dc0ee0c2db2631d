"""SentinelCore: the Sentinel RV32I core (``sentinel-cpu``) on an AXI4-Lite bus."""

from amaranth.hdl import ClockSignal, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from ..instrument import instrument_amaranth
from ..signatures import AXI4LiteSignature
from .netlist_core import NetlistCore
from .wb2axil import WishboneToAXI4Lite

__all__ = ["SentinelCore", "InstrumentedSentinel"]


def _top():
    try:
        from sentinel_cpu.top import Top
    except ImportError:
        raise ImportError("SentinelCore needs the Python package sentinel-cpu "
                          "(pip install sentinel-cpu)") from None
    return Top


class SentinelCore(wiring.Component):
    """William D. Jones's Sentinel, a microcoded RV32I core written in Amaranth, as a CPU
    lane's core: ``CpuLane(SentinelCore(), ram_bytes=16384, image=words)``.

    Sentinel's bus is Wishbone B4 classic, single transfers: a 30-bit word address
    ``adr``, 32-bit ``dat_w``/``dat_r``, 4-bit byte ``sel``, ``cyc``, ``stb``, ``we`` and
    ``ack``, no ``err``. A :class:`~ftvoter.hdl.units.wb2axil.WishboneToAXI4Lite` turns
    each cycle into one AXI4-Lite transfer at byte address ``adr << 2``; byte and
    halfword stores keep their ``sel`` as ``wstrb``, and every read is a whole word from
    which the core takes its bytes. An AXI4-Lite error response cannot reach the core
    (its bus has no ``ERR_I``): the access ends as if it were OKAY, and a read returns
    whatever ``rdata`` holds.

    Sentinel starts executing at address 0 in the first cycle after reset (its microcode
    reset routine loads the PC with 0; there is no reset-address parameter), the lane's
    reset vector. It traps misaligned loads, stores and jumps, ECALL and EBREAK to
    ``mtvec``; the lane programs make none of them. The general registers and ``mtvec``,
    ``mscratch`` and ``mepc`` live in one RAM, initially 0, that a reset does not clear
    (``crt0.S`` sets every general register itself; the reset microcode zeroes x0 and
    ``mcause``; ``mstatus``, ``mie``, ``mip`` and the PC are flip-flops).

    Members
    -------
    bus : Out(AXI4LiteSignature(addr_width=32, data_width=32))
        Instruction fetches, loads and stores, one transfer at a time.
    irq : In(1)
        Sentinel's interrupt line: a level-triggered machine external interrupt (``MEIP``),
        taken when ``mstatus.MIE`` and ``mie.MEIE`` are set. Sampled in the core's clock
        domain, so synchronise an asynchronous source first.
    retired : Out(1)
        Asserted for one cycle when an instruction fetch is acknowledged, except the first
        after reset: the instruction before it has then finished (the commit point of
        Sentinel's own RVFI harness, ``sentinel_cpu.formal``). A trapping instruction counts
        too, as RVFI reports it (with ``trap``). With this adapter the pulse comes in the
        cycle the fetch's read response arrives.

    Raises
    ------
    ImportError
        If ``sentinel-cpu`` is not installed.
    """

    bus: Out(AXI4LiteSignature(addr_width=32, data_width=32))
    irq: In(1)
    retired: Out(1)

    def __init__(self):
        self._cpu = _top()()
        self._adapter = WishboneToAXI4Lite(addr_width=30, granularity=8)
        super().__init__()

    @property
    def cpu(self):
        """The ``sentinel_cpu.top.Top`` inside."""
        return self._cpu

    @property
    def adapter(self):
        """The :class:`~ftvoter.hdl.units.wb2axil.WishboneToAXI4Lite` inside."""
        return self._adapter

    def elaborate(self, platform):
        m = Module()
        m.submodules.cpu = cpu = self._cpu
        m.submodules.adapter = adapter = self._adapter
        connect(m, cpu.bus, adapter.wb)
        connect(m, adapter.bus, flipped(self.bus))
        m.d.comb += cpu.irq.eq(self.irq)

        first = Signal(init=1)        # the first fetch after reset retires nothing
        fetched = Signal()
        m.d.comb += fetched.eq(cpu.control.mem.insn_fetch & cpu.bus.ack)
        with m.If(fetched):
            m.d.sync += first.eq(0)
        m.d.comb += self.retired.eq(fetched & ~first)
        return m


#: Sentinel's register file words, as sites (``cpu.datapath.regfile.mem[5]``).
REGFILE_SITES = "cpu.datapath.regfile.mem*"


class InstrumentedSentinel(NetlistCore):
    """:class:`SentinelCore` through :func:`~ftvoter.hdl.instrument.instrument_amaranth`:
    every flip-flop (Sentinel's register-file RAM included, as flip-flops) is a fault
    site named below the core (``cpu.…``), and the state can be read and loaded.

    Parameters
    ----------
    parity : bool
        Protect the register file (the x registers and the machine CSRs it holds) with a
        parity bit per word (sites ``cpu.datapath.regfile.mem[k].parity``): an upset of
        a word's bit raises ``self_error`` in the next cycle.

    Members
    -------
    bus : Out(AXI4LiteSignature(32, 32)), irq : In(1), retired : Out(1)
        As :class:`SentinelCore`'s.
    self_error : Out(1), with ``parity`` only
        A register file parity error.
    state_out, state_in, state_load
        The state port (:class:`~ftvoter.hdl.units.netlist_core.NetlistCore`).
    """

    def __init__(self, *, parity=False):
        if not isinstance(parity, bool):
            raise TypeError(f"Parity must be True or False, not {parity!r}")
        self._parity = parity
        core = SentinelCore()
        netlist = instrument_amaranth(
            core, name="ftvoter_sentinel_parity" if parity else "ftvoter_sentinel",
            parity=[REGFILE_SITES] if parity else None)
        members = {"bus":     Out(AXI4LiteSignature(addr_width=32, data_width=32)),
                   "irq":     In(1),
                   "retired": Out(1)}
        if parity:
            members["self_error"] = Out(1)
        super().__init__(netlist, members)

    def ports(self):
        ports = {"clk": ClockSignal(), "rst": ResetSignal(), "irq": self.irq,
                 "retired": self.retired}
        for name in self.bus.signature.members:
            ports[f"bus__{name}"] = getattr(self.bus, name)
        if self._parity:
            ports["ftv_parity_error"] = self.self_error
        return ports
