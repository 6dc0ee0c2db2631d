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

from ftvoter.boards.dump import decode_state

from .iss import REQUESTS
from .programs import build_program, encode_requests, example_requests, image
from .runs import simulate

__all__ = ["AT_ACTIONS", "CPU_LANES", "REQUESTS", "io_image", "run_program"]

#: ``--at`` actions played in simulation: LANE_CMD through the management port
#: (remove, freeze, insert: a live resync, reset-insert: the reset-everything kind), the
#: lane's presence input (unplug; plug: present again, then INSERT).
AT_ACTIONS = ("remove", "insert", "freeze", "reset-insert", "unplug", "plug", "dump",
              "split", "merge")
#: ``--at`` actions not built yet (refused with a clear message).
AT_LATER = ()

#: Lane kinds that run programs.
CPU_LANES = ("picorv32", "sentinel", "picorv32-rtl")
#: What cocotb reaches below the top: the lanes' RAMs (to load the program) and the
#: cores' retired-instruction counters; the top's ports are public too.
PUBLIC = ["mem", "mem_check", "*count_instr", "retired_count"]


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


def run_program(params, program, *, cycles, flip=None, io=None, waves_file=None, at=(),
                timeline=False, ram_flip=None):
    """Run ``program`` on the lockstep design of ``params`` (a CPU lane kind, or one of
    :func:`~ftvoter.sim.designs.register_lane_kind`).

    ``flip`` is ``(site index, bit, cycle)``: a single-event upset through the fault
    injector (the design is built with the injector of ``params["faults"]``, or of
    ``["*"]`` when a flip is asked for without it). ``ram_flip`` is ``(lane, word, bit,
    cycle)``: an upset of a word of a lane's RAM (``figures["ram_flip"]`` then has each
    lane's copy of the word at the end). ``at`` is a list of management
    actions ``(cycle, action, lane)`` (:data:`AT_ACTIONS`), played on the running program;
    the design is then built with live resync. ``timeline`` records the lanes' states,
    mismatches, rollbacks and resync phases as they change (``figures["timeline"]``).
    Returns the figures of :func:`ftvoter.sim.cocotb_program.run_program` (``console`` as
    bytes).

    ``program`` ``None`` with the workload lane: no program, the lanes run their own work
    for ``cycles`` cycles against the same I/O path (a RAM), for ``at``, ``flip`` and
    ``timeline`` on the workload lane.
    """
    from .designs import registered_lane_kinds, resolve
    kinds = (*CPU_LANES, *registered_lane_kinds())
    workload = program is None and params["lane"] == "workload"
    if params["lane"] not in kinds and not workload:
        raise ValueError(f"A program needs a CPU lane ({', '.join(kinds)}), "
                         f"not {params['lane']!r}")
    faults = params.get("faults") or (["*"] if flip is not None else None)
    params = resolve("lockstep", {**params, "program": None, "ram": 0, "faults": faults,
                                  **({"live_resync": True} if at or timeline else {})})
    with tempfile.TemporaryDirectory(prefix="ftvoter-program-") as tmp:
        env = {"FTVOTER_CYCLES": cycles,
               "FTVOTER_IO": json.dumps(io_image({} if workload and io is None else io))}
        if not workload:
            elf = build_program(program, ram_bytes=params["ram_bytes"])
            ram = Path(tmp) / "ram.bin"
            ram.write_bytes(image(elf, params["ram_bytes"]))
            env["FTVOTER_IMAGE"] = ram
        if flip is not None:
            env["FTVOTER_FLIP"] = "{}:{}:{}".format(*flip)
        if timeline:
            env["FTVOTER_TIMELINE"] = 1
        if ram_flip is not None:
            env["FTVOTER_RAM_FLIP"] = "{}:{}:{}:{}".format(*ram_flip)
        if at:
            env["FTVOTER_AT"] = json.dumps([list(action) for action in at])
            layout = lane_layout(params)
            env["FTVOTER_STATE_WORDS"] = -(-layout.width // 32)
            env["FTVOTER_RAM_WORDS"] = 0 if workload else params["ram_bytes"] // 4
        figures = simulate(params, "run_program", env, waves_file=waves_file,
                           module="ftvoter.sim.cocotb_program", public=PUBLIC,
                           optimise=True)
    figures["console"] = bytes.fromhex(figures["console"])
    if "split_console" in figures:
        figures["split_console"] = bytes.fromhex(figures["split_console"])
    for action in figures.get("actions", []):
        if action["action"] == "dump":
            action["sites"] = decode_state(layout, action.pop("state"))
    figures["io_writes"] = [tuple(w) for w in figures["io_writes"]]
    figures["io_reads"] = [tuple(r) for r in figures["io_reads"]]
    return figures


def lane_layout(params):
    """The state vector of one lane of the lockstep design of ``params``: its
    :class:`~ftvoter.hdl.lane_state.LaneState` (``names``, ``width``)."""
    from ftvoter.boards.dump import lane_layout as layout

    from .designs import make_lane
    return layout(make_lane(params["lane"], params)())
