"""Registers described once as data: hardware bank, Markdown, C header, JSON, SystemRDL and
IP-XACT from it."""

import enum as py_enum

from . import csr_action, regs_export

# CSRBank and CSRAccessSignature (hdl/csr_bank.py) are reachable from here too.
__all__ = ["Access", "Field", "Register", "RegisterMap"]


def _bits(mask):
    """Name the bits of a contiguous ``mask``: ``"7:4"``, or ``"3"`` for one bit."""
    lsb = (mask & -mask).bit_length() - 1
    msb = mask.bit_length() - 1
    return f"{msb}:{lsb}" if msb > lsb else f"{lsb}"


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

    def encode(self, register, /, **fields):
        """Return the value of the register named ``register`` made of ``fields`` (integers,
        or names of the field's enum; fields not named are 0). Raises ``ValueError`` naming an
        unknown field or a value that does not fit."""
        register, value = self[register], 0
        for name, item in fields.items():
            field = next((f for f in register.fields if f.name == name), None)
            if field is None:
                raise ValueError(f"Register {register.name} has no field {name!r}")
            item = field.enum.get(item, item) if isinstance(item, str) else item
            if not isinstance(item, int) or not 0 <= item < 2**field.width:
                names = f" or one of {', '.join(field.enum)}" if field.enum else ""
                raise ValueError(f"Register {register.name} field {name} must be a "
                                 f"{field.width}-bit integer{names}, not {item!r}")
            value |= item << field.lsb
        return value

    def decode(self, register, value):
        """Return the fields of ``value`` read from the register named ``register``, by field
        name: integers, or their names in the field's enum where it has one."""
        if not isinstance(value, int) or not 0 <= value < 2**32:
            raise ValueError(f"Register value must be a 32-bit integer, not {value!r}")
        return {f.name: next((k for k, v in f.enum.items() if v << f.lsb == value & f.mask),
                             (value & f.mask) >> f.lsb) for f in self[register].fields}

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


def __getattr__(name):
    # The register bank (hardware) lives in csr_bank, which imports this module's
    # description classes; it is reachable from here as it always was.
    if name in ("CSRBank", "CSRAccessSignature"):
        from . import csr_bank
        return getattr(csr_bank, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
