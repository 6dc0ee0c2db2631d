"""The register-map builder (Field, Register, RegisterMap): every rejection, by its message,
and the documents' handling of a policy the shipped maps do not use (RW1S)."""

import pytest

from ftvoter.hdl.csr import Access, CSRBank, Field, Register, RegisterMap
from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import ERROR_REGISTERS

RW = Access.RW


def reg(name, offset, *fields):
    return Register(name, offset, list(fields) or [Field("VALUE", 0, 32, RW)])


class TestField:
    def test_init(self):
        field = Field("MODE", 4, 2, RW, reset=3, enum={"A": 0, "B": 1}, doc="Mode.")
        assert (field.lsb, field.width, field.mask, field.reset) == (4, 2, 0x30, 3)
        assert field.as_dict()["access"] == "RW"

    @pytest.mark.parametrize("args, error, message", [
        (("1X", 0, 1, RW), TypeError, r"^Field name must be an identifier, not '1X'$"),
        (("X", 0, 1, "RW"), TypeError, r"^Field access must be an Access, not 'RW'$"),
        (("X", -1, 1, RW), TypeError, r"^Field lsb must be a non-negative integer, not -1$"),
        (("X", 0, True, RW), TypeError,
         r"^Field width must be a non-negative integer, not True$"),
        (("X", 0, 0, RW), ValueError, r"^Field X must lie within bits 0\.\.31, not at 0\+0$"),
        (("X", 30, 4, RW), ValueError,
         r"^Field X must lie within bits 0\.\.31, not at 30\+4$"),
    ])
    def test_init_wrong(self, args, error, message):
        with pytest.raises(error, match=message):
            Field(*args)

    def test_init_wrong_reset(self):
        with pytest.raises(ValueError, match=r"^Field X reset must fit in 2 bits, not 4$"):
            Field("X", 0, 2, RW, reset=4)

    def test_init_wrong_enum(self):
        with pytest.raises(ValueError,
                           match=r"^Field X enum value BIG must fit in 2 bits, not 4$"):
            Field("X", 0, 2, RW, enum={"BIG": 4})


class TestRegister:
    def test_init_wrong_name(self):
        with pytest.raises(TypeError, match=r"^Register name must be an identifier, not 'a b'$"):
            reg("a b", 0)

    def test_init_wrong_offset(self):
        with pytest.raises(TypeError,
                           match=r"^Register offset must be a non-negative integer, not -4$"):
            reg("A", -4)

    def test_init_wrong_field(self):
        with pytest.raises(TypeError, match=r"^Register fields must be Field objects, not 1$"):
            Register("A", 0, [1])

    def test_overlapping_fields(self):
        with pytest.raises(ValueError, match=r"^Register CTRL field HIGH overlaps field LOW "
                                             r"at bits 7:6$"):
            reg("CTRL", 0, Field("LOW", 0, 8, RW), Field("HIGH", 6, 8, RW))

    def test_overlapping_fields_one_bit(self):
        with pytest.raises(ValueError, match=r"^Register CTRL field GO overlaps field MODE "
                                             r"at bits 3$"):
            reg("CTRL", 0, Field("EN", 0, 1, RW), Field("MODE", 2, 2, RW),
                Field("GO", 3, 1, RW))

    def test_duplicate_field_names(self):
        with pytest.raises(ValueError, match=r"^Register CTRL has two fields named EN$"):
            reg("CTRL", 0, Field("EN", 0, 1, RW), Field("EN", 1, 1, RW))


class TestRegisterMap:
    def test_init(self):
        regmap = RegisterMap("t", [reg("A", 0x0), reg("B", 0x8)], size=16)
        assert [r.name for r in regmap] == ["A", "B"] and regmap["B"].offset == 8
        with pytest.raises(KeyError):
            regmap["C"]

    def test_misaligned_offset(self):
        with pytest.raises(ValueError,
                           match=r"^Register B offset must be a multiple of 4, not 0x6$"):
            RegisterMap("t", [reg("A", 0x0), reg("B", 0x6)])

    def test_overlapping_offsets(self):
        with pytest.raises(ValueError, match=r"^Register B overlaps A at 0x4$"):
            RegisterMap("t", [reg("A", 0x4), reg("B", 0x4)])

    def test_duplicate_register_names(self):
        with pytest.raises(ValueError, match=r"^Register map t has two registers named A$"):
            RegisterMap("t", [reg("A", 0x0), reg("A", 0x4)])

    def test_outside_size(self):
        with pytest.raises(ValueError, match=r"^Register B must lie within 8 bytes, not at 0x8$"):
            RegisterMap("t", [reg("A", 0x0), reg("B", 0x8)], size=8)

    def test_init_wrong_entry(self):
        with pytest.raises(TypeError,
                           match=r"^Register map entries must be Register objects, not 'A'$"):
            RegisterMap("t", ["A"])

    @pytest.mark.parametrize("size", [0, 6, "8", True])
    def test_init_wrong_size(self, size):
        with pytest.raises(TypeError, match=rf"^Register map size must be a positive multiple "
                                            rf"of 4, not {size!r}$"):
            RegisterMap("t", [], size=size)

    def test_init_wrong_name(self):
        with pytest.raises(TypeError,
                           match=r"^Register map name must be an identifier, not 'my map'$"):
            RegisterMap("my map", [])

    def test_bank_wrong_map(self):
        with pytest.raises(TypeError, match=r"^Register map must be a RegisterMap, not 1$"):
            CSRBank(1)


class TestRW1SDocuments:
    MAP = RegisterMap("t", [
        Register("REQ", 0x0, [Field("GO", 0, 4, Access.RW1S, reset=2, doc="Requests.")],
                 doc="Requests."),
    ], size=4)

    def test_markdown(self):
        md = self.MAP.as_markdown()
        assert "RW1S set by writing 1, cleared by hardware" in md
        assert "| 0x00 | [REQ](#req) | RW1S | 0x00000002 | Requests. |" in md
        assert "| 3:0 | GO | RW1S | 2 | Requests. |" in md

    def test_shipped_maps_have_no_rw1s_legend(self):
        # The legend names RW1S only where a map uses it, so the shipped documents are as
        # they were.
        for regmap in (ERROR_REGISTERS, FAULT_REGISTERS):
            assert "RW1S" not in regmap.as_markdown()

    def test_c_header_reset(self):
        assert "#define T_REQ_RESET 0x00000002u" in self.MAP.as_c_header()
