"""VerilogCore: a user's Verilog core with an AXI4-Lite or Wishbone initiator, as a lane core."""

import hashlib
import re
from pathlib import Path

from amaranth.hdl import C, ClockSignal, ResetSignal, Signal
from amaranth.lib.wiring import In, Out, connect, flipped

from ..instrument import instrument_verilog
from ..signatures import AXI4LiteSignature
from .netlist_core import NetlistCore
from .wb2axil import WishboneSignature, WishboneToAXI4Lite

__all__ = ["VerilogCore", "BUS_MEMBERS", "EXTRA_MEMBERS"]

#: ``{bus: {member: (direction on the core, width, required)}}``: what ``port_map`` may
#: name. A width of None is the port's own (checked by :class:`VerilogCore`).
BUS_MEMBERS = {
    "axi4lite": {
        "awvalid": ("o", 1, True), "awready": ("i", 1, True), "awaddr": ("o", 32, True),
        "awprot": ("o", 3, False),
        "wvalid": ("o", 1, True), "wready": ("i", 1, True), "wdata": ("o", 32, True),
        "wstrb": ("o", 4, False),
        "bvalid": ("i", 1, True), "bready": ("o", 1, True), "bresp": ("i", 2, False),
        "arvalid": ("o", 1, True), "arready": ("i", 1, True), "araddr": ("o", 32, True),
        "arprot": ("o", 3, False),
        "rvalid": ("i", 1, True), "rready": ("o", 1, True), "rdata": ("i", 32, True),
        "rresp": ("i", 2, False),
    },
    "wishbone": {
        "adr": ("o", None, True), "dat_w": ("o", 32, True), "dat_r": ("i", 32, True),
        "sel": ("o", 4, False), "cyc": ("o", 1, True), "stb": ("o", 1, True),
        "we": ("o", 1, True), "ack": ("i", 1, True), "err": ("i", 1, False),
    },
}
#: Members besides the bus, on either kind: the core's interrupt inputs and its own
#: detector, trap and retired-instruction outputs.
EXTRA_MEMBERS = {"irq": ("i", None, False), "self_error": ("o", 1, False),
                 "trap": ("o", 1, False), "retired": ("o", 1, False)}

#: The members whose width is the port's: ``(member, check, what it must be)``.
_FREE_WIDTHS = [
    ("adr", lambda width: width <= 30 or width == 32,
     "a word address of 1 to 30 bits or a byte address of 32 bits"),
    ("irq", lambda width: width <= 32, "1 to 32 bits wide"),
]
_DIRECTION = {"i": "an input", "o": "an output", "io": "an inout"}


def _bits(width):
    return f"{width} bit{'' if width == 1 else 's'} wide"


def _check_name(what, value):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a port name (a string), not {value!r}")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_$]*$", value):
        raise ValueError(f"{what} must be a Verilog identifier, not {value!r}")


def _default_name(files, top, parameters, defines):
    """``ftv_<top>_<digest>``: two VerilogCores of one top with other sources, parameters
    or defines never share an instrumented module's name."""
    digest = hashlib.sha256(repr((top, sorted(parameters.items()),
                                  sorted(defines.items()))).encode())
    for path in files:
        try:
            digest.update(Path(path).read_bytes())
        except (OSError, TypeError):
            pass                    # instrument_verilog names the bad file
    return f"ftv_{top}_{digest.hexdigest()[:8]}"


class VerilogCore(NetlistCore):
    """A Verilog core with a bus initiator, instrumented, as a lane core.

    The core (``files`` and ``top``) goes through
    :func:`~ftvoter.hdl.instrument.instrument_verilog`: every flip-flop bit of it (its
    memories too, as flip-flops) is a fault site named by its netlist name below the top
    (``picorv32_core.reg_pc``), and the whole state is the state port of
    :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`. ``port_map`` says which port of
    the top is which bus member; every other input of the top is the clock, the reset or
    a constant in ``ties``, and outputs not named are left open. The result is a core for
    :class:`~ftvoter.hdl.units.cpu.CpuLane` (``CpuLane(VerilogCore(...), image=words)``).

    With ``bus="wishbone"`` (classic, single transfers) a
    :class:`~ftvoter.hdl.units.wb2axil.WishboneToAXI4Lite` inside carries each cycle out
    on ``bus``; its few registers are not the core's, so they are neither fault sites nor
    in the state port. ``adr`` is a word address of 1 to 30 bits, or a 32-bit byte address
    (its two low bits are dropped); ``sel`` has 4 bits (byte granularity) or, left out,
    every access is a whole word; ``err``, if given, ends a cycle that got an error
    response.

    Parameters
    ----------
    files : list of str or os.PathLike
        The core's Verilog (``.sv``: SystemVerilog) sources.
    top : str
        The core's top module.
    parameters : dict, optional
        ``{parameter: int or str}`` for the top.
    clock : str
        The clock input (1 bit); every flip-flop must be clocked by it.
    reset : str
        The synchronous reset input (1 bit), driven by the lane's reset.
    reset_active_low : bool
        The reset is asserted low (``resetn``).
    bus : str
        ``"axi4lite"`` or ``"wishbone"``: the kind of the core's initiator.
    port_map : dict
        ``{member: port}``: for each member of :data:`BUS_MEMBERS` ``[bus]`` (all but
        ``awprot``, ``wstrb``, ``bresp``, ``arprot``, ``rresp`` for AXI4-Lite and ``sel``,
        ``err`` for Wishbone are required) and of :data:`EXTRA_MEMBERS`, the top's port.
        AXI4-Lite ports are 32-bit (address, data), ``wstrb`` 4 bits; without ``wstrb``
        every write is a whole word, without ``awprot``/``arprot`` they are 0.
    ties : dict, optional
        ``{port: int}``: constants for the top's other inputs.
    defines : dict, optional
        ``{macro: str, int or None}``, as ``-D`` for every file.
    name : str, optional
        The instrumented module's name (by default ``ftv_<top>_`` and a digest of the
        sources, parameters and defines).

    Members
    -------
    bus : Out(AXI4LiteSignature(addr_width=32, data_width=32))
        The core's initiator (through the Wishbone adapter with ``bus="wishbone"``).
    irq : In(width of the port), self_error, trap, retired : Out(1)
        Only those given in ``port_map``. :class:`~ftvoter.hdl.units.cpu.CpuLane` drives
        ``irq`` with the lane's, reports ``self_error`` as the lane's own detector and
        counts ``retired`` pulses.
    state_out, state_in, state_load
        The state port.

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        The bus kind is unknown; ``port_map`` lacks a required member or names a member
        that does not exist; a port named is not the top's, has the wrong direction or
        width, or is given twice; an input of the top is left unconnected; the flip-flops
        are not clocked by ``clock``; a file does not parse (the message names it and
        carries Yosys' error line, as :func:`~ftvoter.hdl.instrument.instrument_verilog`
        gives it).
    FileNotFoundError
        A source file does not exist.
    """

    def __init__(self, files, top, *, parameters=None, clock="clk", reset="rst",
                 reset_active_low=False, bus="axi4lite", port_map, ties=None, defines=None,
                 name=None):
        if not isinstance(bus, str):
            raise TypeError(f"Bus must be 'axi4lite' or 'wishbone', not {bus!r}")
        if bus not in BUS_MEMBERS:
            raise ValueError(f"Bus must be 'axi4lite' or 'wishbone', not {bus!r}")
        _check_name("Clock", clock)
        _check_name("Reset", reset)
        if not isinstance(reset_active_low, bool):
            raise TypeError(f"Reset active low must be True or False, not "
                            f"{reset_active_low!r}")
        members = {**BUS_MEMBERS[bus], **EXTRA_MEMBERS}
        if not isinstance(port_map, dict):
            raise TypeError(f"Port map must be a dict of bus members to port names, not "
                            f"{port_map!r}")
        for member, port in port_map.items():
            if member not in members:
                raise ValueError(f"Port map names a member that the {bus} bus does not have "
                                 f"(members are {', '.join(members)}): {member!r}")
            _check_name(f"port_map[{member!r}]", port)
        missing = [member for member, (_, _, required) in members.items()
                   if required and member not in port_map]
        if missing:
            raise ValueError(f"Port map lacks required {bus} members: {', '.join(missing)}")
        if ties is None:
            ties = {}
        if not isinstance(ties, dict):
            raise TypeError(f"Ties must be a dict of port names to integers, not {ties!r}")
        for port, value in ties.items():
            _check_name("Tie", port)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError(f"Tie {port} must be a non-negative integer, not {value!r}")
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError(f"Parameters must be a dict, not {parameters!r}")
        if defines is not None and not isinstance(defines, dict):
            raise TypeError(f"Defines must be a dict, not {defines!r}")
        if name is None and isinstance(top, str):
            name = _default_name(files if isinstance(files, (list, tuple)) else [], top,
                                 parameters or {}, defines or {})

        netlist = instrument_verilog(files, top, params=parameters, name=name,
                                     defines=defines)
        widths = self._check_ports(netlist, top, members, port_map, ties, clock, reset)

        self._top, self._bus_kind = top, bus
        self._port_map, self._ties = dict(port_map), dict(ties)
        self._clock, self._reset, self._reset_active_low = clock, reset, reset_active_low
        self._adapter = self._wb = self._byte_adr = None
        if bus == "wishbone":
            adr = widths["adr"]
            granularity = 8 if "sel" in port_map else 32
            features = ("err",) if "err" in port_map else ()
            self._adapter = WishboneToAXI4Lite(addr_width=30 if adr == 32 else adr,
                                               granularity=granularity, features=features)
            self._wb = WishboneSignature(addr_width=30 if adr == 32 else adr,
                                         granularity=granularity,
                                         features=features).create(path=("wb",))
            if adr == 32:
                self._byte_adr = Signal(32, name="wb_byte_adr")
        extras = {member: (In(widths[member]) if member == "irq" else Out(1))
                  for member in EXTRA_MEMBERS if member in port_map}
        super().__init__(netlist, {
            "bus": Out(AXI4LiteSignature(addr_width=32, data_width=32)),
            **extras,
        })

    @staticmethod
    def _check_ports(netlist, top, members, port_map, ties, clock, reset):
        """Check every connection against the top's ports; return ``{member: width}``."""
        ports = netlist.ports
        given = {}                      # port: how it is given (for the messages)

        def use(port, how, direction, width=1):
            if port not in ports:
                raise ValueError(f"Core {top} has no port {port!r} ({how})")
            if port in given:
                raise ValueError(f"Port {port!r} of core {top} is given twice: {given[port]} "
                                 f"and {how}")
            given[port] = how
            actual, actual_width = ports[port]
            if actual != direction:
                raise ValueError(f"Port {port!r} of core {top} is {_DIRECTION[actual]}, but "
                                 f"{how} must be {_DIRECTION[direction]} of the core")
            if width is not None and actual_width != width:
                raise ValueError(f"Port {port!r} of core {top} is {_bits(actual_width)}, "
                                 f"but {how} must be {_bits(width)}")
            return actual_width

        use(clock, "the clock", "i")
        use(reset, "the reset", "i")
        if netlist.clock is not None and netlist.clock != clock:
            raise ValueError(f"The flip-flops of core {top} are clocked by "
                             f"{netlist.clock!r}, not by the clock given, {clock!r}")
        widths = {}
        for member, port in port_map.items():
            direction, width, _ = members[member]
            widths[member] = use(port, f"port_map[{member!r}]", direction, width)
        for member, fits, expected in _FREE_WIDTHS:
            if member in widths and not fits(widths[member]):
                raise ValueError(f"Port {port_map[member]!r} of core {top} is "
                                 f"{_bits(widths[member])}, but port_map[{member!r}] must be "
                                 f"{expected}")
        for port, value in ties.items():
            width = use(port, f"ties[{port!r}]", "i", None)
            if value >= 1 << width:
                raise ValueError(f"Port {port!r} of core {top} is {_bits(width)}; "
                                 f"ties[{port!r}] cannot be {value!r}")
        open_inputs = [port for port, (direction, _) in ports.items()
                       if direction != "o" and port not in given]
        if open_inputs:
            raise ValueError(f"Core {top} has inputs that are not connected (give each in "
                             f"port_map or ties): {', '.join(open_inputs)}")
        return widths

    @property
    def top(self):
        return self._top

    @property
    def bus_kind(self):
        """``"axi4lite"`` or ``"wishbone"``."""
        return self._bus_kind

    @property
    def adapter(self):
        """The :class:`~ftvoter.hdl.units.wb2axil.WishboneToAXI4Lite` inside, or None."""
        return self._adapter

    def ports(self):
        reset = ~ResetSignal() if self._reset_active_low else ResetSignal()
        ports = {self._clock: ClockSignal(), self._reset: reset}
        for port, value in self._ties.items():
            ports[port] = C(value, self.netlist.ports[port][1])
        bus = self.bus if self._wb is None else self._wb
        for member, port in self._port_map.items():
            if member in EXTRA_MEMBERS:
                ports[port] = getattr(self, member)
            elif member == "adr" and self._byte_adr is not None:
                ports[port] = self._byte_adr
            else:
                ports[port] = getattr(bus, member)
        return ports

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self._bus_kind == "axi4lite":
            if "wstrb" not in self._port_map:
                m.d.comb += self.bus.wstrb.eq(0b1111)
            return m
        m.submodules.adapter = adapter = self._adapter
        connect(m, self._wb, adapter.wb)
        connect(m, adapter.bus, flipped(self.bus))
        if self._byte_adr is not None:
            m.d.comb += self._wb.adr.eq(self._byte_adr[2:])
        if "sel" not in self._port_map:
            m.d.comb += self._wb.sel.eq(1)
        return m
