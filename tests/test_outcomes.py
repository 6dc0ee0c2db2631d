"""Outcome rules (DESIGN.md §4) on hand-made bench records."""

import pytest

from ftvoter.sim.campaign import format_summary, summary
from ftvoter.sim.outcomes import NEVER, OUTCOMES, classify


def record(**fields):
    """A bench record of a run in which nothing happened, with ``fields`` changed."""
    base = {"cycle": 500, "mismatch_at": NEVER, "self_error_at": NEVER,
            "diverged_at": NEVER, "io_wrong_at": NEVER, "diverged": 0, "state_differs": 0,
            "online": 0b11, "halted": 0, "lag": 0, "lag_overflow": 0,
            "golden_requests": 40}
    return {**base, **fields}


LANE0 = {"start": 100, "lane": 0, "common": False}


class TestClassify:
    def test_outcome_names(self):
        assert OUTCOMES == ("masked", "latent", "corrected", "isolated", "wrong_lane",
                            "recovered", "halted", "late", "false_alarm", "sdc", "hang",
                            "sim_error")

    @pytest.mark.parametrize("lanes, fields, injection, outcome", [
        (2, {}, LANE0, "masked"),
        (2, {"state_differs": 0b01}, LANE0, "latent"),
        (2, {"diverged_at": 130, "diverged": 0b01}, LANE0, "latent"),
        (3, {"diverged_at": 101, "mismatch_at": 102, "online": 0b110}, LANE0, "corrected"),
        (3, {"diverged_at": 101, "self_error_at": 101, "online": 0b110}, LANE0, "isolated"),
        (2, {"diverged_at": 101, "self_error_at": 101, "online": 0b10}, LANE0, "isolated"),
        (2, {"diverged_at": 101, "mismatch_at": 102, "online": 0b01}, LANE0, "wrong_lane"),
        (2, {"diverged_at": 101, "mismatch_at": 102, "halted": 1}, LANE0, "halted"),
        (2, {"mismatch_at": 102, "halted": 1}, LANE0, "false_alarm"),
        # Rolled back, all online, not halted: recovered, also when the detection was a
        # state comparison (no output diverged) and the system lags by what it redid.
        (2, {"diverged_at": 101, "mismatch_at": 102, "rollbacks": 1}, LANE0, "recovered"),
        (2, {"mismatch_at": 102, "rollbacks": 1}, LANE0, "recovered"),
        (2, {"diverged_at": 101, "mismatch_at": 102, "rollbacks": 1, "lag": 5}, LANE0,
         "recovered"),
        # A recurrence after the rollback halts; one that stalls the system is a hang.
        (2, {"diverged_at": 101, "mismatch_at": 102, "rollbacks": 1, "halted": 1}, LANE0,
         "halted"),
        (2, {"diverged_at": 101, "mismatch_at": 102, "rollbacks": 1, "lag_overflow": 1},
         LANE0, "hang"),
        (2, {"diverged_at": 101, "mismatch_at": 102, "rollbacks": 1, "io_wrong_at": 150},
         LANE0, "sdc"),
        (2, {"io_wrong_at": 105}, {"start": 100, "lane": None}, "sdc"),
        (2, {"diverged_at": 101, "io_wrong_at": 103},
         {"start": 100, "lane": 0, "common": True}, "sdc"),
        (2, {"diverged_at": 101, "lag": 3}, {**LANE0, "common": True}, "hang"),
        (2, {"diverged_at": 101, "lag_overflow": 1}, {**LANE0, "common": True}, "hang"),
        # Two requests behind is a hang (HANG_LAG), one is not.
        (2, {"diverged_at": 101, "lag": 2}, {**LANE0, "common": True}, "hang"),
        (2, {"diverged_at": 101, "lag": 1}, {**LANE0, "common": True}, "latent"),
        # A wrong request on a path before the detection: late, whatever followed it.
        (2, {"diverged_at": 101, "io_wrong_at": 102, "mismatch_at": 103, "halted": 1},
         LANE0, "late"),
        (3, {"diverged_at": 101, "io_wrong_at": 102, "mismatch_at": 103, "online": 0b110},
         LANE0, "late"),
        (2, {"diverged_at": 101, "io_wrong_at": 102, "self_error_at": 104, "online": 0b10},
         LANE0, "late"),
        # In the cycle of the detection it did not escape.
        (2, {"diverged_at": 101, "io_wrong_at": 103, "mismatch_at": 103, "halted": 1},
         LANE0, "halted"),
        # A detection nothing acted on does not make the outcome (plain lockstep)...
        (2, {"diverged_at": 101, "mismatch_at": 102, "io_wrong_at": 103}, LANE0, "sdc"),
    ])
    def test_rules(self, lanes, fields, injection, outcome):
        assert classify(record(**fields), injection, lanes=lanes)["outcome"] == outcome

    def test_detection_only(self):
        # ...but delayed lockstep only detects: its mismatch is the order to stop ...
        result = classify(record(diverged_at=101, mismatch_at=104), LANE0, lanes=2,
                          detection_only=True)
        assert result["outcome"] == "halted"
        assert result["escaped"] is False
        # ... given in time, or too late: a wrong request was out before it.
        result = classify(record(diverged_at=101, io_wrong_at=101, mismatch_at=104),
                          LANE0, lanes=2, detection_only=True)
        assert result["outcome"] == "late"
        assert result["escaped"] is True
        assert result["io_latency"] == 1 and result["detection_latency"] == 4

    def test_latencies(self):
        result = classify(record(diverged_at=101, mismatch_at=102, halted=1, cycle=103),
                          LANE0, lanes=2)
        assert result == {"outcome": "halted", "detection_latency": 2,
                          "propagation_latency": 1, "io_latency": None, "escaped": False,
                          "detected_by": "mismatch", "offline": [], "end_cycle": 103,
                          "rollbacks": 0, "rollback_cycles": None}

    def test_not_applicable_is_null(self):
        result = classify(record(), LANE0, lanes=2)
        assert result["detection_latency"] is None
        assert result["propagation_latency"] is None
        assert result["detected_by"] is None


class TestSummary:
    def test_counts_and_percentiles(self):
        records = ([{"outcome": "halted", "detection_latency": d, "propagation_latency": 1}
                    for d in range(1, 11)] +
                   [{"outcome": "masked", "detection_latency": None,
                     "propagation_latency": None}] * 5)
        figures = summary(records)
        assert figures["injections"] == 15
        assert figures["outcomes"]["halted"] == 10
        assert figures["outcomes"]["masked"] == 5
        assert sum(figures["outcomes"].values()) == 15
        # Nearest-rank percentiles of 1..10.
        assert figures["detection_latency"] == {"n": 10, "min": 1, "p50": 5, "p90": 9,
                                                "p99": 10, "max": 10}
        text = format_summary(figures, "t")
        assert "halted" in text and "66.7%" in text
        assert "detection latency (cycles, n=10): min 1, p50 5, p90 9, p99 10, max 10" in text

    def test_percentiles_are_the_reports(self):
        # One implementation of the percentiles: the report's (analysis.stats.latency), in
        # the latencies' own type (cycles stay integers).
        from ftvoter.analysis.stats import latency
        values = [3, 400, 17, 17, 1, 149, 2, 374, 90, 16, 5, 5, 250]
        records = [{"outcome": "latent", "detection_latency": None,
                    "propagation_latency": value} for value in values]
        figures = summary(records)["propagation_latency"]
        report = latency(values)
        assert figures == {key: int(report[key]) for key in figures}
        assert all(type(value) is int for value in figures.values())
        assert summary(records)["detection_latency"] is None
        assert "detection latency: none" in format_summary(summary(records), "t")
