"""RegisterMap.encode/decode against the documented layout, and the register driver against
a register file written here."""

import asyncio
import random

import pytest

from ftvoter.boards.driver import AccessError, Blocking, Fields, RegisterDriver, Registers
from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import ERROR_REGISTERS

# Offsets and field positions typed from docs/registers.md and docs/fault_registers.md, so
# that a wrong field description (which would move the hardware and decode() together) is
# still caught here.
UNLOCK, LANE_STATE, ERROR_CAUSE, CONTROL, STATUS = 0x10, 0x18, 0x1C, 0x0C, 0x14
FEATURES, PATH_STATUS, LANE_CMD, EVENT, EVENT_STATUS = 0x08, 0x4C, 0x50, 0x54, 0x58
KEY = 0x554E4C4B


class TestEncodeDecode:
    def test_event_layout(self):
        # VALID bit 31, KIND bits 30:28 (2 = REMOVED), LANE bits 27:26, CYCLE bits 25:0.
        assert ERROR_REGISTERS.decode("EVENT", 0xA4000005) == {
            "CYCLE": 5, "LANE": 1, "KIND": "REMOVED", "VALID": 1}
        assert ERROR_REGISTERS.decode("EVENT", 0x93FFFFFF) == {
            "CYCLE": 0x3FFFFFF, "LANE": 0, "KIND": "FIXED", "VALID": 1}
        assert ERROR_REGISTERS.decode("EVENT", 0x4C000000)["KIND"] == "ROLLBACK"  # bit 30
        assert ERROR_REGISTERS.encode("EVENT", CYCLE=7, LANE=2, KIND="INSERTED",
                                      VALID=1) == 0xB8000007

    def test_lane_layouts(self):
        # LANE_CMD: LANE bits 1:0, OP bits 5:4 (1 REMOVE, 2 INSERT, 3 FREEZE).
        assert ERROR_REGISTERS.encode("LANE_CMD", LANE=1, OP="INSERT") == 0x21
        assert ERROR_REGISTERS.encode("LANE_CMD", LANE=2, OP="FREEZE") == 0x32
        assert ERROR_REGISTERS.encode("LANE_CMD", LANE=0, OP=1) == 0x10
        # LANE_STATE: two bits per lane (0 ONLINE, 1 BROKEN, 2 REMOVED, 3 SYNCING).
        assert ERROR_REGISTERS.encode("LANE_STATE", LANE1="BROKEN", LANE2="SYNCING") == 0x34
        assert ERROR_REGISTERS.decode("LANE_STATE", 0x09) == {
            "LANE0": "BROKEN", "LANE1": "REMOVED", "LANE2": "ONLINE"}

    def test_other_layouts(self):
        assert ERROR_REGISTERS.decode("ERROR_CAUSE", 0x1020) == {
            name: int(name in ("SELF_ERROR", "DIAG_FAIL")) for name in (
                "AW", "W", "AR", "B_READY", "R_READY", "SELF_ERROR", "NO_MAJORITY",
                "HALTED", "PATH_ERROR", "PATH_TIMEOUT", "NO_PATH", "REJECTED", "DIAG_FAIL",
                "ROLLBACK", "STATE", "SELFTEST", "CHECKER")}
        assert ERROR_REGISTERS.decode("SYNDROME", 0x80000321) == {
            "CHANNEL": "W", "LANES": 2, "CTRL": 3, "VALID": 1}
        assert ERROR_REGISTERS.decode("SYNDROME", 0x7)["CHANNEL"] == 7      # no name: int
        assert ERROR_REGISTERS.decode("EVENT_STATUS", 0x110) == {"COUNT": 16, "OVERFLOW": 1}
        assert ERROR_REGISTERS.encode("CONTROL", LOCK=True, RESUME=1) == 0b11
        # FaultRegisters CONTROL: ARM bit 0, MODEL bits 2:1, COMMON bit 3.
        assert FAULT_REGISTERS.encode("CONTROL", ARM=1, MODEL=2) == 0b101
        assert FAULT_REGISTERS.encode("CONTROL", COMMON=1) == 0b1000
        assert ERROR_REGISTERS.encode("LANE_CMD") == 0      # fields not named are 0

    def test_round_trip(self):
        rng = random.Random(11)
        for regmap in (ERROR_REGISTERS, FAULT_REGISTERS):
            for register in regmap:
                mask = sum(field.mask for field in register.fields)
                for _ in range(20):
                    value = rng.getrandbits(32)
                    fields = regmap.decode(register.name, value)
                    assert list(fields) == [field.name for field in register.fields]
                    assert regmap.encode(register.name, **fields) == value & mask

    @pytest.mark.parametrize("fields, message", [
        ({"LANES": 1}, r"^Register LANE_CMD has no field 'LANES'$"),
        ({"LANE": 4}, r"^Register LANE_CMD field LANE must be a 2-bit integer, not 4$"),
        ({"LANE": -1}, r"^Register LANE_CMD field LANE must be a 2-bit integer, not -1$"),
        ({"OP": "EJECT"}, r"^Register LANE_CMD field OP must be a 3-bit integer or one of "
                          r"NONE, REMOVE, INSERT, FREEZE, RESET_INSERT, SPLIT, MERGE, "
                          r"not 'EJECT'$"),
        ({"OP": "remove"}, r"^Register LANE_CMD field OP must be .+, not 'remove'$"),
        ({"OP": 1.0}, r"^Register LANE_CMD field OP must be .+, not 1\.0$"),
    ])
    def test_encode_wrong(self, fields, message):
        with pytest.raises(ValueError, match=message):
            ERROR_REGISTERS.encode("LANE_CMD", **fields)

    def test_encode_decode_wrong(self):
        with pytest.raises(ValueError, match=r"^Register SCRATCH field VALUE must be a "
                                             r"32-bit integer, not 'x'$"):
            ERROR_REGISTERS.encode("SCRATCH", VALUE="x")
        with pytest.raises(ValueError, match=r"^Register SITE field INDEX must be a 16-bit "
                                             r"integer, not 65536$"):
            FAULT_REGISTERS.encode("SITE", INDEX=2**16)
        for value in (-1, 2**32, "0", None):
            with pytest.raises(ValueError, match=rf"^Register value must be a 32-bit "
                                                 rf"integer, not {value!r}$"):
                ERROR_REGISTERS.decode("EVENT", value)
        with pytest.raises(KeyError):
            ERROR_REGISTERS.encode("NOWHERE", LANE=1)
        with pytest.raises(KeyError):
            ERROR_REGISTERS.decode("NOWHERE", 0)


class RegisterFile:
    """A transport answering from a dict of offsets; a list value is a FIFO that pops on
    each read (0 when empty). Logs ("R"/"W", offset, value); offsets in ``reject`` answer
    writes with an error."""

    def __init__(self, regs=None, reject=()):
        self.regs, self.reject, self.log = dict(regs or {}), set(reject), []

    async def read(self, offset):
        value = self.regs.get(offset, 0)
        if isinstance(value, list):
            value = value.pop(0) if value else 0
        self.log.append(("R", offset, value))
        return value

    async def write(self, offset, value):
        self.log.append(("W", offset, value))
        if offset in self.reject:
            raise AccessError(f"write of register {offset:#04x}: SLVERR")
        self.regs[offset] = value

    def writes(self):
        return [(offset, value) for kind, offset, value in self.log if kind == "W"]


def run(coroutine):
    return asyncio.run(coroutine)


class TestRegisterDriver:
    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Transport must have read and write methods, "
                                            r"not 1$"):
            RegisterDriver(1)
        with pytest.raises(TypeError, match=r"^Transport must have read and write methods"):
            RegisterDriver(RegisterFile(), faults=object())
        with pytest.raises(TypeError, match=r"^Register map must be a RegisterMap, not 'x'$"):
            Registers(RegisterFile(), "x")

    def test_read_write_fields(self):
        regs = RegisterFile({EVENT: 0xA4000005})
        driver = RegisterDriver(regs)
        run(driver.write("SCRATCH", 0x12345678))
        assert run(driver.read("SCRATCH")) == 0x12345678
        run(driver.write("CONTROL", LOCK=1))
        assert regs.writes() == [(0x64, 0x12345678), (CONTROL, 1)]
        event = run(driver.fields("EVENT"))
        assert isinstance(event, Fields) and event == {"CYCLE": 5, "LANE": 1,
                                                       "KIND": "REMOVED", "VALID": 1}
        assert (event.KIND, event.LANE, event.value, event.register) == \
            ("REMOVED", 1, 0xA4000005, "EVENT")
        assert repr(event) == "EVENT(CYCLE=5, LANE=1, KIND='REMOVED', VALID=1)"
        with pytest.raises(AttributeError, match=r"^Register EVENT has no field 'KINDS'$"):
            assert event.KINDS is None

    def test_write_wrong(self):
        driver = RegisterDriver(RegisterFile(reject={CONTROL}))
        with pytest.raises(TypeError, match=r"^Write CONTROL a value or fields, not both: 1 "
                                            r"and \{'LOCK': 1\}$"):
            run(driver.write("CONTROL", 1, LOCK=1))
        with pytest.raises(ValueError, match=r"^Register SCRATCH value must be a 32-bit "
                                             r"integer, not 4294967296$"):
            run(driver.write("SCRATCH", 2**32))
        with pytest.raises(AccessError, match=r"^write of register 0x0c: SLVERR$"):
            run(driver.write("CONTROL", 0))

    def test_lane_commands(self):
        regs = RegisterFile({CONTROL: 1})
        driver = RegisterDriver(regs)
        run(driver.lane_command(1, "insert"))
        run(driver.lane_command(2, "FREEZE"))
        run(driver.resume())                    # CONTROL.LOCK (set) is kept
        run(driver.set_lock(False))
        assert regs.writes() == [(UNLOCK, KEY), (LANE_CMD, 0x21), (UNLOCK, KEY),
                                 (LANE_CMD, 0x32), (UNLOCK, KEY), (CONTROL, 0b11),
                                 (UNLOCK, KEY), (CONTROL, 0)]
        with pytest.raises(ValueError, match=r"^Register LANE_CMD field OP must be .+, "
                                             r"not 'EJECT'$"):
            run(driver.lane_command(1, "eject"))
        assert len(regs.writes()) == 8              # nothing written, not even UNLOCK

    def test_states_causes_clear(self):
        regs = RegisterFile({FEATURES: 3, LANE_STATE: 0x34, ERROR_CAUSE: 0x1020})
        driver = RegisterDriver(regs)
        assert run(driver.lane_states()) == ["ONLINE", "BROKEN", "SYNCING"]
        assert run(driver.lane_states()) == ["ONLINE", "BROKEN", "SYNCING"]
        assert run(driver.lane_states(2)) == ["ONLINE", "BROKEN"]
        assert [entry[1] for entry in regs.log].count(FEATURES) == 1     # read once
        assert run(driver.causes()) == ["SELF_ERROR", "DIAG_FAIL"]
        run(driver.clear_errors())
        run(driver.clear("PATH_STATUS"))
        run(driver.clear("IRQ_STATUS", "HALT"))
        assert regs.writes() == [(ERROR_CAUSE, 0x1FFFF), (PATH_STATUS, 0b11), (0x5C, 0b100)]
        with pytest.raises(ValueError, match=r"^Register IRQ_STATUS has no RW1C field "
                                             r"'LOUD'$"):
            run(driver.clear("IRQ_STATUS", "LOUD"))
        with pytest.raises(ValueError, match=r"^Register STATUS has no RW1C fields$"):
            run(driver.clear("STATUS"))

    def test_events(self):
        # COUNT says 3 but two are there: they are popped in order, the empty read (VALID
        # clear) is dropped.
        regs = RegisterFile({EVENT_STATUS: [3, 0], EVENT: [0x80000009, 0xAC000010]})
        driver = RegisterDriver(regs)
        events = run(driver.events())
        assert [(e.KIND, e.LANE, e.CYCLE) for e in events] == [("BROKEN", 0, 9),
                                                               ("REMOVED", 3, 16)]
        assert run(driver.events()) == []
        assert [offset for _, offset, _ in regs.log] == [EVENT_STATUS] + [EVENT] * 3 + \
            [EVENT_STATUS]

    def test_faults(self):
        errors, faults = RegisterFile(), RegisterFile({0x18: [100, 200, 600]})
        driver = RegisterDriver(errors, faults=faults)
        run(driver.disarm())
        assert run(driver.inject(5, 0x30, 2, delay=10, duration=7)) == 200 + 300 + 10
        assert faults.writes() == [(0x00, 0), (0x00, 0), (0x04, 5), (0x08, 0x30), (0x10, 7),
                                   (0x0C, 510), (0x00, 0b101)]
        assert errors.log == []
        with pytest.raises(ValueError, match=r"^This driver has no fault registers"):
            run(RegisterDriver(errors).disarm())
        with pytest.raises(ValueError, match=r"^Register SITE field INDEX must be a 16-bit "
                                             r"integer, not 65536$"):
            run(driver.inject(2**16))
        with pytest.raises(ValueError, match=r"^Register CONTROL field MODEL must be a 2-bit "
                                             r"integer, not 4$"):
            run(driver.inject(1, model=4))
        assert len(faults.writes()) == 7            # nothing written

    def test_blocking(self):
        class Sync:
            def __init__(self):
                self.regs = {}

            def read(self, offset):
                return self.regs.get(offset, 0)

            def write(self, offset, value):
                self.regs[offset] = value

        sync = Sync()
        driver = RegisterDriver(Blocking(sync))
        run(driver.write("SCRATCH", 7))
        assert sync.regs == {0x64: 7} and run(driver.read("SCRATCH")) == 7
        with pytest.raises(TypeError, match=r"^Transport must have read and write methods"):
            Blocking(None)
