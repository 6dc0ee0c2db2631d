"""PicoRV32Core: PicoRV32's AXI4-Lite core (``picorv32_axi``), instrumented, as a lane core."""

from pathlib import Path

from amaranth.hdl import C, ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from ..instrument import NETLISTS, instrument_verilog
from ..signatures import AXI4LiteSignature
from .netlist_core import NetlistCore

__all__ = ["PicoRV32Core", "PicoRV32Rtl", "PICORV32_PARAMETERS", "picorv32_source"]

#: The configuration ftvoter uses: RV32I (no M, no C), no IRQ, no PCPI, counters on
#: (``count_instr`` is how the core tells its retired instructions), misaligned accesses
#: and illegal instructions trap.
PICORV32_PARAMETERS = {
    "ENABLE_COUNTERS": 1, "ENABLE_COUNTERS64": 0, "ENABLE_REGS_DUALPORT": 1,
    "TWO_STAGE_SHIFT": 1, "BARREL_SHIFTER": 0, "COMPRESSED_ISA": 0, "ENABLE_MUL": 0,
    "ENABLE_DIV": 0, "ENABLE_IRQ": 0, "ENABLE_TRACE": 0, "CATCH_MISALIGN": 1,
    "CATCH_ILLINSN": 1, "ENABLE_PCPI": 0, "PROGADDR_RESET": 0,
}

_AXI = {"awvalid": "o", "awready": "i", "awaddr": "o", "awprot": "o", "wvalid": "o",
        "wready": "i", "wdata": "o", "wstrb": "o", "bvalid": "i", "bready": "o",
        "arvalid": "o", "arready": "i", "araddr": "o", "arprot": "o", "rvalid": "i",
        "rready": "o", "rdata": "i"}


def picorv32_source():
    """Return the path of ``picorv32.v`` from ``pythondata-cpu-picorv32``."""
    try:
        import pythondata_cpu_picorv32
    except ImportError:
        raise ImportError("The picorv32 lane needs pythondata-cpu-picorv32 "
                          "(pip install pythondata-cpu-picorv32)") from None
    return Path(pythondata_cpu_picorv32.data_location) / "picorv32.v"


#: PicoRV32's register file words, as sites (``picorv32_core.cpuregs[10]``).
REGFILE_SITES = "picorv32_core.cpuregs*"


class PicoRV32Core(NetlistCore):
    """PicoRV32 (``picorv32_axi``) through the instrumentation of
    :mod:`ftvoter.hdl.instrument`: every flip-flop (the register file included) is a
    fault site named below the core (``picorv32_core.reg_pc``,
    ``picorv32_core.cpuregs[10]``), and the core's whole flip-flop state can be read and
    loaded (see :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`).

    Parameters
    ----------
    parameters : dict, optional
        PicoRV32 parameters over :data:`PICORV32_PARAMETERS`.
    parity : bool
        Protect the register file with a parity bit per register (sites
        ``picorv32_core.cpuregs[k].parity``): an upset of a register's bit raises
        ``self_error`` in the next cycle, so DMR knows which lane to blame.

    Members
    -------
    bus : Out(AXI4LiteSignature(32, 32))
        ``mem_axi_*`` (``bresp`` and ``rresp`` are ignored: PicoRV32 has none).
    trap : Out(1)
        The core has stopped on an illegal instruction, a misaligned access or EBREAK.
    self_error : Out(1), with ``parity`` only
        A register file parity error (``ftv_parity_error`` of the netlist).
    state_out, state_in, state_load
        The state port.
    """

    def __init__(self, *, parameters=None, parity=False):
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError(f"Parameters must be a dict, not {parameters!r}")
        if not isinstance(parity, bool):
            raise TypeError(f"Parity must be True or False, not {parity!r}")
        params = {**PICORV32_PARAMETERS, **(parameters or {})}
        self._parity = parity
        netlist = instrument_verilog(
            files=[picorv32_source()], top="picorv32_axi", params=params,
            name="ftvoter_picorv32_parity" if parity else "ftvoter_picorv32",
            parity=[REGFILE_SITES] if parity else None)
        members = {"bus":  Out(AXI4LiteSignature(addr_width=32, data_width=32)),
                   "trap": Out(1)}
        if parity:
            members["self_error"] = Out(1)
        super().__init__(netlist, members)

    def ports(self):
        ports = {"clk": ClockSignal(), "resetn": ~ResetSignal(), "trap": self.trap,
                 "pcpi_wr": C(0, 1), "pcpi_rd": C(0, 32), "pcpi_wait": C(0, 1),
                 "pcpi_ready": C(0, 1), "irq": C(0, 32)}
        for name in _AXI:
            ports[f"mem_axi_{name}"] = getattr(self.bus, name)
        if self._parity:
            ports["ftv_parity_error"] = self.self_error
        return ports


class PicoRV32Rtl(wiring.Component):
    """PicoRV32 from its own RTL, not instrumented: no fault sites, no state port.

    The reference the instrumented :class:`PicoRV32Core` is checked against (same console,
    same cycle count with no fault armed) and the speed baseline of the instrumentation.
    ``picorv32.v`` is appended to the exported Verilog (see
    :func:`~ftvoter.hdl.instrument.append_netlists`).

    Parameters and members are :class:`PicoRV32Core`'s, without the state port.
    """

    def __init__(self, *, parameters=None):
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError(f"Parameters must be a dict, not {parameters!r}")
        self._params = {**PICORV32_PARAMETERS, **(parameters or {})}
        NETLISTS.setdefault("picorv32_axi", picorv32_source().read_text())
        super().__init__({
            "bus":  Out(AXI4LiteSignature(addr_width=32, data_width=32)),
            "trap": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ports = {"i_clk": ClockSignal(), "i_resetn": ~ResetSignal(), "o_trap": self.trap,
                 "i_pcpi_wr": C(0, 1), "i_pcpi_rd": C(0, 32), "i_pcpi_wait": C(0, 1),
                 "i_pcpi_ready": C(0, 1), "i_irq": C(0, 32)}
        for name, direction in _AXI.items():
            ports[f"{direction}_mem_axi_{name}"] = getattr(self.bus, name)
        m.submodules.cpu = Instance(
            "picorv32_axi", **{f"p_{key}": value for key, value in self._params.items()},
            **ports)
        return m
