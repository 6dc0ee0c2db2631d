"""The designs ftvoter can export and simulate, with their parameters.

One registry serves ``ftvoter verilog``, the simulation helpers and the tests, so a
design's name and options mean the same everywhere.
"""

import hashlib
import re
from dataclasses import dataclass, field

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.campaign import COPY_DOMAIN, CampaignBench
from ftvoter.hdl.compare import LockstepComparator
from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.encodings import ADDR_WIDTH
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.resync import MAX_ROUNDS
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.hdl.voter import MajorityVoter

__all__ = ["DESIGNS", "LANE_KINDS", "Design", "resolve", "build", "toplevel", "make_lane",
           "register_lane_kind", "registered_lane_kinds"]


def make_lane(kind, params):
    """Return a lane factory for a lane kind and the lockstep parameters."""
    if kind not in LANE_KINDS:
        raise ValueError(f"Lane kind must be one of {', '.join(LANE_KINDS)}, not {kind!r}")
    return lambda: LANE_KINDS[kind](params)


def _words(program, ram_bytes):
    """The RAM image of a program (a C file or an ELF, compiled and cached; or None: an
    empty RAM) as 32-bit words."""
    if program is None:
        return []
    from .programs import build_program, image
    data = image(build_program(program, ram_bytes=ram_bytes), ram_bytes)
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def _cpu_lane(core):
    """A lane kind: the core from ``core(params)`` with its RAM (loaded with ``program``)."""
    def lane(p):
        from ftvoter.hdl.units.cpu import CpuLane
        for key in ("addr_width", "data_width"):
            if p[key] != 32:
                raise ValueError(f"Lane kind {p['lane']} has a 32-bit bus: {key} must be 32, "
                                 f"not {p[key]!r}")
        return CpuLane(core(p), ram_bytes=p["ram_bytes"],
                       image=_words(p["program"], p["ram_bytes"]),
                       copy_domain=p.get("copy_domain"),
                       undo=p.get("rollback", False) or p.get("live_resync", False),
                       check=p.get("rollback", False))
    return lane


def _picorv32(p):
    from ftvoter.hdl.units.picorv32 import PicoRV32Core
    return PicoRV32Core(parity=p.get("parity", False))


def _picorv32_rtl(p):
    from ftvoter.hdl.units.picorv32 import PicoRV32Rtl
    if p.get("parity"):
        raise ValueError("Lane kind picorv32-rtl is not instrumented: it has no parity")
    return PicoRV32Rtl()


def _sentinel(p):
    from ftvoter.hdl.units.sentinel import InstrumentedSentinel
    return InstrumentedSentinel(parity=p.get("parity", False))


def _workload(p):
    if p.get("parity"):
        raise ValueError("Lane kind workload has parity on its register file already; "
                         "parity is for CPU lanes")
    return WorkloadLane(seed=p["seed"], addr_width=p["addr_width"],
                        data_width=p["data_width"], io_words=p["io_words"])


LANE_KINDS = {
    "workload": _workload,
    "picorv32": _cpu_lane(_picorv32),
    "sentinel": _cpu_lane(_sentinel),
    # PicoRV32 from its own RTL, not instrumented (no fault sites): the reference and
    # the speed baseline of the instrumented lane.
    "picorv32-rtl": _cpu_lane(_picorv32_rtl),
}

#: The lane kinds of :func:`register_lane_kind`: ``{kind: digest of the core's design}``.
_REGISTERED = {}


def register_lane_kind(kind, core_factory):
    """Make ``kind`` a CPU lane kind of this process: ``core_factory()`` returns its core.

    A lane of the kind is a :class:`~ftvoter.hdl.units.cpu.CpuLane` around a new core
    (a :class:`~ftvoter.hdl.units.verilog_core.VerilogCore`, say), as for ``picorv32``:
    the ``lockstep`` and ``campaign`` designs take it as ``lane`` and
    :func:`ftvoter.sim.program_run.run_program` runs programs on it. The factory is
    called once here, to check its core and to name the builds of the kind by a digest
    of the core's design (so a changed core is never taken from the cache); registering
    a kind again replaces it.

    Returns
    -------
    wiring.Component
        The core the factory returned here, elaborated once (its ``sites``, if a
        :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`, are every lane's).

    Raises
    ------
    TypeError
        ``kind`` is not a string, ``core_factory`` is not callable, or its core has no
        ``Out(AXI4LiteSignature(32, 32))`` bus.
    ValueError
        ``kind`` is not a name of letters, digits, ``-`` and ``_`` starting with a
        letter, or it is a built-in lane kind.
    """
    from amaranth.back import rtlil
    from amaranth.lib import wiring

    from ftvoter.hdl.instrument import NETLISTS
    from ftvoter.hdl.signatures import AXI4LiteSignature
    if not isinstance(kind, str):
        raise TypeError(f"Lane kind must be a string, not {kind!r}")
    if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", kind):
        raise ValueError(f"Lane kind must be a name of letters, digits, '-' and '_' "
                         f"starting with a letter, not {kind!r}")
    if kind in LANE_KINDS and kind not in _REGISTERED:
        raise ValueError(f"Lane kind {kind} is built in; register the core under another "
                         f"name, not {kind!r}")
    if not callable(core_factory):
        raise TypeError(f"Core factory must be a callable that returns a core, not "
                        f"{core_factory!r}")
    core = core_factory()
    bus = AXI4LiteSignature(addr_width=32, data_width=32)
    member = (core.signature.members.get("bus") if isinstance(core, wiring.Component)
              else None)
    if member is None or not member.is_signature or member.flow != wiring.Out or \
            member.signature != bus:
        raise TypeError(f"Core factory of lane kind {kind} must return a component with "
                        f"bus Out({bus!r}), not {core!r}")
    text = rtlil.convert(core, emit_src=False)
    digest = hashlib.sha256(text.encode())
    for name in sorted(NETLISTS):         # the Verilog of the modules the core instantiates
        if re.search(rf"^\s*cell \\{re.escape(name)}\s", text, re.MULTILINE):
            digest.update(NETLISTS[name].encode())
    LANE_KINDS[kind] = _cpu_lane(lambda p: _no_parity(kind, p) or core_factory())
    _REGISTERED[kind] = digest.hexdigest()
    return core


def _no_parity(kind, p):
    if p.get("parity"):
        raise ValueError(f"Lane kind {kind} is the user's core: its parity is the user's "
                         f"(instrument_verilog(parity=...))")


def registered_lane_kinds():
    """Return the lane kinds of :func:`register_lane_kind`, in the order registered."""
    return tuple(_REGISTERED)


def _lockstep(p):
    lockstep = Lockstep(make_lane(p["lane"], p), lanes=p["lanes"], offset=p["offset"],
                        paths=p["paths"], policy=p["policy"], timeout=p["timeout"],
                        csr_base=p["csr_base"], faults=p["faults"], rollback=p["rollback"],
                        live_resync=p.get("live_resync", False),
                        precopy_rounds=p.get("precopy_rounds", MAX_ROUNDS),
                        self_check=p.get("self_check", False),
                        bridge_sites=p.get("bridge_sites"))
    if p["ram"]:
        return LockstepDemo(lockstep, ram_words=p["ram"])
    return lockstep


def _campaign_system(p):
    """Return ``(system, ram_words, ram_init)``: the campaign bench's system factory and
    the RAM behind its path(s)."""
    if p["lane"] == "picorv32-rtl":
        raise ValueError("Lane kind picorv32-rtl has no fault sites and no state port: a "
                         "campaign needs picorv32, sentinel or workload")
    ram_words, ram_init = p["ram"], ()
    if p["program"] is not None:
        # A CPU lane's I/O path: 1 KiB (the console, exit, request and result areas of
        # programs/README.md, aliased), holding the example requests, as ftvoter sim
        # --program gives them.
        from .program_run import io_image
        ram_words = CPU_PATH_WORDS
        words = [0] * ram_words
        for address, word in io_image().items():
            words[(address >> 2) % ram_words] = word
        ram_init = words

    # Both copies get the same bridge: instrumented when faults reach into it.
    bridge_sites = p["offset"] == 0 and any(str(s).startswith("bridge.") for s in p["faults"])

    def system(faults):
        # The bench copies the CPU lanes' RAMs through their memory ports.
        return _lockstep({**p, "faults": faults, "ram": 0, "copy_domain": COPY_DOMAIN,
                          "bridge_sites": bridge_sites})
    return system, ram_words, ram_init


def _campaign(p):
    system, ram_words, ram_init = _campaign_system(p)
    return CampaignBench(system, faults=p["faults"], ram_words=ram_words, ram_init=ram_init,
                         copies=p["copies"])


def _campaign_copy(p):
    from ftvoter.hdl.campaign_copy import PlainCopy
    system, ram_words, ram_init = _campaign_system(p)
    return PlainCopy(system, faults=p["faults"], ram_words=ram_words, ram_init=ram_init,
                     copy_domain=COPY_DOMAIN)


#: Words of the campaign bench's path RAM behind CPU lanes.
CPU_PATH_WORDS = 256


def _board(p):
    from ftvoter.boards.top import DemoCore
    return DemoCore(p["lanes"], uart_divisor=p["uart_divisor"],
                    live_resync=p.get("live_resync", False))


@dataclass(frozen=True)
class Design:
    build: object
    toplevel: str
    defaults: dict = field(default_factory=dict)


#: The campaign bench's parameters (and its plain copy's).
_CAMPAIGN = {
    "lanes": 2, "lane": "workload", "offset": 0, "seed": 1, "addr_width": 16,
    "data_width": 32, "io_words": 16, "ram": 16, "paths": 1, "policy": "halt",
    "timeout": 64, "csr_base": None, "faults": ["*"], "program": None,
    "ram_bytes": 16384, "parity": False, "rollback": False, "live_resync": False,
    "self_check": False, "copies": 1}


DESIGNS = {
    "comparator": Design(
        lambda p: LockstepComparator(p["width"], lanes=p["lanes"], offset=p["offset"],
                                     registered=not p["comb"]),
        "ftvoter_comparator", {"width": 32, "lanes": 2, "offset": 0, "comb": False}),
    "voter": Design(lambda p: MajorityVoter(p["width"]), "ftvoter_voter", {"width": 8}),
    "lockstep": Design(
        _lockstep, "ftvoter_lockstep",
        {"lanes": 2, "lane": "workload", "offset": 0, "seed": 1, "addr_width": ADDR_WIDTH,
         "data_width": 32, "io_words": 256, "ram": 0, "paths": 1, "policy": "halt",
         "timeout": 64, "csr_base": None, "faults": None, "program": None,
         "ram_bytes": 16384, "parity": False, "rollback": False, "live_resync": False,
         "precopy_rounds": MAX_ROUNDS, "self_check": False}),
    # The campaign bench's RAMs are flip-flops (copied from golden to faulty at a load),
    # so the lanes' I/O window is small; its 16-bit bus keeps the default campaigns'
    # simulators (and results) what they were before the 32-bit default.
    "campaign": Design(_campaign, "ftvoter_campaign", _CAMPAIGN),
    # One faulty copy of the campaign bench's system alone (its plain simulation speed).
    "campaign_copy": Design(_campaign_copy, "ftvoter_campaign_copy", _CAMPAIGN),
    # The board demo's core with its UART management port (simulated board top).
    "board": Design(_board, "ftvoter_board", {"lanes": 2, "uart_divisor": 16,
                                                "live_resync": False}),
    "bridge": Design(
        lambda p: VotingBridge(lanes=p["lanes"], paths=p["paths"], policy=p["policy"],
                               timeout=p["timeout"], addr_width=p["addr_width"],
                               csr_base=p["csr_base"]),
        "ftvoter_bridge",
        {"lanes": 2, "paths": 1, "policy": "halt", "timeout": 64, "addr_width": ADDR_WIDTH,
         "csr_base": None}),
}


def resolve(design, params):
    """Return the full parameter set of ``design``: defaults updated with ``params``."""
    if design not in DESIGNS:
        raise ValueError(f"Design must be one of {', '.join(DESIGNS)}, not {design!r}")
    defaults = DESIGNS[design].defaults
    params = {key: value for key, value in params.items() if key != "_lane_digest"}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"Design {design} has no parameter {unknown[0]!r}")
    resolved = {**defaults, **params}
    if resolved.get("lane") in _REGISTERED:
        # A registered core is not in ftvoter's sources: its digest is part of the
        # parameters, so of every cache key (Verilog export, simulator build).
        resolved["_lane_digest"] = _REGISTERED[resolved["lane"]]
    return resolved


def build(design, params):
    """Construct the component of ``design`` with the given parameters."""
    return DESIGNS[design].build(resolve(design, params))


def toplevel(design):
    """Return the Verilog module name of ``design``."""
    return DESIGNS[design].toplevel
