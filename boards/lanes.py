"""BoardLane: what the board demo puts in lockstep, with its fault sites and its path memory."""

import glob

from ftvoter.hdl.units.memory import AXI4LiteMemory
from ftvoter.hdl.units.workload import WorkloadLane

__all__ = ["BUTTON_SITE", "CPU_BUTTON_SITE", "CPU_PATH_WORDS", "CPU_SITES", "LANE_KINDS",
           "SITES", "BoardLane", "board_lane"]

#: The lane kinds of a board build.
LANE_KINDS = ("workload", "picorv32", "picorv32-rtl")

#: Workload lanes: the register the button flips (bit 0 of lane 1's LFSR: the lanes diverge
#: at once).
BUTTON_SITE = "lane1.lfsr.state"
#: Workload lanes' fault sites: the button's, and every lane's parity-failure flag (stuck
#: at 1, the lane reports itself broken: it is isolated). A saboteur on the register-file
#: parity bits would do the same but lengthen the lane's slowest path (ALU, parity,
#: saboteur) by two logic levels.
SITES = (BUTTON_SITE, "ctrl.parity_fail")

_CPU_BUTTON_REGISTER = "picorv32_core.cpuregs[10]"
#: CPU lanes: the register the button flips, bit 0 of lane 1's a0 (x10, the argument and
#: return register: the characters on their way to the console, the CRCs).
CPU_BUTTON_SITE = f"lane1.{_CPU_BUTTON_REGISTER}"
#: CPU lanes' fault sites: a0 and the PC of every lane, for the button and the
#: management port's fault registers; synthesis removes the saboteurs of every other
#: flip-flop of the instrumented core (their inputs are constant 0).
CPU_SITES = (glob.escape(_CPU_BUTTON_REGISTER), "picorv32_core.reg_pc")
#: Words of the path memory behind CPU lanes: 1 KiB, the I/O map's console, exit, request
#: and result areas (``programs/README.md``), holding the example requests.
CPU_PATH_WORDS = 256


def board_lane():
    """Return the board's workload lane: a :class:`~ftvoter.hdl.units.workload.WorkloadLane`
    with four registers and four scratch words (the same workload mix, small enough for
    two lanes, the bridge and the management port on an iCE40UP5K)."""
    return WorkloadLane(seed=0x5EED, addr_width=16, io_words=64, regs=4, scratch_words=4)


class BoardLane:
    """A lane kind for the board demo: how to make a lane, where its faults go, and the path
    memory it talks to.

    ``workload`` is the synthetic :func:`board_lane` (16-bit bus). ``picorv32`` (PicoRV32
    instrumented: fault sites on :data:`CPU_SITES`) and ``picorv32-rtl`` (its own RTL, no
    fault sites: the plain reference) are :class:`~ftvoter.hdl.units.cpu.CpuLane`\\ s from
    :func:`ftvoter.sim.designs.make_lane`, each with its own RAM holding ``program``,
    restarted after each run by :class:`~ftvoter.boards.rerun.RerunLane`; their path
    memory holds the example I/O image at ``0x1000_0000``.

    Parameters
    ----------
    kind : str
        One of :data:`LANE_KINDS`.
    program : str or path, optional
        CPU lanes (required): a C file (compiled with zig, cached) or an RV32 ELF.
    ram_bytes : int
        CPU lanes: each lane's RAM, a power of two from 1024 to 2**28 bytes; the program,
        its data and a 1 KiB stack reserve must fit (``programs/crc32.c`` needs 8192).
    parity : bool
        ``picorv32``: a parity bit on every register of the core's register file (an upset
        raises the lane's ``self_error``: DMR isolates the lane instead of halting).

    Attributes
    ----------
    addr_width : int
        Of the lanes' bus: 16 (workload) or 32 (CPU).
    path_words : int
        The path memory's default depth: 64 (workload), :data:`CPU_PATH_WORDS` (CPU).
    sites : tuple of str or None
        The fault-site patterns of the lockstep's injector (``None``: no injector).
    button_site, button_mask : str or None, int
        The site and bits the button flips (``None``: the button does nothing).
    activity_bits : int
        Width of the activity counter: the LED toggles every ``2**(activity_bits - 1)``
        completed writes (a CPU lane writes about 60 times per run of crc32).

    Raises
    ------
    TypeError
        If ``kind`` is not a string, ``parity`` not a bool, or ``ram_bytes`` not a power
        of two in range.
    ValueError
        If ``kind`` is not a lane kind, a CPU lane has no program or the workload lane has
        one, or ``parity`` is asked of a lane kind other than ``picorv32``.
    ftvoter.sim.programs.ProgramError
        If the program cannot be built or does not fit in ``ram_bytes``.
    """

    def __init__(self, kind="workload", *, program=None, ram_bytes=8192, parity=False):
        if not isinstance(kind, str):
            raise TypeError(f"Lane kind must be a string, not {kind!r}")
        if kind not in LANE_KINDS:
            raise ValueError(f"Lane kind must be one of {', '.join(LANE_KINDS)}, not {kind!r}")
        if not isinstance(parity, bool):
            raise TypeError(f"Parity must be True or False, not {parity!r}")
        if (not isinstance(ram_bytes, int) or isinstance(ram_bytes, bool) or
                ram_bytes & (ram_bytes - 1) or not 1024 <= ram_bytes <= 2**28):
            raise TypeError(f"RAM size must be a power of two from 1024 to 2**28 bytes, "
                            f"not {ram_bytes!r}")
        cpu = kind != "workload"
        if cpu and program is None:
            raise ValueError(f"Lane kind {kind} needs a program (a C file or an RV32 ELF), "
                             f"not None")
        if not cpu and program is not None:
            raise ValueError(f"Lane kind workload runs no program, not {program!r}")
        if parity and kind != "picorv32":
            raise ValueError(f"Parity is for lane kind picorv32 (its instrumented register "
                             f"file), not {kind!r}")
        self.kind, self.program, self.ram_bytes, self.parity = kind, program, ram_bytes, parity
        if cpu:
            from ftvoter.sim.programs import build_program
            build_program(program, ram_bytes=ram_bytes)     # fails here, not in a build
        self.addr_width = 32 if cpu else 16
        self.path_words = CPU_PATH_WORDS if cpu else 64
        instrumented = kind != "picorv32-rtl"
        self.sites = (CPU_SITES if cpu else SITES) if instrumented else None
        self.button_site = (CPU_BUTTON_SITE if cpu else BUTTON_SITE) if instrumented else None
        self.button_mask = 1
        self.activity_bits = 13 if cpu else 20

    @property
    def cpu(self):
        """The lanes are CPUs running :attr:`program`."""
        return self.kind != "workload"

    def __repr__(self):
        if not self.cpu:
            return "BoardLane('workload')"
        return (f"BoardLane({self.kind!r}, program={str(self.program)!r}, "
                f"ram_bytes={self.ram_bytes}, parity={self.parity})")

    def factory(self):
        """Return a new lane (for :class:`~ftvoter.hdl.lockstep.Lockstep`, once per lane)."""
        if not self.cpu:
            return board_lane()
        from ftvoter.sim.designs import make_lane

        from .rerun import RerunLane
        params = {"lane": self.kind, "addr_width": 32, "data_width": 32,
                  "program": self.program, "ram_bytes": self.ram_bytes,
                  "parity": self.parity}
        return RerunLane(make_lane(self.kind, params)())

    def path_memory(self, words=None):
        """Return the path memory, ``words`` deep (default :attr:`path_words`): for CPU
        lanes loaded with the example I/O image (addresses beyond the depth alias)."""
        words = self.path_words if words is None else words
        if not isinstance(words, int) or isinstance(words, bool) or words < 1:
            raise TypeError(f"Path memory depth must be a positive integer of words, "
                            f"not {words!r}")
        init = []
        if self.cpu:
            from ftvoter.sim.program_run import io_image
            init = [0] * words
            for address, word in io_image().items():
                init[(address >> 2) % words] = word
        return AXI4LiteMemory(addr_width=self.addr_width, data_width=32, depth=words,
                              init=init)
