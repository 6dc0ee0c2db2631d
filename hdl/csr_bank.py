"""The register bank: the hardware built from a register description
(:class:`~ftvoter.hdl.csr.RegisterMap`), and its access port."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .csr import Access, RegisterMap

__all__ = ["CSRBank", "CSRAccessSignature"]

class CSRAccessSignature(wiring.Signature):
    """A single-cycle register access port (from the initiator's side).

    In a cycle with ``en``, a read returns ``rdata`` combinationally; a write with
    ``write`` takes effect at the next clock edge, under the byte strobe ``wstrb``.
    ``addr`` is a byte offset within the register map.

    Parameters
    ----------
    addr_width : int
        Width of ``addr`` in bits.

    Raises
    ------
    TypeError
        If ``addr_width`` is not a positive integer.
    """

    def __init__(self, addr_width=8):
        if not isinstance(addr_width, int) or isinstance(addr_width, bool) or addr_width < 1:
            raise TypeError(f"Address width must be a positive integer, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "en":    Out(1),
            "write": Out(1),
            "addr":  Out(addr_width),
            "wdata": Out(32),
            "wstrb": Out(4),
            "rdata": In(32),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return type(other) is type(self) and other.addr_width == self.addr_width

    def __hash__(self):
        return hash((type(self), self.addr_width))

    def __repr__(self):
        return f"CSRAccessSignature({self.addr_width})"


def _port(register, field, suffix=""):
    return f"{register.name.lower()}_{field.name.lower()}{suffix}"


class CSRBank(wiring.Component):
    """The storage and read mux of a :class:`RegisterMap`, with one access port.

    Each field is one access-policy component of :mod:`~ftvoter.hdl.csr_action` (its
    :attr:`Access.action`). For each field, by access policy, the bank has ports named
    ``<register>_<field>`` (lower case):

    - RO: ``In(width)``, the value software reads;
    - RW: ``Out(width)``, the stored value;
    - RW1C: ``Out(width)``, the stored value, and ``<...>_set`` ``In(width)``: bits set by
      hardware. A set and a software clear of the same bit in the same cycle leave it set;
    - RW1S: ``Out(width)``, the stored value, and ``<...>_clear`` ``In(width)``: bits
      cleared by hardware. A software set and a clear of the same bit in the same cycle
      leave it set;
    - WO: ``Out(width)``, the written value, valid with ``<...>_write`` ``Out(1)`` for one
      cycle (reads return 0).

    A register with ``read_strobe`` also has ``<register>_read`` ``Out(1)``, pulsed in
    the cycle of each read. Writes to RO fields and addresses without a register are
    ignored; reads of unmapped addresses return 0.

    Parameters
    ----------
    regmap : RegisterMap

    Members
    -------
    access : In(CSRAccessSignature)
        The access port.

    Raises
    ------
    TypeError
        If ``regmap`` is not a :class:`RegisterMap`.
    """

    _HARDWARE = {Access.RO: {"": In}, Access.RW: {"": Out}, Access.RW1C: {"": Out, "_set": In},
                 Access.RW1S: {"": Out, "_clear": In}, Access.WO: {"": Out, "_write": Out}}

    def __init__(self, regmap):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"Register map must be a RegisterMap, not {regmap!r}")
        self._regmap = regmap
        members = {"access": In(CSRAccessSignature((regmap.size - 1).bit_length()))}
        for register in regmap:
            if register.read_strobe:
                members[f"{register.name.lower()}_read"] = Out(1)
            for field in register.fields:
                for suffix, direction in self._HARDWARE[field.access].items():
                    width = 1 if suffix == "_write" else field.width
                    init = field.reset if suffix == "" and field.access.stored else 0
                    members[_port(register, field, suffix)] = direction(width, init=init)
        super().__init__(members)

    @property
    def regmap(self):
        return self._regmap

    def port(self, register, field, suffix=""):
        """Return the port of a field (``suffix`` ``"_set"``, ``"_clear"`` or ``"_write"``)."""
        register = self._regmap[register]
        return getattr(self, _port(register, register.field(field), suffix))

    def _action(self, m, register, field):
        """Make the policy component of one field and connect it to the field's ports."""
        if field.access.stored:
            action = field.access.action(field.width, init=field.reset)
        else:
            action = field.access.action(field.width)
        m.submodules[_port(register, field)] = action
        port = getattr(self, _port(register, field))
        if field.access is Access.RO:
            m.d.comb += action.r_data.eq(port)
        elif field.access is Access.WO:
            m.d.comb += [port.eq(action.w_data),
                         getattr(self, _port(register, field, "_write")).eq(action.w_stb)]
        else:
            m.d.comb += port.eq(action.data)
        if field.access is Access.RW1C:
            m.d.comb += action.set.eq(getattr(self, _port(register, field, "_set")))
        elif field.access is Access.RW1S:
            m.d.comb += action.clear.eq(getattr(self, _port(register, field, "_clear")))
        return action

    def elaborate(self, platform):
        m = Module()
        access = self.access
        bytemask = Cat(*(bit.replicate(8) for bit in access.wstrb))
        rdata = Const(0, 32)
        for register in self._regmap:
            selected = Signal(name=f"{register.name.lower()}_selected")
            m.d.comb += selected.eq(access.en & (access.addr == register.offset))
            if register.read_strobe:
                m.d.comb += getattr(self, f"{register.name.lower()}_read").eq(
                    selected & ~access.write)
            value = Const(0, 32)
            for field in register.fields:
                action = self._action(m, register, field)
                bits = slice(field.lsb, field.lsb + field.width)
                m.d.comb += [action.port.r_stb.eq(selected & ~access.write),
                             action.port.w_stb.eq(selected & access.write),
                             action.port.w_data.eq(access.wdata[bits]),
                             action.port.w_mask.eq(bytemask[bits])]
                value = value | (action.port.r_data << field.lsb)
            rdata = Mux(selected, value, rdata)
        m.d.comb += access.rdata.eq(rdata)
        return m
