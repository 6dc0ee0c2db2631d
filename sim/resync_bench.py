"""The resync benchmark: the survivors' stop against the lane RAM's size.

PicoRV32 in DMR runs ``programs/churn.c`` (it writes its memory all along) with lane 1
split off and merged back (a full copy: the split lane ran on its own), then removed and
inserted back (rapid: only the blocks written since it left), on RAMs of 1, 4 and 16 KiB,
each with pre-copy (the default) and without (``precopy_rounds=0``: everything copied in
the stop, the baseline). The program's console is checked against the ISS in every run.
"""

import time

from ftvoter.hdl.resync import MAX_ROUNDS

from . import iss
from .program_run import run_program
from .programs import build_program

__all__ = ["SIZES", "GOAL_STOP", "resync_bench", "print_resync_bench"]

#: Lane RAM sizes measured, bytes.
SIZES = (1024, 4096, 16384)
#: The goal for the stop with pre-copy, cycles, whatever the RAM size.
GOAL_STOP = 64
PROGRAM = "programs/churn.c"
#: Split at, merge at, remove at, insert at (cycles).
ACTIONS = ((40_000, "split", 1), (100_000, "merge", 1), (160_000, "remove", 1),
           (200_000, "insert", 1))


def resync_bench(sizes=SIZES, program=PROGRAM, progress=None):
    """Run the benchmark; return its rows: one per RAM size, copy kind and pre-copy."""
    rows = []
    for size in sizes:
        model = iss.run(build_program(program, ram_bytes=size), ram_bytes=size)
        for rounds in (MAX_ROUNDS, 0):
            params = {"lane": "picorv32", "lanes": 2, "ram_bytes": size,
                      "precopy_rounds": rounds}
            started = time.perf_counter()
            figures = run_program(params, program, cycles=5_000_000, at=ACTIONS)
            if figures["console"] != model.console or figures["exit_code"] != 0:
                raise RuntimeError(f"{program} on {size}-byte RAMs: console "
                                   f"{figures['console']!r}, exit {figures['exit_code']}; "
                                   f"the ISS: {model.console!r}")
            if len(figures["resyncs"]) != 2:
                raise RuntimeError(f"{program} on {size}-byte RAMs: "
                                   f"{len(figures['resyncs'])} resyncs, not 2")
            for kind, resync in zip(("full", "rapid"), figures["resyncs"], strict=True):
                rows.append({"ram_bytes": size, "copy": kind, "precopy": bool(rounds),
                             "stop_cycles": resync["stop_cycles"], "words": resync["words"],
                             "rounds": resync["rounds"], "flops": resync["flops"],
                             "resync_cycles": resync["end_cycle"] - resync["start_cycle"]})
            if progress is not None:
                progress(f"  {size // 1024:>2} KiB, {'pre-copy' if rounds else 'no pre-copy'}: "
                         f"{time.perf_counter() - started:.0f} s")
    return rows


def print_resync_bench(rows, out=print):
    """The table of :func:`resync_bench`'s rows, and the goal."""
    out("Resync stop (the survivors' pause, cycles) against the lane RAM size: PicoRV32 DMR "
        f"running {PROGRAM}")
    out(f"{'RAM':>6}  {'copy':<6} {'pre-copy':<9} {'stop':>6} {'words':>6} {'rounds':>6} "
        f"{'resync':>8}")
    for row in rows:
        out(f"{row['ram_bytes'] // 1024:>3} KiB  {row['copy']:<6} "
            f"{'yes' if row['precopy'] else 'no':<9} {row['stop_cycles']:>6} "
            f"{row['words']:>6} {row['rounds']:>6} {row['resync_cycles']:>8}")
    worst = max(row["stop_cycles"] for row in rows if row["precopy"])
    out(f"Goal: with pre-copy, a stop of at most {GOAL_STOP} cycles at every size: longest "
        f"{worst} cycles ({worst / GOAL_STOP:.2f} of the limit) - "
        + ("met" if worst <= GOAL_STOP else "NOT met"))
    return worst <= GOAL_STOP
