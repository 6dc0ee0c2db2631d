"""ErrorRegisters checks its arguments at construction, as its docstring promises (they
used to fail only at elaboration, or never)."""

import pytest

from ftvoter.hdl.registers import ErrorRegisters


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lanes": 7}, TypeError, r"^Lane count must be 2 or 3, not 7$"),
    ({"lanes": True}, TypeError, r"^Lane count must be 2 or 3, not True$"),
    ({"paths": 3}, TypeError, r"^Path count must be 1 or 2, not 3$"),
    ({"policy": "panic"}, ValueError, r"^Policy must be one of halt, diagnose, not 'panic'$"),
    ({"timeout": 1}, TypeError, r"^Timeout must be an integer from 2 to 65535, not 1$"),
    ({"timeout": 70000}, TypeError,
     r"^Timeout must be an integer from 2 to 65535, not 70000$"),
    ({"mgmt_addr_width": 4}, TypeError,
     r"^Management address width must be an integer from 8 to 64, not 4$"),
])
def test_init_wrong(kwargs, error, message):
    with pytest.raises(error, match=message):
        ErrorRegisters(**kwargs)


def test_init():
    regs = ErrorRegisters(lanes=3, paths=2, policy="diagnose", timeout=8, mgmt_addr_width=32)
    assert len(regs.online) == 3
