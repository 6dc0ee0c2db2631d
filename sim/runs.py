"""Run the lockstep demo under Verilator: what ``ftvoter sim`` and ``ftvoter bench`` share."""

import json
import tempfile
from pathlib import Path

from .toolchain import ToolchainError, build_simulator, run_cocotb

__all__ = ["simulate"]

_MODULE = "ftvoter.sim.cocotb_demo"


def simulate(params, testcase, env, *, waves_file=None, quiet=True, module=_MODULE,
             public=None, optimise=False):
    """Build the lockstep design, run one test of a cocotb module (the demo's unless
    ``module`` says otherwise), return its figures."""
    waves = None
    if waves_file is not None:
        waves = "vcd" if Path(waves_file).suffix == ".vcd" else "fst"
    simulation = build_simulator("lockstep", params, waves=waves or False, public=public,
                                 optimise=optimise)
    with tempfile.TemporaryDirectory(prefix="ftvoter-") as tmp:
        summary = Path(tmp) / "summary.json"
        tests, failed = run_cocotb(simulation, module, testcase=testcase,
                                   env={**env, "FTVOTER_SUMMARY": summary},
                                   waves_file=waves_file, test_dir=Path(tmp) / "run",
                                   quiet=quiet)
        if failed or not summary.exists():
            log = Path(tmp) / "run" / "sim.log"
            tail = log.read_text().strip().splitlines()[-15:] if log.exists() else []
            raise ToolchainError(f"{testcase} failed in simulation:\n" + "\n".join(tail))
        return json.loads(summary.read_text())
