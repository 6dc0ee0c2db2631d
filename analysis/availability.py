"""Availability and integrity of four architectures, as continuous-time Markov chains.

``simplex`` (one unit), ``ha_cluster`` (active/standby pair with failover),
``dmr_lockstep`` (two lanes behind the voting bridge) and ``tmr`` (three lanes). Every
state, transition and assumption is written out in ``docs/availability.md``. Rates are per
hour, times in hours. Each model gives the steady-state availability, its nines, the
downtime per year, and the rate of silent data corruption (undetected wrong output, in
FIT); each can be written in the PRISM language, for Storm to check.

The lockstep models bring a lane back through a ``restart`` down state: the lanes' work
starting again after the reset-everything insert, or, with live resync, the survivors'
stop (measured in cycles); a fault rolled back (``recovery``) leaves the system as it was.
"""

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

__all__ = ["Parameters", "Model", "ARCHITECTURES", "build", "solve", "evaluate",
           "nines", "downtime_minutes", "to_prism", "load_parameters", "FIT",
           "MINUTES_PER_YEAR"]

#: One FIT is one failure in 10**9 device-hours.
FIT = 1e-9
MINUTES_PER_YEAR = 365.25 * 24 * 60


@dataclass(frozen=True)
class Parameters:
    """The parameters of every model (fault rates per lane or node in FIT; times in hours).

    ``masked``, ``coverage`` and ``isolation`` come from a campaign (see
    :func:`ftvoter.analysis.stats.campaign_parameters`) or are given.
    """
    permanent_fit: float = 1000     #: permanent fault rate of one lane or node, in FIT
    transient_fit: float = 10000    #: transient fault rate of one lane or node, in FIT
    masked: float = 0.4         #: share of faults with no effect (masked or latent)
    coverage: float = 0.99      #: share of effective faults detected
    isolation: float = 0.6      #: share of detected faults (2 lanes) after which the right
    #: lane is taken out and the system goes on (else it stops: halt, then reboot/repair)
    isolation_tmr: float = 0.999    #: the same with three lanes (the odd lane outvoted)
    recovery: float = 0.0       #: share of detected faults (2 lanes) rolled back and
    #: re-executed with both lanes online (a design with rollback): no state change
    silent: float = 0.1         #: share of effective faults in an unchecked unit that
    #: corrupt its output before it fails
    mttr: float = 4.0           #: repair time of a permanent fault
    reboot: float = 0.1         #: restart time after a stop or a transient failure
    restart: float = 0.1        #: lockstep: time for the lanes' work to start again after a
    #: lane is inserted (today's LANE_CMD INSERT resets every lane: a down time)
    resync: float = 1 / 60      #: time until an isolated lane is inserted again after a
    #: transient (the system runs on without it meanwhile)
    failover: float = 2 / 60    #: HA: time for the standby to take over

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                    not math.isfinite(value) or value < 0:
                raise ValueError(f"Parameter {field.name} must be a finite non-negative "
                                 f"number, not {value!r}")
        for name in ("masked", "coverage", "isolation", "isolation_tmr", "silent",
                     "recovery"):
            if getattr(self, name) > 1:
                raise ValueError(f"Parameter {name} must be a share from 0 to 1, not "
                                 f"{getattr(self, name)!r}")
        for name in ("mttr", "reboot", "restart", "resync"):
            if getattr(self, name) == 0:
                raise ValueError(f"Parameter {name} must be positive, not 0")
        if self.isolation + self.recovery > 1 + 1e-12:
            raise ValueError(f"Parameters isolation and recovery are shares of the same "
                             f"detected faults: their sum must be at most 1, not "
                             f"{self.isolation + self.recovery!r}")

    @property
    def lambda_permanent(self):
        """Permanent fault rate of one lane or node, per hour."""
        return self.permanent_fit * FIT

    @property
    def lambda_transient(self):
        """Transient fault rate of one lane or node, per hour."""
        return self.transient_fit * FIT

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Model:
    """A CTMC: state names, which are up, transitions ``(from, to, rate)``, and the rate
    of silent data corruption in each state (per hour)."""
    name: str
    states: tuple
    up: frozenset
    transitions: tuple
    sdc: tuple

    def generator(self):
        n = len(self.states)
        q = np.zeros((n, n))
        for source, target, rate in self.transitions:
            q[source, target] += rate
        np.fill_diagonal(q, -q.sum(axis=1))
        return q


def _model(name, states, up, transitions, sdc):
    index = {state: i for i, state in enumerate(states)}
    return Model(name, tuple(states), frozenset(index[s] for s in up),
                 tuple((index[a], index[b], rate) for a, b, rate in transitions if rate > 0),
                 tuple(sdc.get(state, 0.0) for state in states))


def _simplex(p):
    lp, lt = p.lambda_permanent * (1 - p.masked), p.lambda_transient * (1 - p.masked)
    return _model("simplex", ["up", "repair", "reboot"], ["up"], [
        ("up", "repair", lp), ("up", "reboot", lt),
        ("repair", "up", 1 / p.mttr), ("reboot", "up", 1 / p.reboot),
    ], {"up": p.silent * (lp + lt)})


def _ha_cluster(p):
    lp, lt = p.lambda_permanent * (1 - p.masked), p.lambda_transient * (1 - p.masked)
    node = lp + lt
    # A failed node comes back after a repair or a reboot, by the share of each cause.
    restore = 1 / ((lp * p.mttr + lt * p.reboot) / node) if node else 1 / p.reboot
    c = p.coverage
    transitions = [
        ("both", "one", node),              # the standby fails
        ("one", "both", restore),
        ("one", "none", node),
        ("none", "one", 2 * restore),       # each node is restored on its own
        # The active fails undetected (hung or wrong, heartbeats still going): the service
        # is down until an operator restarts the node, then the standby takes over.
        ("both", "stalled", node * (1 - c)),
        ("stalled", "one", 1 / p.reboot),
    ]
    states = ["both", "one", "none", "stalled"]
    if p.failover > 0:
        states.insert(1, "failover")
        transitions += [("both", "failover", node * c), ("failover", "one", 1 / p.failover),
                        ("failover", "none", node)]
    else:
        transitions.append(("both", "one", node * c))   # detected: instant takeover
    return _model("ha_cluster", states, ["both", "one"], transitions,
                  {"both": p.silent * node, "one": p.silent * node})


def _dmr(p):
    lp, lt = p.lambda_permanent * (1 - p.masked), p.lambda_transient * (1 - p.masked)
    c, q, r = p.coverage, p.isolation, p.recovery
    transitions = [
        # Both lanes checked: a detected fault takes the lane out, or stops the bridge; a
        # rolled-back one (share r) leaves both lanes online: no transition.
        ("dual", "single_t", 2 * lt * c * q),
        ("dual", "single_p", 2 * lp * c * q),
        ("dual", "reboot", 2 * lt * (1 - c * (q + r))),   # halted, or undetected: a crash
        ("dual", "repair", 2 * lp * (1 - c * (q + r))),
        # The lane is inserted again (at once after a transient, after the repair of a
        # permanent fault); LANE_CMD INSERT resets every lane, so the system is down
        # while the work starts again (no live resync yet).
        ("single_t", "restart", 1 / p.resync),
        ("single_p", "restart", 1 / p.mttr),
        ("restart", "dual", 1 / p.restart),
        # One lane left, unchecked: any effective fault stops the system.
        ("single_t", "reboot", lt), ("single_t", "repair", lp),
        ("single_p", "reboot_p", lt), ("single_p", "repair", lp),
        ("reboot", "dual", 1 / p.reboot),
        ("reboot_p", "single_p", 1 / p.reboot),
        ("repair", "dual", 1 / p.mttr),
    ]
    unchecked = p.silent * (lp + lt)
    return _model("dmr_lockstep",
                  ["dual", "single_t", "single_p", "reboot", "reboot_p", "repair", "restart"],
                  ["dual", "single_t", "single_p"], transitions,
                  {"dual": 2 * (lp + lt) * (1 - c), "single_t": unchecked,
                   "single_p": unchecked})


def _tmr(p):
    lp, lt = p.lambda_permanent * (1 - p.masked), p.lambda_transient * (1 - p.masked)
    c, q3, q, r = p.coverage, p.isolation_tmr, p.isolation, p.recovery
    transitions = [
        ("triple", "dual_t", 3 * lt * c * q3),
        ("triple", "dual_p", 3 * lp * c * q3),
        ("triple", "reboot", 3 * lt * (1 - c * q3)),
        ("triple", "repair", 3 * lp * (1 - c * q3)),
        # Inserting the lane again resets every lane: a restart (down), as in DMR.
        ("dual_t", "restart", 1 / p.resync),
        ("dual_p", "restart", 1 / p.mttr),
        ("restart", "triple", 1 / p.restart),
    ]
    for dual in ("dual_t", "dual_p"):
        # Two lanes left: DMR, with its rollback share (no transition).
        transitions += [
            (dual, "single", 2 * (lt + lp) * c * q),
            (dual, "reboot", 2 * lt * (1 - c * (q + r))),
            (dual, "repair", 2 * lp * (1 - c * (q + r))),
        ]
    transitions += [
        ("single", "restart", 1 / p.mttr),      # conservative: wait for the repair
        ("single", "reboot", lt), ("single", "repair", lp),
        ("reboot", "triple", 1 / p.reboot),
        ("repair", "triple", 1 / p.mttr),
    ]
    return _model("tmr", ["triple", "dual_t", "dual_p", "single", "reboot", "repair",
                          "restart"],
                  ["triple", "dual_t", "dual_p", "single"], transitions,
                  {"triple": 3 * (lp + lt) * (1 - c), "dual_t": 2 * (lp + lt) * (1 - c),
                   "dual_p": 2 * (lp + lt) * (1 - c), "single": p.silent * (lp + lt)})


ARCHITECTURES = {"simplex": _simplex, "ha_cluster": _ha_cluster, "dmr_lockstep": _dmr,
                 "tmr": _tmr}


def build(architecture, parameters=None):
    """Return the :class:`Model` of an architecture for the parameters."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Architecture must be one of {', '.join(ARCHITECTURES)}, not "
                         f"{architecture!r}")
    return ARCHITECTURES[architecture](parameters or Parameters())


def solve(model):
    """Return the steady-state distribution of a model (``pi Q = 0``, ``sum(pi) = 1``)."""
    q = model.generator()
    a = q.T.copy()
    a[-1, :] = 1.0
    b = np.zeros(len(model.states))
    b[-1] = 1.0
    return np.linalg.solve(a, b)


def nines(availability):
    """The number of nines of an availability: ``-log10(1 - A)``."""
    return math.inf if availability >= 1 else -math.log10(1 - availability)


def downtime_minutes(availability):
    """Expected downtime per year, in minutes."""
    return (1 - availability) * MINUTES_PER_YEAR


def evaluate(architecture, parameters=None):
    """Return availability, nines, downtime (minutes/year) and silent-corruption FIT."""
    parameters = parameters or Parameters()
    model = build(architecture, parameters)
    pi = solve(model)
    unavailability = float(sum(pi[i] for i in range(len(pi)) if i not in model.up))
    availability = 1 - unavailability
    sdc_per_hour = float(np.dot(pi, model.sdc))
    return {"architecture": architecture, "availability": availability,
            "unavailability": unavailability, "nines": nines(availability),
            "downtime_minutes_per_year": unavailability * MINUTES_PER_YEAR,
            "sdc_fit": sdc_per_hour / FIT, "parameters": parameters.as_dict()}


def to_prism(model):
    """Return the model as a PRISM CTMC, with the label ``"up"`` on its up states and
    ``"state_<name>"`` on each state (``"state_restart"``: the lockstep models' restart
    after an insert)."""
    lines = [f"// {model.name}: written by ftvoter.analysis.availability", "ctmc", "",
             f"module {model.name}",
             f"  s : [0..{len(model.states) - 1}] init 0;"]
    lines += [f"  // s={i}: {state}{' (up)' if i in model.up else ''}"
              for i, state in enumerate(model.states)]
    for source, target, rate in model.transitions:
        lines.append(f"  [] s={source} -> {rate!r} : (s'={target});")
    lines += ["endmodule", "",
              'label "up" = ' + " | ".join(f"s={i}" for i in sorted(model.up)) + ";"]
    lines += [f'label "state_{state}" = s={i};' for i, state in enumerate(model.states)]
    lines.append("")
    return "\n".join(lines)


def load_parameters(path, base=None):
    """Read parameters from a TOML file (keys as :class:`Parameters`); raise ``ValueError``
    with the file, key and reason if it is malformed."""
    import tomllib
    from pathlib import Path
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    known = {field.name for field in fields(Parameters)}
    for key in data:
        if key not in known:
            raise ValueError(f"{path}: {key}: unknown parameter (known: "
                             f"{', '.join(sorted(known))})")
    try:
        return replace(base or Parameters(), **data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
