"""The private parts of cocotb's runner that sim/toolchain.py relies on (no public API
serves): if an upgrade changes them, these fail loudly, naming what changed."""

import inspect

import pytest
from cocotb_tools.runner import get_runner

from ftvoter.sim import toolchain


@pytest.fixture
def runner():
    toolchain.setup_environment()
    return get_runner("verilator")


def test_build_command_makes_every_signal_public(runner, tmp_path):
    # _public_top_only drops --public-flat-rw from the first command of _build_command.
    assert inspect.signature(runner._build_command).parameters == {}
    source = inspect.getsource(type(runner)._build_command)
    assert "--public-flat-rw" in source


def test_execute_runs_every_command(runner):
    # cocotb_command replaces _execute(commands, cwd) to capture the command line.
    assert list(inspect.signature(runner._execute).parameters) == ["cmds", "cwd"]


def test_missing_private_method_is_one_line(runner):
    del_name = "_no_such_method"
    with pytest.raises(toolchain.ToolchainError,
                       match=rf"^cocotb [\d.]+'s Verilator runner has no {del_name}\(\), "
                             rf"which ftvoter's build relies on"):
        toolchain._private(runner, del_name)
