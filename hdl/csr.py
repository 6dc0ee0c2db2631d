"""Registers described once as data: hardware bank, Markdown, C header and JSON from it."""

import enum as py_enum
import json

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Access", "Field", "Register", "RegisterMap", "CSRBank", "CSRAccessSignature"]


class Access(py_enum.Enum):
    """Access policy of a register field, as software sees it."""
    RO   = "RO"     #: read-only; the value comes from the hardware
    RW   = "RW"     #: read-write; hardware reads the stored value
    RW1C = "RW1C"   #: sticky: hardware sets bits, software writes 1 to clear them
    WO   = "WO"     #: write-only; the hardware gets the value and a one-cycle strobe


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
        Value after reset (RW and RW1C fields; RO fields show the hardware's value).
    enum : dict of str to int, optional
        Names of encoded values, documented and emitted in the C header and JSON.
    doc : str
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
    """

    def __init__(self, name, offset, fields, *, doc="", read_strobe=False):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Register name must be an identifier, not {name!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise TypeError(f"Register offset must be a non-negative integer, "
                            f"not {offset!r}")
        fields = list(fields)
        used = 0
        names = set()
        for field in fields:
            if not isinstance(field, Field):
                raise TypeError(f"Register fields must be Field objects, not {field!r}")
            if field.mask & used:
                raise ValueError(f"Register {name} field {field.name} overlaps another "
                                 f"field")
            if field.name in names:
                raise ValueError(f"Register {name} has two fields named {field.name}")
            used |= field.mask
            names.add(field.name)
        self.name, self.offset, self.fields, self.doc = name, offset, fields, doc
        self.read_strobe = read_strobe

    @property
    def reset(self):
        return sum(f.reset << f.lsb for f in self.fields if f.access in (Access.RW,
                                                                         Access.RW1C))

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

    ``source`` (the file holding the description) and ``command`` (the one that writes
    the documents) are named in the generated Markdown and C header.

    Raises
    ------
    ValueError
        If an offset is not a multiple of 4, two registers share an offset or a name, or
        a register lies outside ``size`` bytes.
    """

    def __init__(self, name, registers, *, size=256, doc="", source="hdl/registers.py",
                 command="ftvoter regs"):
        self.name, self.size, self.doc = name, size, doc
        self.source, self.command = source, command
        self.registers = []
        offsets, names = {}, set()
        for register in registers:
            if register.offset % 4:
                raise ValueError(f"Register {register.name} offset must be a multiple of "
                                 f"4, not {register.offset:#x}")
            if register.offset in offsets:
                raise ValueError(f"Register {register.name} overlaps "
                                 f"{offsets[register.offset]} at {register.offset:#x}")
            if register.name in names:
                raise ValueError(f"Register name {register.name} is used twice")
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
        return json.dumps({"name": self.name, "size": self.size, "doc": self.doc,
                           "registers": [r.as_dict() for r in self.registers]}, indent=2)

    def as_c_header(self):
        guard = f"{self.name.upper()}_H"
        lines = [f"/* {self.name}: generated by `{self.command} --format c`; do not edit. */",
                 f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", ""]
        prefix = self.name.upper()
        for register in self.registers:
            base = f"{prefix}_{register.name}"
            lines.append(f"/* {register.doc} */")
            lines.append(f"#define {base}_OFFSET 0x{register.offset:02x}u")
            lines.append(f"#define {base}_RESET 0x{register.reset:08x}u")
            for field in register.fields:
                name = f"{base}_{field.name}"
                lines.append(f"#define {name}_LSB {field.lsb}u")
                lines.append(f"#define {name}_WIDTH {field.width}u")
                lines.append(f"#define {name}_MASK 0x{field.mask:08x}u")
                for key, value in field.enum.items():
                    lines.append(f"#define {name}_{key} {value}u")
            lines.append("")
        lines.append(f"#endif /* {guard} */")
        return "\n".join(lines) + "\n"

    def as_markdown(self):
        lines = [f"# {self.name} register map", "",
                 f"Generated by `{self.command} --format md` from the description in "
                 f"`{self.source}`; do not edit by hand.", "", self.doc, "",
                 "Access: RO read-only (the hardware's value; reset shown as —); "
                 "RW read-write; RW1C sticky, "
                 "set by hardware, cleared by writing 1 (a hardware set in the same cycle "
                 "wins, so no event is lost); WO write-only (reads as 0).", "",
                 "| offset | register | access | reset | description |",
                 "|---|---|---|---|---|"]
        for register in self.registers:
            reset = ("—" if register.access in ("RO", "WO")
                     else f"0x{register.reset:08x}")
            lines.append(f"| 0x{register.offset:02x} | [{register.name}]"
                         f"(#{register.name.lower()}) | {register.access} | {reset} | "
                         f"{register.doc} |")
        for register in self.registers:
            lines += ["", f"## {register.name}", "",
                      f"Offset 0x{register.offset:02x}. {register.doc}", "",
                      "| bits | field | access | reset | description |",
                      "|---|---|---|---|---|"]
            for field in sorted(register.fields, key=lambda f: -f.lsb):
                msb = field.lsb + field.width - 1
                bits = f"{msb}:{field.lsb}" if field.width > 1 else f"{field.lsb}"
                doc = field.doc
                if field.enum:
                    doc += " Values: " + ", ".join(f"{value} = {key}"
                                                   for key, value in field.enum.items()) + "."
                reset = "—" if field.access in (Access.RO, Access.WO) else field.reset
                lines.append(f"| {bits} | {field.name} | {field.access.value} | "
                             f"{reset} | {doc.strip()} |")
        return "\n".join(lines) + "\n"


class CSRAccessSignature(wiring.Signature):
    """A single-cycle register access port (from the initiator's side).

    In a cycle with ``en``, a read returns ``rdata`` combinationally; a write with
    ``write`` takes effect at the next clock edge, under the byte strobe ``wstrb``.
    ``addr`` is a byte offset within the register map.
    """

    def __init__(self, addr_width=8):
        super().__init__({
            "en":    Out(1),
            "write": Out(1),
            "addr":  Out(addr_width),
            "wdata": Out(32),
            "wstrb": Out(4),
            "rdata": In(32),
        })


def _port(register, field, suffix=""):
    return f"{register.name.lower()}_{field.name.lower()}{suffix}"


class CSRBank(wiring.Component):
    """The storage and read mux of a :class:`RegisterMap`, with one access port.

    For each field, by access policy, the bank has ports named
    ``<register>_<field>`` (lower case):

    - RO: ``In(width)``, the value software reads;
    - RW: ``Out(width)``, the stored value;
    - RW1C: ``Out(width)``, the stored value, and ``<...>_set`` ``In(width)``: bits set by
      hardware. A set and a software clear of the same bit in the same cycle leave it set;
    - WO: ``Out(width)``, the written value, valid with ``<...>_write`` ``Out(1)`` for one
      cycle (reads return 0).

    A register with ``read_strobe`` also has ``<register>_read`` ``Out(1)``, pulsed in
    the cycle of each read. Writes to RO fields and addresses without a register are
    ignored; reads of unmapped addresses return 0.

    Members
    -------
    access : In(CSRAccessSignature)
        The access port.
    """

    def __init__(self, regmap):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"Register map must be a RegisterMap, not {regmap!r}")
        self._regmap = regmap
        members = {"access": In(CSRAccessSignature((regmap.size - 1).bit_length()))}
        for register in regmap:
            if register.read_strobe:
                members[f"{register.name.lower()}_read"] = Out(1)
            for field in register.fields:
                if field.access is Access.RO:
                    members[_port(register, field)] = In(field.width)
                elif field.access is Access.RW:
                    members[_port(register, field)] = Out(field.width, init=field.reset)
                elif field.access is Access.RW1C:
                    members[_port(register, field)] = Out(field.width, init=field.reset)
                    members[_port(register, field, "_set")] = In(field.width)
                else:
                    members[_port(register, field)] = Out(field.width)
                    members[_port(register, field, "_write")] = Out(1)
        super().__init__(members)

    @property
    def regmap(self):
        return self._regmap

    def port(self, register, field, suffix=""):
        """Return the port of a field (``suffix`` ``"_set"`` or ``"_write"``)."""
        register = self._regmap[register]
        return getattr(self, _port(register, register.field(field), suffix))

    def elaborate(self, platform):
        m = Module()
        access = self.access
        bytemask = Cat(*(bit.replicate(8) for bit in access.wstrb))
        rdata = Const(0, 32)
        for register in self._regmap:
            selected = Signal(name=f"{register.name.lower()}_selected")
            m.d.comb += selected.eq(access.en & (access.addr == register.offset))
            write = selected & access.write
            if register.read_strobe:
                m.d.comb += getattr(self, f"{register.name.lower()}_read").eq(
                    selected & ~access.write)
            value = Const(0, 32)
            for field in register.fields:
                port = getattr(self, _port(register, field))
                data = access.wdata[field.lsb:field.lsb + field.width]
                mask = bytemask[field.lsb:field.lsb + field.width]
                if field.access is Access.RW:
                    with m.If(write):
                        m.d.sync += port.eq((port & ~mask) | (data & mask))
                elif field.access is Access.RW1C:
                    hw_set = getattr(self, _port(register, field, "_set"))
                    cleared = Mux(write, port & ~(data & mask), port)
                    m.d.sync += port.eq(cleared | hw_set)
                elif field.access is Access.WO:
                    strobe = getattr(self, _port(register, field, "_write"))
                    m.d.comb += strobe.eq(write & mask.any())
                    m.d.comb += port.eq(data)
                    continue
                value = value | (port << field.lsb)
            rdata = Mux(selected, value, rdata)
        m.d.comb += access.rdata.eq(rdata)
        return m
