"""SystemRDL and IP-XACT written from the one register description, read back by tools that
do not share its code, and compared with the description field by field.

The SystemRDL text is compiled and elaborated by ``systemrdl-compiler``; the compiled tree
is walked. The IP-XACT (IEEE 1685-2014) XML is parsed back with ``xml.etree`` and walked
the same way. It is not validated against the IP-XACT schema: the schema is published on
accellera.org and cannot be fetched offline (no package ships it), so the test checks the
structure and values it relies on instead.
"""

import xml.etree.ElementTree as ET

import pytest
from systemrdl import RDLCompiler
from systemrdl.rdltypes import OnWriteType

from ftvoter.hdl.csr import Access, Field, Register, RegisterMap
from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import ERROR_REGISTERS
from ftvoter.hdl.regs_export import IPXACT_NS

#: A map with what the shipped ones lack: RW1S, and names that are SystemRDL keywords.
EXTRA = RegisterMap("extra", [
    Register("REQ", 0x0, [
        Field("GO", 0, 4, Access.RW1S, reset=0b1001, doc='Requests ("go").'),
        Field("sw", 4, 2, Access.RW, reset=1, enum={"r": 0, "rw": 1}),
        Field("field", 8, 1, Access.WO),
    ], doc="Requests."),
    Register("reg", 0x8, [Field("DONE", 0, 1, Access.RW1C, reset=1)]),
], size=16, source="tests/test_regs_export.py")

MAPS = [ERROR_REGISTERS, FAULT_REGISTERS, EXTRA]

#: Per policy: (software access, onwrite) as SystemRDL has them, and IP-XACT's access and
#: modifiedWriteValue.
RDL = {"RO": ("r", None), "RW": ("rw", None), "RW1C": ("rw", "woclr"),
       "RW1S": ("rw", "woset"), "WO": ("w", None)}
IPXACT = {"RO": ("read-only", None), "RW": ("read-write", None),
          "RW1C": ("read-write", "oneToClear"), "RW1S": ("read-write", "oneToSet"),
          "WO": ("write-only", None)}


def expected(regmap):
    """The description as {(register, offset): {field: (lsb, width, policy, reset, enum)}};
    the reset is None for fields that store nothing (RO, WO)."""
    return {(r.name, r.offset): {f.name: (f.lsb, f.width, f.access.value,
                                          f.reset if f.access.stored else None, f.enum)
                                 for f in r.fields}
            for r in regmap}


# --- SystemRDL -----------------------------------------------------------------------------

def compile_rdl(text, tmp_path):
    path = tmp_path / "map.rdl"
    path.write_text(text)
    compiler = RDLCompiler()
    compiler.compile_file(str(path))
    return compiler.elaborate().top


def from_rdl(top):
    """The compiled tree in the form of :func:`expected`."""
    result = {}
    for reg in top.registers():
        assert reg.get_property("regwidth") == 32
        fields = {}
        for field in reg.fields():
            sw = field.get_property("sw").name
            onwrite = field.get_property("onwrite")
            policy = {value: key for key, value in RDL.items()}[
                (sw, onwrite.name if isinstance(onwrite, OnWriteType) else None)]
            encode = field.get_property("encode")
            enum = {member.name: member.value for member in encode} if encode else {}
            fields[field.inst_name] = (field.lsb, field.width, policy,
                                       field.get_property("reset"), enum)
        result[reg.inst_name, reg.address_offset] = fields
    return result


@pytest.mark.parametrize("regmap", MAPS, ids=lambda m: m.name)
def test_rdl_compiles_and_matches(regmap, tmp_path):
    top = compile_rdl(regmap.as_rdl(), tmp_path)
    assert top.inst_name == regmap.name
    assert top.get_property("desc", default="") == regmap.doc.strip()
    assert from_rdl(top) == expected(regmap)
    # Descriptions and the hardware side of each policy.
    for reg in top.registers():
        register = regmap[reg.inst_name]
        assert reg.get_property("desc", default="") == register.doc.strip()
        for node in reg.fields():
            field = register.field(node.inst_name)
            assert node.get_property("desc", default="") == field.doc.strip()
            policy = field.access.value
            assert node.get_property("hwset") == (policy == "RW1C")
            assert node.get_property("hwclr") == (policy == "RW1S")
            assert node.get_property("swmod") == (policy == "WO")
            assert node.get_property("swacc") == (register.read_strobe and policy == "RO")


def test_rdl_escapes_quotes_and_keywords():
    text = EXTRA.as_rdl()
    assert r'desc = "Requests (\"go\").";' in text
    assert r"} \sw[5:4] = 2'h1;" in text and r"} \reg @ 0x08;" in text


def test_rdl_check_can_fail(tmp_path):
    # A deliberately wrong translation (CONTROL.LOCK read-only, SCRATCH moved) is caught.
    text = ERROR_REGISTERS.as_rdl()
    wrong = text.replace("sw = rw; hw = r;", "sw = r; hw = w;", 1)
    wrong = wrong.replace("} SCRATCH @ 0x64;", "} SCRATCH @ 0xF0;")
    assert wrong != text
    found = from_rdl(compile_rdl(wrong, tmp_path))
    want = expected(ERROR_REGISTERS)
    assert found != want
    assert ("SCRATCH", 0xF0) in found and ("SCRATCH", 0x64) not in found
    assert found["CONTROL", 0x0C]["LOCK"] != want["CONTROL", 0x0C]["LOCK"]


# --- IP-XACT -------------------------------------------------------------------------------

NS = {"ipxact": IPXACT_NS}


def number(text):
    """An IP-XACT 2014 number: decimal, or a SystemVerilog literal such as ``'h1c``."""
    text = text.strip().replace("_", "")
    if "'" in text:
        base = {"h": 16, "d": 10, "b": 2, "o": 8}[text.split("'")[1][0].lower()]
        return int(text.split("'")[1][1:], base)
    return int(text, 0)


def from_ipxact(text):
    """The XML in the form of :func:`expected`, with the component's name and block."""
    root = ET.fromstring(text)
    assert root.tag == f"{{{IPXACT_NS}}}component"
    maps = root.findall("ipxact:memoryMaps/ipxact:memoryMap", NS)
    assert len(maps) == 1
    blocks = maps[0].findall("ipxact:addressBlock", NS)
    assert len(blocks) == 1
    block = blocks[0]
    result = {}
    for reg in block.findall("ipxact:register", NS):
        assert number(reg.findtext("ipxact:size", namespaces=NS)) == 32
        fields = {}
        for field in reg.findall("ipxact:field", NS):
            access = (field.findtext("ipxact:access", namespaces=NS),
                      field.findtext("ipxact:modifiedWriteValue", namespaces=NS))
            policy = {value: key for key, value in IPXACT.items()}[access]
            reset = field.findtext("ipxact:resets/ipxact:reset/ipxact:value", namespaces=NS)
            enum = {value.findtext("ipxact:name", namespaces=NS):
                    number(value.findtext("ipxact:value", namespaces=NS))
                    for value in field.findall("ipxact:enumeratedValues/"
                                               "ipxact:enumeratedValue", NS)}
            fields[field.findtext("ipxact:name", namespaces=NS)] = (
                number(field.findtext("ipxact:bitOffset", namespaces=NS)),
                number(field.findtext("ipxact:bitWidth", namespaces=NS)),
                policy, None if reset is None else number(reset), enum)
        result[reg.findtext("ipxact:name", namespaces=NS),
               number(reg.findtext("ipxact:addressOffset", namespaces=NS))] = fields
    return root, block, result


@pytest.mark.parametrize("regmap", MAPS, ids=lambda m: m.name)
def test_ipxact_parses_and_matches(regmap):
    root, block, found = from_ipxact(regmap.as_ipxact())
    assert root.findtext("ipxact:name", namespaces=NS) == regmap.name
    for tag in ("vendor", "library", "version"):
        assert root.findtext(f"ipxact:{tag}", namespaces=NS)
    assert number(block.findtext("ipxact:baseAddress", namespaces=NS)) == 0
    assert number(block.findtext("ipxact:range", namespaces=NS)) == regmap.size
    assert number(block.findtext("ipxact:width", namespaces=NS)) == 32
    assert block.findtext("ipxact:usage", namespaces=NS) == "register"
    assert found == expected(regmap)
    for reg in block.findall("ipxact:register", NS):
        register = regmap[reg.findtext("ipxact:name", namespaces=NS)]
        assert (reg.findtext("ipxact:description", namespaces=NS) or "") == register.doc.strip()
        for field in reg.findall("ipxact:field", NS):
            pops = field.findtext("ipxact:readAction", namespaces=NS) == "modify"
            assert pops == register.read_strobe


def test_ipxact_check_can_fail():
    # A deliberately wrong document (one offset changed) is caught.
    text = FAULT_REGISTERS.as_ipxact()
    wrong = text.replace("<ipxact:addressOffset>'h18<", "<ipxact:addressOffset>'h1c<")
    assert wrong != text
    assert from_ipxact(wrong)[2] != expected(FAULT_REGISTERS)
