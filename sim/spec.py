"""Campaign specifications: a TOML file, checked completely before anything runs.

A malformed spec is rejected with one :class:`SpecError` naming the file, the key and the
reason, so the CLI can print one line and exit with status 2.
"""

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

from ftvoter.hdl.encodings import FAULT_MODELS, LANE_FAULTS, MAX_COPIES, NEVER, POLICY_NAMES

__all__ = ["SpecError", "CampaignSpec", "load_spec", "parse_spec", "sample_size"]

#: Fault models and policies by name (their one definition is in hdl): the register
#: faults, then the lane faults (a design with live resync; not mixed with the others).
MODELS = (*FAULT_MODELS, *LANE_FAULTS)
POLICIES = POLICY_NAMES
#: Lane kinds a campaign can inject (``picorv32-rtl`` has no fault sites), and the CPUs.
CPU_LANES = ("picorv32", "sentinel")
LANES = ("workload", *CPU_LANES)

#: The bench's cycle fields are 32 bits wide and 2**32-1 means "never", so every cycle a
#: run reaches (a start, a start plus its window, the golden run's length) is at most this.
MAX_CYCLE = NEVER - 1
#: A stuck-at's duration field is 32 bits wide (0: permanent).
MAX_DURATION = NEVER
#: ``faults.stop``: ``sample_size`` runs the whole sample sized up front from the margin
#: and confidence (the default); ``interval`` samples in rounds and stops once the
#: intervals are within the margin (:mod:`ftvoter.sim.stopping`).
STOP_RULES = ("sample_size", "interval")
#: ``workload.checkpoint``: the shortest interval, and the most checkpoints a workload gets.
MIN_INTERVAL = 100
MAX_CHECKPOINTS = 10_000
#: ``faults.round``: the injections of the first round of statistical stopping.
DEFAULT_ROUND = 100
#: With ``faults.stop = "interval"`` and no ``faults.count``, the most a campaign runs is
#: this many times the sample size sized up front: the coverage's denominator is the
#: faults that were not masked, so that is its worst case (p = 0.5) with up to three
#: quarters of the faults masked.
STOP_LIMIT = 4


class SpecError(ValueError):
    """A campaign spec is malformed: ``"<file>: <key>: <reason>"``."""


def sample_size(population, *, margin, confidence, p=0.5):
    """Injections needed for a margin of error at a confidence level.

    Statistical fault injection (Leveugle et al., DATE 2009, eq. 6):
    ``n = N / (1 + e**2 * (N - 1) / (t**2 * p * (1 - p)))`` with ``t`` the two-sided normal
    quantile of the confidence and ``p = 0.5`` the worst case.
    """
    if population < 1:
        raise ValueError(f"Population must be at least 1, not {population!r}")
    t = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = population / (1 + margin**2 * (population - 1) / (t**2 * p * (1 - p)))
    return min(population, math.ceil(n))


@dataclass(frozen=True)
class CampaignSpec:
    """A checked campaign spec (see the README for the file format)."""
    name: str
    seed: int
    design: dict = field(default_factory=dict)
    workload: dict = field(default_factory=dict)
    faults: dict = field(default_factory=dict)
    observation: dict = field(default_factory=dict)
    source: str = "<spec>"
    #: How the bench runs it (``copies``: faulty copies per bench); changes no result.
    bench: dict = field(default_factory=dict)

    def as_dict(self):
        return {"name": self.name, "seed": self.seed, "design": self.design,
                "workload": self.workload, "faults": self.faults,
                "observation": self.observation, **({"bench": self.bench} if self.bench
                                                    else {})}


class _Checker:
    def __init__(self, source):
        self.source = source

    def fail(self, key, reason):
        raise SpecError(f"{self.source}: {key}: {reason}")

    def table(self, data, key, known, required=()):
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        for name in value:
            if name not in known:
                self.fail(f"{key}.{name}", f"unknown key (known: {', '.join(known)})")
        for name in required:
            if name not in value:
                self.fail(f"{key}.{name}", "is required")
        return value

    def integer(self, data, key, path, default=None, *, minimum=None, maximum=None, why=""):
        value = data.get(key, default)
        if value is None:
            self.fail(path, "is required")
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum}{why}, not {value}")
        return value

    def choice(self, data, key, path, choices, default):
        value = data.get(key, default)
        if value not in choices:
            self.fail(path, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
        return value


def parse_spec(data, source="<spec>"):
    """Check a spec given as a dict (as read from TOML) and return a :class:`CampaignSpec`."""
    c = _Checker(source)
    for key in data:
        if key not in ("name", "seed", "design", "workload", "faults", "observation",
                       "bench"):
            c.fail(key, "unknown key (known: name, seed, design, workload, faults, "
                        "observation, bench)")
    name = data.get("name", Path(source).stem if source != "<spec>" else "campaign")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", name):
        c.fail("name", f"must be a name of letters, digits, '_' and '-' (not starting with "
                       f"'-'), not {name!r}")
    seed = c.integer(data, "seed", "seed", 1, minimum=0)

    d = c.table(data, "design", ("lane", "lanes", "offset", "policy", "parity", "rollback",
                                 "live_resync", "self_check"))
    design = {
        "lane": c.choice(d, "lane", "design.lane", LANES, "workload"),
        "lanes": c.choice(d, "lanes", "design.lanes", (2, 3), 2),
        "offset": c.integer(d, "offset", "design.offset", 0, minimum=0, maximum=64),
        "policy": c.choice(d, "policy", "design.policy", POLICIES, "halt"),
    }
    if design["offset"] and design["lanes"] != 2:
        c.fail("design.offset", "delayed lockstep needs design.lanes = 2")
    if "parity" in d:
        if not isinstance(d["parity"], bool):
            c.fail("design.parity", f"must be true or false, not {d['parity']!r}")
        if d["parity"] and design["lane"] not in CPU_LANES:
            c.fail("design.parity", f"is for CPU lanes ({', '.join(CPU_LANES)}); the "
                                    f"workload lane has its own")
        if d["parity"]:
            design["parity"] = True
    for key in ("rollback", "live_resync", "self_check"):     # the voting bridge's
        if key not in d:
            continue
        if not isinstance(d[key], bool):
            c.fail(f"design.{key}", f"must be true or false, not {d[key]!r}")
        if d[key] and design["offset"]:
            c.fail(f"design.{key}", "needs the voting bridge: not with design.offset")
        if d[key]:
            design[key] = True

    w = c.table(data, "workload", ("cycles", "seed", "program", "checkpoint"))
    workload = {
        "cycles": c.integer(w, "cycles", "workload.cycles", 2000, minimum=10,
                            maximum=MAX_CYCLE, why=" (the bench's 32-bit cycle counter)"),
        "seed": c.integer(w, "seed", "workload.seed", 1, minimum=1, maximum=2**32 - 1),
    }
    program = w.get("program")
    if design["lane"] in CPU_LANES:
        if not isinstance(program, str) or not program:
            c.fail("workload.program", f"lane {design['lane']} runs a program: give a C file "
                                       f"or an ELF (programs/crc32.c), not {program!r}")
        workload["program"] = program
    elif program is not None:
        c.fail("workload.program", f"lane {design['lane']} runs no program (a CPU lane: "
                                   f"{', '.join(CPU_LANES)})")
    checkpoint = _checkpoint(c, w, workload, design)
    if checkpoint is not None:       # only if given: a spec without it is as it was
        workload["checkpoint"] = checkpoint

    f = c.table(data, "faults", ("sites", "models", "count", "margin", "confidence",
                                 "stop", "round", "start", "duration", "bits", "common"))
    sites = f.get("sites", ["*"])
    if (not isinstance(sites, list) or not sites or
            not all(isinstance(p, str) and p for p in sites)):
        c.fail("faults.sites", f"must be a non-empty list of site patterns, not {sites!r}")
    models = f.get("models", list(FAULT_MODELS))
    if not isinstance(models, list) or not models or any(m not in MODELS for m in models):
        c.fail("faults.models", f"must be a non-empty list of {', '.join(MODELS)}, "
                                f"not {models!r}")
    lane_faults = [m for m in models if m in LANE_FAULTS]
    if lane_faults and len(lane_faults) != len(models):
        c.fail("faults.models", f"lane faults ({', '.join(LANE_FAULTS)}) cannot be mixed "
                                f"with register faults in one campaign, not {models!r}")
    if lane_faults and not design.get("live_resync"):
        c.fail("faults.models", f"lane faults ({', '.join(lane_faults)}) need a design with "
                                f"live resync (design.live_resync = true)")
    count = f.get("count")
    statistical = "margin" in f or "confidence" in f
    if count is not None and statistical and f.get("stop") != "interval":
        c.fail("faults.count", "give either count or margin and confidence, not both")
    if count == "exhaustive" and f.get("stop") == "interval":
        c.fail("faults.count", "is the most to run with faults.stop = \"interval\": a "
                               "number, not 'exhaustive'")
    if count is None and not statistical:
        c.fail("faults.count", "is required (a number, \"exhaustive\", or margin and "
                               "confidence instead)")
    if count is not None and count != "exhaustive":
        c.integer(f, "count", "faults.count", minimum=1)
    margin = confidence = None
    if statistical:
        margin, confidence = f.get("margin"), f.get("confidence")
        for key, value, other in (("margin", margin, "confidence"),
                                  ("confidence", confidence, "margin")):
            if value is None:
                c.fail(f"faults.{key}", f"is required with faults.{other} (a number "
                                        f"between 0 and 1)")
            if not isinstance(value, float) or not 0 < value < 1:
                c.fail(f"faults.{key}", f"must be a number between 0 and 1, not {value!r}")
    stopping = _stopping(c, f, statistical)
    start = f.get("start", {"min": 0, "max": workload["cycles"] - 1})
    if not isinstance(start, dict) or set(start) - {"min", "max"}:
        c.fail("faults.start", f"must be a table with min and max, not {start!r}")
    last = workload["cycles"] - 1
    low = c.integer(start, "min", "faults.start.min", 0, minimum=0, maximum=last)
    high = c.integer(start, "max", "faults.start.max", last, minimum=low, maximum=last)
    common = f.get("common", False)
    if not isinstance(common, bool):
        c.fail("faults.common", f"must be true or false, not {common!r}")
    faults = {
        "sites": sites, "models": models, "count": count, "margin": margin,
        "confidence": confidence, "start": {"min": low, "max": high},
        "duration": c.integer(f, "duration", "faults.duration", 0, minimum=0,
                              maximum=MAX_DURATION, why=" (the injector's 32-bit field)"),
        "bits": c.integer(f, "bits", "faults.bits", 1, minimum=1, maximum=32),
        "common": common,
        **stopping,
    }
    if lane_faults and common:
        c.fail("faults.common", "lane faults hit one lane: not with faults.common")
    if lane_faults and faults["duration"] < 1:
        c.fail("faults.duration", f"is the cycles a lane is out with lane faults: at least "
                                  f"1, not {faults['duration']!r}")

    o = c.table(data, "observation", ("window",))
    # A run ends at start + window: that cycle must fit the bench's cycle counter.
    observation = {"window": c.integer(o, "window", "observation.window", 1000, minimum=1,
                                       maximum=MAX_CYCLE - high,
                                       why=" (start.max + window must fit the bench's 32-bit "
                                           "cycle counter)")}
    b = c.table(data, "bench", ("copies",))
    bench = {}
    if "copies" in b:
        bench["copies"] = c.integer(b, "copies", "bench.copies", minimum=1,
                                    maximum=MAX_COPIES)
    return CampaignSpec(name, seed, design, workload, faults, observation, source, bench)


def _checkpoint(c, w, workload, design):
    """``workload.checkpoint``, checked (None when not given)."""
    interval = w.get("checkpoint")
    if interval is None:
        return None
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 0:
        c.fail("workload.checkpoint", f"must be a number of cycles (0: no checkpoints), "
                                      f"not {interval!r}")
    if interval == 0:
        return 0
    cycles = workload["cycles"]
    if design["lane"] not in CPU_LANES or design.get("rollback") or \
            design.get("live_resync"):
        c.fail("workload.checkpoint", f"checkpoints are for CPU lanes "
                                      f"({', '.join(CPU_LANES)}) without rollback or live "
                                      f"resync; give 0 or leave it out")
    least = max(MIN_INTERVAL, math.ceil(cycles / MAX_CHECKPOINTS))
    if interval < least:
        c.fail("workload.checkpoint", f"must be at least {least} cycles (at least "
                                      f"{MIN_INTERVAL}, and at most {MAX_CHECKPOINTS} "
                                      f"checkpoints in workload.cycles), not {interval}")
    if interval >= cycles:
        c.fail("workload.checkpoint", f"must be less than workload.cycles ({cycles}) to "
                                      f"make a checkpoint, not {interval}")
    return interval


def _stopping(c, f, statistical):
    """``faults.stop`` and ``faults.round``, as the faults table holds them (only if
    given: a spec without them has the keys it always had)."""
    stop = f.get("stop")
    if stop is None:
        if "round" in f:
            c.fail("faults.round", "is the size of a round of statistical stopping: give "
                                   "it with faults.stop = \"interval\"")
        return {}
    if stop not in STOP_RULES:
        c.fail("faults.stop", f"must be one of {', '.join(STOP_RULES)}, not {stop!r}")
    if not statistical:
        c.fail("faults.stop", "needs faults.margin and faults.confidence (the interval's "
                              "margin and confidence level)")
    if stop != "interval":
        if "round" in f:
            c.fail("faults.round", "is for faults.stop = \"interval\"")
        return {"stop": stop}
    first = c.integer(f, "round", "faults.round", DEFAULT_ROUND, minimum=1,
                      maximum=1_000_000)
    return {"stop": stop, "round": first}


def load_spec(path):
    """Read and check a TOML campaign spec; raise :class:`SpecError` if it is malformed."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML ({error})") from None
    return parse_spec(data, str(path))
