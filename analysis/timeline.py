"""What a system went through, over time: lane states, detections, rollbacks, resyncs.

:func:`timeline` turns the samples a simulation recorded (``ftvoter sim --timeline``: the
lockstep top's observation ports each time one changes) into a JSON-ready dict of
segments and events; :func:`timeline_plot` draws it: one row per lane, coloured by state
(ONLINE, BROKEN, REMOVED, SYNCING, FROZEN), with each resync's phases (pre-copy,
waiting for a transaction boundary, the stop) over the joining lane's row, and markers
for mismatches, rollbacks, halts and the management actions.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from ftvoter.hdl.encodings import LANE_STATES  # noqa: E402

from .plots import _save  # noqa: E402

__all__ = ["timeline", "timeline_plot", "STATE_COLOURS"]

STATE_COLOURS = {"ONLINE": "#66bb6a", "BROKEN": "#d32f2f", "REMOVED": "#9e9e9e",
                 "SYNCING": "#42a5f5", "SPLIT": "#ab47bc", "FROZEN": "#90caf9"}
PHASES = {1: "pre-copy", 2: "wait", 3: "stop"}
_NAMES = {value: name for name, value in LANE_STATES.items()}


def _segments(samples, end, key):
    """``[(start, stop, value)]`` of ``key(sample)`` over the samples, up to ``end``."""
    out = []
    for index, (cycle, values) in enumerate(samples):
        stop = samples[index + 1][0] if index + 1 < len(samples) else end
        value = key(values)
        if out and out[-1][2] == value and out[-1][1] == cycle:
            out[-1] = (out[-1][0], stop, value)
        elif stop > cycle:
            out.append((cycle, stop, value))
    return out


def timeline(samples, *, lanes, end, actions=(), resyncs=()):
    """Return the timeline of a run: ``lanes`` (per lane, ``[{"state", "from", "to"}]``),
    ``resync_phases`` (``[{"phase", "from", "to"}]``), ``events`` (mismatches, rollbacks,
    halts and actions, ``{"cycle", "kind", "lane"}``), the resyncs' figures and ``end``.

    ``samples`` are ``[cycle, {port: value}]`` (ports ``lane_states``, ``lane_frozen``,
    ``mismatch``, ``halted``, ``rollback``, ``resync_phase``; missing ones read 0).
    """
    if not isinstance(lanes, int) or lanes not in (2, 3):
        raise ValueError(f"Lanes must be 2 or 3, not {lanes!r}")
    samples = sorted(([int(c), dict(v)] for c, v in samples), key=lambda s: s[0])
    rows = []
    for lane in range(lanes):
        def state(values, lane=lane):
            name = _NAMES[values.get("lane_states", 0) >> 2 * lane & 3]
            if values.get("lane_frozen", 0) >> lane & 1:
                name = "FROZEN"
            return name
        rows.append([{"state": value, "from": a, "to": b}
                     for a, b, value in _segments(samples, end, state)])
    phases = []
    for a, b, value in _segments(samples, end, lambda v: v.get("resync_phase", 0)):
        if value:
            # The lane being resynchronised: the one SYNCING then (or frozen, being dumped).
            joiner = next((lane for lane, row in enumerate(rows) for seg in row
                           if seg["state"] == "SYNCING" and seg["from"] <= a < seg["to"]),
                          None)
            phases.append({"phase": PHASES[value], "from": a, "to": b, "lane": joiner})
    events = []
    for kind, port in (("mismatch", "mismatch"), ("rollback", "rollback"),
                       ("halt", "halted")):
        previous = 0
        for cycle, values in samples:
            if values.get(port, 0) and not previous:
                events.append({"cycle": cycle, "kind": kind, "lane": None})
            previous = values.get(port, 0)
    events += [{"cycle": a["cycle"], "kind": a["action"], "lane": a["lane"]} for a in actions]
    events.sort(key=lambda e: e["cycle"])
    return {"end": end, "lanes": rows, "resync_phases": phases, "events": events,
            "resyncs": list(resyncs)}


def timeline_plot(data, path, *, title="Lane states over time"):
    """Draw :func:`timeline`'s ``data`` as a PNG at ``path``; return ``path``."""
    lanes = len(data["lanes"])
    figure, axes = plt.subplots(figsize=(10, 2.4 + 0.7 * lanes))
    for lane, row in enumerate(data["lanes"]):
        for segment in row:
            axes.barh(lane, segment["to"] - segment["from"], left=segment["from"],
                      height=0.6, color=STATE_COLOURS[segment["state"]], edgecolor="none")
    # A resync lasts a few hundred cycles of a long run: its phases get at least 0.4% of
    # the axis, so that they show.
    least = max(data["end"], 1) / 250
    for phase in data["resync_phases"]:
        lane = phase.get("lane") or 0
        axes.barh(lane + 0.38, max(phase["to"] - phase["from"], least), left=phase["from"],
                  height=0.14, color={"pre-copy": "#1565c0", "wait": "#ffb300",
                                      "stop": "#000000"}[phase["phase"]], edgecolor="none")
    markers = {"mismatch": ("v", "#d32f2f"), "rollback": ("o", "#26a69a"),
               "halt": ("X", "#000000")}
    for event in data["events"]:
        if event["kind"] in markers:
            shape, colour = markers[event["kind"]]
            axes.plot(event["cycle"], lanes - 0.45, shape, color=colour, markersize=7)
        else:
            axes.axvline(event["cycle"], color="#555555", linewidth=0.8, linestyle=":")
            axes.annotate(f"{event['kind']} {event['lane']}", (event["cycle"], lanes - 0.4),
                          fontsize=7, rotation=90, va="bottom")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STATE_COLOURS.values()]
    labels = list(STATE_COLOURS)
    for name, colour in (("pre-copy", "#1565c0"), ("wait", "#ffb300"), ("stop", "#000000")):
        handles.append(plt.Rectangle((0, 0), 1, 1, color=colour))
        labels.append(f"resync {name}")
    for kind, (shape, colour) in markers.items():
        handles.append(plt.Line2D([], [], marker=shape, color=colour, linestyle="none"))
        labels.append(kind)
    axes.legend(handles, labels, fontsize=7, ncol=4, loc="upper center",
                bbox_to_anchor=(0.5, -0.45))
    axes.set_yticks(range(lanes), [f"lane {i}" for i in range(lanes)])
    axes.set_xlim(0, max(data["end"], 1))
    axes.set_ylim(-0.6, lanes + 0.6)
    axes.set_xlabel("cycle")
    axes.set_title(title)
    return _save(figure, path)
