"""The campaign report: ``index.html`` (one self-contained page) and ``summary.json``.

Every figure on the page is taken from the same summary that is written to
``summary.json``, so the two always agree. Every file is written atomically
(:func:`~ftvoter.analysis.files.write_atomic`).
"""

import base64
import html
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import plots
from .availability import ARCHITECTURES, Parameters, evaluate
from .files import write_atomic
from .stats import (
    DETECTED,
    by_group,
    campaign_parameters,
    coverage,
    describe_stop,
    incomplete,
    latency,
    load_campaign,
    outcome_shares,
    planned_injections,
    site_group,
    wilson,
)

__all__ = ["summarise", "write_report"]


def summarise(manifest, records, parameters=None, *, problems=""):
    """Return the report's figures as a JSON-ready dict.

    ``problems`` is the line saying what was set aside when the records were read
    (:meth:`~ftvoter.analysis.files.Results.problems`); the summary's ``problems`` adds
    ``incomplete: N of M planned injections`` when fewer records than the manifest's
    planned injections are given (so it equals
    :meth:`~ftvoter.analysis.stats.Campaign.problems`). ``escaped`` counts the records
    whose wrong request reached a path before any detection (``escaped: true``).
    """
    planned = planned_injections(manifest)
    missing = incomplete(len(records), planned)
    escaped = sum(record.get("escaped") is True for record in records)
    measured = campaign_parameters(records)
    parameters = replace(parameters or Parameters(), **measured)
    lanes = manifest.get("campaign", {}).get("spec", {}).get("design", {}).get("lanes", 2)
    detected = [r for r in records if r["outcome"] in DETECTED]
    per_model = {model: latency([r["detection_latency"] for r in group])
                 for model, group in by_group(detected, lambda r: r["model"]).items()}
    per_group = {group: outcome_shares(rs)
                 for group, rs in by_group(records, site_group).items()}
    availability = [evaluate(a, parameters) for a in ARCHITECTURES]
    per_site_group = {group: latency([r["detection_latency"] for r in rs])
                      for group, rs in by_group(detected, site_group).items()}
    resynced = [r for r in records if r.get("resync_stop") is not None]
    stops_by_model = {model: latency([r["resync_stop"] for r in group])
                      for model, group in by_group(resynced, lambda r: r["model"]).items()}
    return {
        "campaign": manifest.get("campaign", {}).get("spec", {}),
        "seed": manifest.get("seed"),
        "git_revision": manifest.get("git_revision"),
        "versions": manifest.get("versions", {}),
        "lanes": lanes,
        "injections": len(records),
        "planned": planned,
        "stop": manifest.get("stop"),
        "complete": not missing,
        "problems": "; ".join(part for part in (problems, missing) if part),
        "outcomes": outcome_shares(records),
        "escaped": {"count": escaped, "share": escaped / len(records) if records else 0.0,
                    "interval": wilson(escaped, len(records))},
        "coverage": coverage(records),
        "detection_latency": latency([r.get("detection_latency") for r in records]),
        "propagation_latency": latency([r.get("propagation_latency") for r in records]),
        "detection_latency_by_model": per_model,
        "detection_latency_by_site_group": per_site_group,
        "outcomes_by_site_group": per_group,
        # Lane faults (remove-insert, unplug): the survivors' stop of each live resync.
        "resync_stop": latency([r["resync_stop"] for r in resynced]),
        "resync_stop_by_model": stops_by_model,
        "availability_parameters": parameters.as_dict(),
        "measured_parameters": measured,
        "availability": availability,
        "availability_vs_coverage": plots.sweep(parameters, "coverage",
                                                np.linspace(0.5, 1.0, 51)),
        "availability_vs_mttr": plots.sweep(parameters, "mttr", np.geomspace(0.25, 72, 40)),
    }


def _strip(summary):
    """The summary without the per-point CDF data (kept out of summary.json's top)."""
    def clean(stats):
        if stats is None:
            return None
        return {k: v for k, v in stats.items() if k not in ("cdf",)}
    out = dict(summary)
    for key in ("detection_latency", "propagation_latency", "resync_stop"):
        out[key] = clean(out[key])
    for key in ("detection_latency_by_model", "detection_latency_by_site_group",
                "resync_stop_by_model"):
        out[key] = {k: clean(v) for k, v in out[key].items()}
    return out


def _pct(value):
    return "—" if value is None else f"{100 * value:.2f}%"


def _interval(share):
    low, high = share["interval"]
    return f"{100 * low:.2f}% – {100 * high:.2f}%"


def write_report(directory, parameters=None):
    """Write ``index.html``, ``summary.json`` and the plots into a campaign folder."""
    directory = Path(directory)
    campaign = load_campaign(directory)
    summary = summarise(campaign.manifest, campaign.records, parameters,
                        problems=campaign.results.problems())
    name = summary["campaign"].get("name", directory.name)
    pngs = {
        "latency.png": plots.latency_plot(
            {**{"all": summary["detection_latency"]}, **summary["detection_latency_by_model"]},
            directory / "latency.png", f"{name}: detection latency"),
        "outcomes.png": plots.outcome_plot(summary["outcomes_by_site_group"],
                                           directory / "outcomes.png",
                                           f"{name}: outcomes per site group"),
        "availability_coverage.png": plots.coverage_plot(
            summary["availability_vs_coverage"], directory / "availability_coverage.png"),
        "availability_mttr.png": plots.mttr_plot(summary["availability_vs_mttr"],
                                                 directory / "availability_mttr.png"),
        "downtime.png": plots.downtime_plot(summary["availability"],
                                            directory / "downtime.png"),
    }
    if summary["resync_stop"] is not None:
        pngs["resync.png"] = plots.latency_plot(
            {"all": summary["resync_stop"], **summary["resync_stop_by_model"]},
            directory / "resync.png", f"{name}: resync stop", what="Resync stop",
            xlabel="the survivors' stop (cycles)", share="share of resyncs within")
    write_atomic(directory / "summary.json",
                 json.dumps(_strip(summary), indent=2, sort_keys=True))
    write_atomic(directory / "index.html", _page(summary, pngs, name))
    return directory / "index.html"


def _image(path, alt):
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(alt)} (<a href=\"{Path(path).name}\">"
            f"{Path(path).name}</a>)</figcaption></figure>")


def _outcome_rows(summary):
    """The outcome table's rows."""
    rows = "".join(
        f"<tr><td>{o}</td><td>{s['count']}</td><td>{_pct(s['share'])}</td>"
        f"<td>{_interval(s)}</td></tr>" for o, s in summary["outcomes"].items())
    return rows


def _metric_rows(cov):
    """The coverage and safety metrics' rows."""
    metrics = "".join(
        f"<tr><td>{label}</td><td>{_pct(cov[key]['value'])}</td><td>{_interval(cov[key])}"
        f"</td><td>{cov[key]['numerator']} / {cov[key]['denominator']}</td></tr>"
        for key, label in (
            ("diagnostic_coverage", "diagnostic coverage (detected in time / not masked; "
                                    "late counts as not covered)"),
            ("latent_share", "latent faults (share of all)"),
            ("spfm", "single-point fault metric (1 − (sdc + late + hang) / all)"),
            ("lfm", "latent fault metric (1 − latent / (all − sdc − late − hang))")))
    return metrics


def _latency_rows(summary):
    """The latency table's rows: overall, per fault model and per site group."""
    e = html.escape
    lat_rows = ""
    for label, stats in (("detection", summary["detection_latency"]),
                         ("propagation", summary["propagation_latency"]),
                         *((f"detection, {m}", s) for m, s in
                           summary["detection_latency_by_model"].items()),
                         *((f"detection, {g}", s) for g, s in
                           summary["detection_latency_by_site_group"].items())):
        if stats is None:
            lat_rows += f"<tr><td>{e(label)}</td><td colspan=6>none</td></tr>"
            continue
        lat_rows += (f"<tr><td>{e(label)}</td><td>{stats['n']}</td>"
                     + "".join(f"<td>{stats[k]:.0f}</td>" for k in ("min", "p50", "p90",
                                                                     "p99", "max"))
                     + "</tr>")
    return lat_rows


def _resync_section(summary, pngs):
    """Lane faults: the distribution of the survivors' stops (empty without them)."""
    if "resync.png" not in pngs:
        return ""
    rows = ""
    for label, stats in (("all", summary["resync_stop"]),
                         *summary["resync_stop_by_model"].items()):
        rows += (f"<tr><td>{html.escape(label)}</td><td>{stats['n']}</td>"
                 + "".join(f"<td>{stats[k]:.0f}</td>" for k in ("min", "p50", "p90", "p99",
                                                                 "max")) + "</tr>")
    return (f"<h2>Resync stops (cycles)</h2>\n<p class=\"note\">Lane faults: the lane "
            f"came back by a live resync; the survivors stopped for this many cycles (the "
            f"last resync of each run).</p>\n<table><tr><th>faults</th><th>n</th><th>min"
            f"</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>{rows}</table>\n"
            + _image(pngs["resync.png"], "Resync stop: histogram and cumulative distribution"))


def _availability_rows(summary):
    """The availability table's rows and the parameter table's."""
    avail_rows = "".join(
        f"<tr><td>{plots.ARCH_LABELS[r['architecture']]}</td>"
        f"<td>{100 * r['availability']:.6f}%</td><td>{r['nines']:.2f}</td>"
        f"<td>{r['downtime_minutes_per_year']:.3g}</td><td>{r['sdc_fit']:.3g}</td></tr>"
        for r in summary["availability"])
    p = summary["availability_parameters"]
    measured = summary["measured_parameters"]
    param_rows = "".join(
        f"<tr><td>{k}</td><td>{v:.6g}</td>"
        f"<td>{'measured by this campaign' if k in measured else 'default'}</td></tr>"
        for k, v in p.items())
    return avail_rows, param_rows


def _settings(summary):
    """The campaign's settings, seed, revision and versions, as one paragraph."""
    e = html.escape
    spec = summary["campaign"]
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    design = spec.get("design", {})
    faults = spec.get("faults", {})
    settings = " ".join([
        f"{summary['injections']} injections"
        + ("" if summary["planned"] is None else f" (of {summary['planned']} planned)")
        + f" on {summary['lanes']}",
        f"<code>{e(str(design.get('lane')))}</code> lanes,",
        f"offset {e(str(design.get('offset')))},",
        f"policy <code>{e(str(design.get('policy')))}</code>;",
        f"faults: sites {e(json.dumps(faults.get('sites')))},",
        f"models {e(json.dumps(faults.get('models')))},",
        f"start {e(json.dumps(faults.get('start')))},",
        f"duration {e(str(faults.get('duration')))} (0 = permanent),",
        f"common cause {e(str(faults.get('common')))};",
        f"workload {e(json.dumps(spec.get('workload')))};",
        f"observation {e(json.dumps(spec.get('observation')))}.",
        f"Seed {e(str(summary['seed']))}, revision",
        f"<code>{e(str(summary['git_revision']))}</code>; {e(versions)}.",
    ])
    return settings


def _page(summary, pngs, name):
    e = html.escape
    rows = _outcome_rows(summary)
    metrics = _metric_rows(summary["coverage"])
    lat_rows = _latency_rows(summary)
    avail_rows, param_rows = _availability_rows(summary)
    escaped = summary["escaped"]
    warning = (f'<p class="warning">Warning: {e(summary["problems"])}. The figures below '
               f"are computed from the {summary['injections']} records that were read."
               f"</p>" if summary["problems"] else "")
    settings = _settings(summary)
    stop = summary.get("stop")
    stopped = (f'<p id="stop">Stopped by {e(describe_stop(stop))}.</p>'
               if isinstance(stop, dict) else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ftvoter campaign {e(name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }}
figure {{ margin: 1em 0 2em; }}
figcaption, .note {{ color: #555; font-size: 0.9em; }}
.warning {{ background: #fff3e0; border-left: 4px solid #e65100; padding: 0.5em 1em; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
</style></head><body>
<h1>Fault campaign <code>{e(name)}</code></h1>
<p>{settings}</p>
{stopped}
{warning}

<h2>Outcomes</h2>
<p class="note">Intervals are 95% Wilson score intervals. See the README for the outcome rules.</p>
<table><tr><th>outcome</th><th>count</th><th>share</th><th>95% interval</th></tr>{rows}</table>
<p>Escaped (a wrong request reached a path before any detection):
<span id="escaped">{escaped['count']}</span> injections, {_pct(escaped['share'])}
(95% interval {_interval(escaped)}).</p>

<h2>Coverage and safety metrics</h2>
<table><tr><th>metric</th><th>value</th><th>95% interval</th><th>count</th></tr>{metrics}</table>

<h2>Latency (cycles from injection)</h2>
<table><tr><th>latency</th><th>n</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>{lat_rows}</table>
{_image(pngs['latency.png'], 'Detection latency: histogram and cumulative distribution')}
{_image(pngs['outcomes.png'], 'Outcomes per site group')}
{_resync_section(summary, pngs)}
<h2>Availability</h2>
<p class="note">Continuous-time Markov models (states, transitions and assumptions in
<code>docs/availability.md</code>), with the parameters below: the masked share, coverage and
isolation are measured by this campaign, the rest are stated defaults. Downtime in minutes
per year; silent data corruption (undetected wrong output) in FIT, failures per 10⁹ hours.</p>
<table><tr><th>architecture</th><th>availability</th><th>nines</th><th>downtime (min/year)</th>
<th>silent corruption (FIT)</th></tr>{avail_rows}</table>
<table><tr><th>parameter</th><th>value</th><th>source</th></tr>{param_rows}</table>
<p class="note">Rates per hour (1000 FIT = 10⁻⁶ per hour), times in hours.</p>
{_image(pngs['availability_coverage.png'], 'Availability against coverage')}
{_image(pngs['availability_mttr.png'], 'Availability against repair time (MTTR)')}
{_image(pngs['downtime.png'], 'Downtime per year and silent corruption per architecture')}
<p class="note">All figures on this page are in <a href="summary.json">summary.json</a>.</p>
</body></html>
"""
