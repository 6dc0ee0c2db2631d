"""Registers described once as data: hardware bank, Markdown, C header, JSON, SystemRDL and
IP-XACT from it."""

import enum as py_enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import csr_action, regs_export

__all__ = ["Access", "Field", "Register", "RegisterMap", "CSRBank", "CSRAccessSignature"]


class Access(py_enum.Enum):
    """Access policy of a register field, as software sees it.

    Each policy is implemented by one class of :mod:`ftvoter.hdl.csr_action`
    (:attr:`action`): RO by ``R``, RW by ``RW``, RW1C by ``RW1C``, RW1S by ``RW1S``, WO by
    ``W``.
    """
    RO   = "RO"     #: read-only; the value comes from the hardware
    RW   = "RW"     #: read-write; hardware reads the stored value
    RW1C = "RW1C"   #: sticky: hardware sets bits, software writes 1 to clear them
    RW1S = "RW1S"   #: software writes 1 to set bits, hardware clears them
    WO   = "WO"     #: write-only; the hardware gets the value and a one-cycle strobe

    @property
    def action(self):
        """The :class:`~ftvoter.hdl.csr_action.FieldAction` class of this policy."""
        return {"RO": csr_action.R, "RW": csr_action.RW, "RW1C": csr_action.RW1C,
                "RW1S": csr_action.RW1S, "WO": csr_action.W}[self.value]

    @property
    def stored(self):
        """True for the policies with a stored value, and so a reset value."""
        return self in (Access.RW, Access.RW1C, Access.RW1S)


class Field:
    """One field of a register.

    Parameters
    ----------
    name : str
        Identifier, unique within the register.
    lsb, width : int
        Position and size in the 32-bit register.
    access : Access
    reset : int
        Value after reset (RW, RW1C and RW1S fields; RO fields show the hardware's value,
        WO fields read as 0).
    enum : dict of str to int, optional
        Names of encoded values, documented and emitted in the C header and JSON.
    doc : str

    Raises
    ------
    TypeError
        If the name is not an identifier, ``access`` not an :class:`Access`, or ``lsb`` or
        ``width`` not a non-negative integer.
    ValueError
        If the field does not lie within bits 0..31, or the reset or an enum value does not
        fit in it.
    """

    def __init__(self, name, lsb, width, access, *, reset=0, enum=None, doc=""):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Field name must be an identifier, not {name!r}")
        if not isinstance(access, Access):
            raise TypeError(f"Field access must be an Access, not {access!r}")
        for what, value in (("lsb", lsb), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError(f"Field {what} must be a non-negative integer, not {value!r}")
        if width < 1 or lsb + width > 32:
            raise ValueError(f"Field {name} must lie within bits 0..31, not at "
                             f"{lsb}+{width}")
        if not 0 <= reset < 2**width:
            raise ValueError(f"Field {name} reset must fit in {width} bits, not {reset!r}")
        self.name, self.lsb, self.width, self.access = name, lsb, width, access
        self.reset, self.enum, self.doc = reset, dict(enum or {}), doc
        for key, value in self.enum.items():
            if not 0 <= value < 2**width:
                raise ValueError(f"Field {name} enum value {key} must fit in {width} bits, "
                                 f"not {value!r}")

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb

    def as_dict(self):
        return {"name": self.name, "lsb": self.lsb, "width": self.width,
                "access": self.access.value, "reset": self.reset, "enum": self.enum,
                "doc": self.doc}


class Register:
    """A 32-bit register at a byte offset, made of fields.

    ``read_strobe=True`` gives the hardware a one-cycle pulse on every read (for a FIFO
    that pops on read).

    Raises
    ------
    TypeError
        If the name is not an identifier, the offset not a non-negative integer, or a
        field not a :class:`Field`.
    ValueError
        If two fields overlap or share a name.
    """

    def __init__(self, name, offset, fields, *, doc="", read_strobe=False):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Register name must be an identifier, not {name!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise TypeError(f"Register offset must be a non-negative integer, "
                            f"not {offset!r}")
        fields = list(fields)
        for index, field in enumerate(fields):
            if not isinstance(field, Field):
                raise TypeError(f"Register fields must be Field objects, not {field!r}")
            for other in fields[:index]:
                if field.mask & other.mask:
                    raise ValueError(f"Register {name} field {field.name} overlaps field "
                                     f"{other.name} at bits {_bits(field.mask & other.mask)}")
            if field.name in (other.name for other in fields[:index]):
                raise ValueError(f"Register {name} has two fields named {field.name}")
        self.name, self.offset, self.fields, self.doc = name, offset, fields, doc
        self.read_strobe = read_strobe

    @property
    def reset(self):
        return sum(f.reset << f.lsb for f in self.fields if f.access.stored)

    @property
    def access(self):
        """The register's access: one policy, or "mixed"."""
        kinds = {field.access.value for field in self.fields}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def field(self, name):
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def as_dict(self):
        return {"name": self.name, "offset": self.offset, "access": self.access,
                "reset": self.reset, "doc": self.doc,
                "fields": [field.as_dict() for field in self.fields]}


class RegisterMap:
    """An ordered set of registers with unique names and aligned, disjoint offsets.

    This is the register-map builder: the map is checked as it is made. ``source`` (the
    file holding the description) and ``command`` (the one that writes the documents) are
    named in the generated documents.

    Raises
    ------
    TypeError
        If the name is not an identifier, ``size`` not a positive multiple of 4, or an
        entry not a :class:`Register`.
    ValueError
        If an offset is not a multiple of 4, two registers share an offset or a name, or
        a register lies outside ``size`` bytes.
    """

    def __init__(self, name, registers, *, size=256, doc="", source="hdl/registers.py",
                 command="ftvoter regs"):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Register map name must be an identifier, not {name!r}")
        if (not isinstance(size, int) or isinstance(size, bool) or size < 4 or size % 4):
            raise TypeError(f"Register map size must be a positive multiple of 4, "
                            f"not {size!r}")
        self.name, self.size, self.doc = name, size, doc
        self.source, self.command = source, command
        self.registers = []
        offsets, names = {}, set()
        for register in registers:
            if not isinstance(register, Register):
                raise TypeError(f"Register map entries must be Register objects, "
                                f"not {register!r}")
            if register.offset % 4:
                raise ValueError(f"Register {register.name} offset must be a multiple of "
                                 f"4, not {register.offset:#x}")
            if register.offset in offsets:
                raise ValueError(f"Register {register.name} overlaps "
                                 f"{offsets[register.offset]} at {register.offset:#x}")
            if register.name in names:
                raise ValueError(f"Register map {name} has two registers named "
                                 f"{register.name}")
            if register.offset + 4 > size:
                raise ValueError(f"Register {register.name} must lie within {size} bytes, "
                                 f"not at {register.offset:#x}")
            offsets[register.offset] = register.name
            names.add(register.name)
            self.registers.append(register)

    def __iter__(self):
        return iter(self.registers)

    def __getitem__(self, name):
        for register in self.registers:
            if register.name == name:
                return register
        raise KeyError(name)

    # --- documents ---------------------------------------------------------------------

    def as_json(self):
        """Return the map as JSON text (registers, fields, enums, docs)."""
        return regs_export.as_json(self)

    def as_c_header(self):
        """Return a C header of offsets, resets, field positions, masks and enum values."""
        return regs_export.as_c_header(self)

    def as_markdown(self):
        """Return the Markdown register map (``docs/registers.md``)."""
        return regs_export.as_markdown(self)

    def as_rdl(self):
        """Return the map as SystemRDL 2.0 text: one ``addrmap`` of the registers."""
        return regs_export.as_rdl(self)

    def as_ipxact(self):
        """Return the map as IP-XACT (IEEE 1685-2014) XML: a component with one memory map
        of one address block holding the registers."""
        return regs_export.as_ipxact(self)


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


def _bits(mask):
    """Name the bits of a contiguous ``mask``: ``"7:4"``, or ``"3"`` for one bit."""
    lsb = (mask & -mask).bit_length() - 1
    msb = mask.bit_length() - 1
    return f"{msb}:{lsb}" if msb > lsb else f"{lsb}"


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
