"""Run a C program (or an ELF) on CPU lanes in lockstep under Verilator.

The simulator is built once per lockstep configuration with empty lane RAMs; the program's
image is written into every lane's RAM through the simulator's VPI before reset is
released (so another program needs no new build). The lanes' I/O path is
:class:`ftvoter.sim.cocotb_program.IoPath`, with the request area of ``transactions.c``
holding :func:`~ftvoter.sim.programs.example_requests` unless ``io`` says otherwise.
"""

import json
import tempfile
from pathlib import Path

from .iss import REQUESTS
from .programs import build_program, encode_requests, example_requests, image
from .runs import simulate

__all__ = ["CPU_LANES", "REQUESTS", "io_image", "run_program"]

#: Lane kinds that run programs.
CPU_LANES = ("picorv32", "sentinel", "picorv32-rtl")
#: What cocotb reaches below the top: the lanes' RAMs (to load the program) and the
#: cores' retired-instruction counters; the top's ports are public too.
PUBLIC = ["mem", "*count_instr", "retired_count"]


def io_image(io=None):
    """The I/O path's initial words, ``{address: word}``: ``io`` (bytes for the request
    area, or such a dict), or the example requests."""
    if io is None:
        io = encode_requests(example_requests())
    if isinstance(io, dict):
        return dict(io)
    data = bytes(io) + bytes(-len(io) % 4)
    return {REQUESTS + i: int.from_bytes(data[i:i + 4], "little")
            for i in range(0, len(data), 4)}


def run_program(params, program, *, cycles, flip=None, io=None, waves_file=None):
    """Run ``program`` on the lockstep design of ``params`` (a CPU lane kind, or one of
    :func:`~ftvoter.sim.designs.register_lane_kind`).

    ``flip`` is ``(site index, bit, cycle)``: a single-event upset through the fault
    injector (the design is built with the injector of ``params["faults"]``, or of
    ``["*"]`` when a flip is asked for without it). Returns the figures of
    :func:`ftvoter.sim.cocotb_program.run_program` (``console`` as bytes).
    """
    from .designs import registered_lane_kinds, resolve
    kinds = (*CPU_LANES, *registered_lane_kinds())
    if params["lane"] not in kinds:
        raise ValueError(f"A program needs a CPU lane ({', '.join(kinds)}), "
                         f"not {params['lane']!r}")
    faults = params.get("faults") or (["*"] if flip is not None else None)
    params = resolve("lockstep", {**params, "program": None, "ram": 0, "faults": faults})
    elf = build_program(program, ram_bytes=params["ram_bytes"])
    with tempfile.TemporaryDirectory(prefix="ftvoter-program-") as tmp:
        ram = Path(tmp) / "ram.bin"
        ram.write_bytes(image(elf, params["ram_bytes"]))
        env = {"FTVOTER_CYCLES": cycles, "FTVOTER_IMAGE": ram,
               "FTVOTER_IO": json.dumps(io_image(io))}
        if flip is not None:
            env["FTVOTER_FLIP"] = "{}:{}:{}".format(*flip)
        figures = simulate(params, "run_program", env, waves_file=waves_file,
                           module="ftvoter.sim.cocotb_program", public=PUBLIC,
                           optimise=True)
    figures["console"] = bytes.fromhex(figures["console"])
    figures["io_writes"] = [tuple(w) for w in figures["io_writes"]]
    figures["io_reads"] = [tuple(r) for r in figures["io_reads"]]
    return figures
