"""Campaign statistics: outcome shares with confidence intervals, coverage, latency.

Reads a campaign folder (``results.jsonl``, ``manifest.json``) as written by
``ftvoter campaign``, through :func:`ftvoter.analysis.files.read_results` (the one reader of
a results store); needs numpy only.
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import OUTCOMES, Results, read_results

__all__ = ["OUTCOMES", "DETECTED", "COVERED", "Campaign", "load", "load_campaign",
           "incomplete", "wilson", "outcome_shares", "coverage", "latency", "site_group",
           "by_group", "campaign_parameters", "Z95", "planned_injections",
           "describe_stop"]

#: Outcomes in which the fault was detected (a ``mismatch`` or a lane's ``self_error``),
#: in time or not: ``late`` is detected, but only after a wrong request had reached a
#: path. Their detection latencies are real detection latencies, so the report's latency
#: figures take all of them.
DETECTED = ("corrected", "isolated", "wrong_lane", "recovered", "halted", "late",
            "false_alarm")
#: Outcomes detected in time, before any wrong request reached a path: the detections
#: that count for diagnostic coverage and the availability models' ``coverage``
#: (``late`` is not among them: a detection after the wrong output is not a safe one).
COVERED = tuple(outcome for outcome in DETECTED if outcome != "late")
#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


@dataclass
class Campaign:
    """A campaign folder as :func:`load_campaign` read it.

    ``manifest`` is ``manifest.json`` (``{}`` without one); ``results`` the
    :class:`~ftvoter.analysis.files.Results` of ``results.jsonl`` and ``records`` its good
    records (one per id); ``planned`` the number of planned injections
    (``manifest["campaign"]["injections"]``), or ``None`` when the manifest does not say.
    """
    directory: Path
    manifest: dict
    results: Results
    planned: int | None

    @property
    def records(self):
        return self.results.records

    @property
    def complete(self):
        """False when fewer distinct records than planned injections were read (true when
        the manifest gives no plan: nothing is known to be missing)."""
        return not incomplete(len(self.records), self.planned)

    def problems(self):
        """One line saying what is wrong with the results (empty when nothing is): the
        lines set aside by :func:`~ftvoter.analysis.files.read_results` and, when the
        campaign is not complete, ``incomplete: N of M planned injections``."""
        parts = (self.results.problems(), incomplete(len(self.records), self.planned))
        return "; ".join(part for part in parts if part)


def incomplete(found, planned):
    """``"incomplete: N of M planned injections"`` when ``found < planned``, else ``""``
    (also when ``planned`` is ``None``, unknown)."""
    if planned is None or found >= planned:
        return ""
    return f"incomplete: {found} of {planned} planned injections"


def _manifest(path):
    """Read ``manifest.json`` (``{}`` when there is none); ``ValueError`` naming the file
    when it is not a valid manifest."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_bytes())
    except OSError as error:
        raise ValueError(f"{path}: not a valid manifest (cannot be read: "
                         f"{error.strerror})") from None
    except (ValueError, RecursionError) as error:
        reason = "not valid JSON" if isinstance(error, RecursionError) else \
            str(error).splitlines()[0]
        raise ValueError(f"{path}: not a valid manifest ({reason})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: not a valid manifest (a JSON {type(manifest).__name__}, "
                         f"not an object)")
    campaign = manifest.get("campaign", {})
    if not isinstance(campaign, dict):
        raise ValueError(f"{path}: not a valid manifest (campaign must be an object, not "
                         f"{campaign!r})")
    planned = campaign.get("injections")
    if planned is not None and (not isinstance(planned, int) or isinstance(planned, bool)
                                or planned < 0):
        raise ValueError(f"{path}: not a valid manifest (campaign.injections must be a "
                         f"non-negative integer, not {planned!r})")
    return manifest


def load_campaign(directory):
    """Read a campaign folder; return a :class:`Campaign`.

    Records come from :func:`~ftvoter.analysis.files.read_results` with the manifest's
    number of planned injections: each id is counted once, and a line that is not a
    result record (garbage, an unknown outcome, an id outside the plan) or a torn last
    line is set aside and named by :meth:`Campaign.problems`, never raised.

    Raises ``FileNotFoundError`` if the folder holds no ``results.jsonl``, ``ValueError``
    (``"<path>: not a valid manifest (...)"``) if ``manifest.json`` is not a JSON object
    (or its number of planned injections is not a non-negative integer).
    """
    directory = Path(directory)
    path = directory / "results.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} holds no campaign results (results.jsonl)")
    manifest = _manifest(directory / "manifest.json")
    planned = manifest.get("campaign", {}).get("injections")
    return Campaign(directory, manifest, read_results(path, planned=planned),
                    planned_injections(manifest))


def planned_injections(manifest):
    """The injections a campaign is to hold: the manifest's planned number, or fewer when
    its ``stop`` says the campaign stopped early (statistical stopping,
    :mod:`ftvoter.sim.stopping`); ``None`` when the manifest does not say."""
    planned = manifest.get("campaign", {}).get("injections")
    stop = manifest.get("stop")
    if planned is not None and isinstance(stop, dict):
        ran = stop.get("injections")
        if isinstance(ran, int) and not isinstance(ran, bool) and 0 <= ran < planned:
            return ran
    return planned


def load(directory):
    """Return ``(manifest, records)`` of a campaign folder (see :func:`load_campaign`,
    which also says what was set aside)."""
    campaign = load_campaign(directory)
    return campaign.manifest, campaign.records


def wilson(successes, trials, z=Z95):
    """Return the Wilson score interval ``(low, high)`` of a binomial share.

    With no trials the interval is ``(0, 1)``.
    """
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def outcome_shares(records):
    """Return, per outcome, its count, share and 95% Wilson interval (of all records)."""
    total = len(records)
    counts = {outcome: 0 for outcome in OUTCOMES}
    for record in records:
        counts[record["outcome"]] += 1
    return {outcome: {"count": count, "share": count / total if total else 0.0,
                      "interval": wilson(count, total)}
            for outcome, count in counts.items()}


def _share(k, n):
    return {"value": k / n if n else None, "interval": wilson(k, n), "numerator": k,
            "denominator": n}


def coverage(records):
    """Diagnostic coverage and the ISO 26262-style metrics, with 95% intervals.

    Over the injections that ran (``sim_error`` excluded):

    - diagnostic coverage = covered / not masked, covered = detected in time
      (:data:`COVERED`): ``late`` is *not* covered, since a detection after a wrong
      request reached a path is not a safe detection;
    - latent share = latent / all;
    - single-point fault metric SPFM = 1 - (sdc + late + hang) / all: the faults that
      violate the goal, wrong output (undetected, or detected too late) or no progress;
    - latent fault metric LFM = 1 - latent / (all - sdc - late - hang).
    """
    ran = [record for record in records if record["outcome"] != "sim_error"]
    n = len(ran)
    count = {outcome: sum(r["outcome"] == outcome for r in ran) for outcome in OUTCOMES}
    covered = sum(count[outcome] for outcome in COVERED)
    effective = n - count["masked"]
    violating = count["sdc"] + count["late"] + count["hang"]
    spfm = _share(n - violating, n)
    lfm = _share(n - violating - count["latent"], n - violating)
    return {
        "injections": n,
        "diagnostic_coverage": _share(covered, effective),
        "latent_share": _share(count["latent"], n),
        "spfm": spfm,
        "lfm": lfm,
    }


def latency(values):
    """Percentiles (nearest rank), mean, a histogram and the CDF of latencies in cycles."""
    values = np.sort(np.asarray([v for v in values if v is not None], dtype=float))
    if not len(values):
        return None

    def at(q):
        return float(values[max(0, math.ceil(q * len(values)) - 1)])
    edges = np.histogram_bin_edges(values, bins=min(40, max(1, len(np.unique(values)))))
    counts, edges = np.histogram(values, bins=edges)
    return {"n": int(len(values)), "min": float(values[0]), "p50": at(0.5), "p90": at(0.9),
            "p99": at(0.99), "max": float(values[-1]), "mean": float(values.mean()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "cdf": {"x": values.tolist(),
                    "p": (np.arange(1, len(values) + 1) / len(values)).tolist()}}


#: CPU lanes' sites by what they are (first match wins): ``(group, pattern)`` on the
#: register's name below the lane. PicoRV32 (``picorv32_core.*``, its AXI adapter
#: ``axi_adapter.*``) and Sentinel (``cpu.*``, its Wishbone-to-AXI4-Lite ``adapter.*``;
#: its register file RAM holds the 32 x registers in words 0-31 and the machine CSRs
#: from word 32).
CPU_GROUPS = [
    ("regfile", r"picorv32_core\.cpuregs\[|"
                r"cpu\.datapath\.regfile\.mem\[([0-9]|[12][0-9]|3[01])\]$"),
    ("csr", r"picorv32_core\.count_|cpu\.datapath\.regfile\.mem\[|cpu\.datapath\.csrfile\.|"
            r"cpu\.exception_router\."),
    ("pc", r"picorv32_core\.reg_(next_)?pc$|cpu\.datapath\.pc_mod\."),
    ("bus", r"axi_adapter\.|picorv32_core\.mem_|adapter\.|cpu\.(data_adr|write_data)$"),
    ("memory", r"^ram\."),
    ("control", r"picorv32_core\.|cpu\.|first$"),
]
_CPU_GROUPS = [(group, re.compile(pattern)) for group, pattern in CPU_GROUPS]


def cpu_site_group(register):
    """The group of a CPU lane's site (``regfile``, ``pc``, ``csr``, ``control``, ``bus``,
    ``memory``; :data:`CPU_GROUPS`), or None if ``register`` is not a CPU lane's."""
    for group, pattern in _CPU_GROUPS:
        if pattern.match(register):
            return group
    return None


def site_group(record):
    """The site group of a result: the part of the lane (``regfile``, ``scratch``,
    ``lfsr``, ``ctrl``, ``bus`` of the workload lane; :func:`cpu_site_group` of a CPU
    lane) or ``bridge``."""
    if record.get("lane") is None and not record.get("common"):
        return "bridge"
    register = str(record.get("register", ""))
    return cpu_site_group(register) or register.split(".")[0] or "other"


def by_group(records, key):
    """Split records by ``key(record)`` into a dict of lists, keys sorted."""
    groups = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return dict(sorted(groups.items()))


def campaign_parameters(records):
    """The availability models' shares, measured by a campaign.

    ``masked``: masked and latent (no effect in the window); ``coverage``: covered
    (detected in time, :data:`COVERED`) / effective; ``isolation``: of the covered, those
    after which the right lane was taken out and the system went on (corrected or
    isolated); ``recovery``: of the covered, those rolled back with every lane online
    (recovered). A ``late`` injection is an
    effective fault that was not covered in time: it lowers ``coverage`` (in the models
    it leads to a stop, and its wrong output counts as silent corruption), not
    ``isolation``. Returned as a dict for
    :class:`~ftvoter.analysis.availability.Parameters`.
    """
    ran = [record for record in records if record["outcome"] != "sim_error"]
    n = len(ran)
    if not n:
        raise ValueError("No injection ran: the campaign gives no parameters")
    count = {outcome: sum(r["outcome"] == outcome for r in ran) for outcome in OUTCOMES}
    quiet = count["masked"] + count["latent"]
    covered = sum(count[outcome] for outcome in COVERED)
    went_on = count["corrected"] + count["isolated"]
    return {"masked": quiet / n,
            "coverage": covered / (n - quiet) if n > quiet else 1.0,
            "isolation": went_on / covered if covered else 0.0,
            "recovery": count["recovered"] / covered if covered else 0.0}


def _stop_share(share):
    if share["value"] is None:
        return "none yet"
    low, high = share["interval"]
    return f"{100 * share['value']:.2f}% ({100 * low:.2f}%-{100 * high:.2f}%)"


def describe_stop(stop):
    """One line saying which rule ended a campaign (the manifest's ``stop``, written by
    :mod:`ftvoter.sim.stopping`): ``interval``, ``limit``, ``sample_size``, ``count``,
    ``exhaustive`` or ``explicit``."""
    rule, count = stop.get("rule"), stop.get("injections")
    if rule not in ("interval", "limit") or "coverage" not in stop:
        what = {"count": "faults.count", "exhaustive": "every site bit and model once",
                "explicit": "the injections given", "sample_size":
                "the sample size of the margin and confidence"}.get(rule, rule)
        return f"{rule}: all {count} planned injections ran ({what})"
    level = f"within ±{100 * stop['margin']:g}% at {100 * stop['confidence']:g}%"
    found = (f"coverage {_stop_share(stop['coverage'])}, sdc+late "
             f"{_stop_share(stop['sdc_late'])}")
    if rule == "interval":
        return f"interval: {found} {level} after {count} injections (round {stop['rounds']})"
    return (f"limit: the most to run ({count} injections, {stop['rounds']} rounds) ran "
            f"before the intervals were {level}: {found}")
