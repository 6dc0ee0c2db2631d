"""The timeline of a run (analysis/timeline.py) and the --at / --timeline options."""

import json

import pytest

from ftvoter.analysis.timeline import timeline, timeline_plot
from ftvoter.sim.commands._common import UsageError
from ftvoter.sim.commands._sim_program import parse_at
from ftvoter.sim.program_run import decode_state


def samples():
    # Lane 1 removed at 100, syncing from 300 (pre-copy 300-340, wait 340-342, stop
    # 342-350), online again at 350; a mismatch at 500 and a rollback in the same cycle.
    return [[0, {"lane_states": 0b0000}],
            [100, {"lane_states": 0b1000}],
            [300, {"lane_states": 0b1100, "resync_phase": 1}],
            [340, {"lane_states": 0b1100, "resync_phase": 2}],
            [342, {"lane_states": 0b1100, "resync_phase": 3}],
            [350, {"lane_states": 0b0000}],
            [500, {"mismatch": 1, "rollback": 1}],
            [501, {}]]


class TestTimeline:
    def test_segments_and_events(self):
        data = timeline(samples(), lanes=2, end=1000,
                        actions=[{"cycle": 100, "action": "remove", "lane": 1},
                                 {"cycle": 300, "action": "insert", "lane": 1}])
        assert data["lanes"][0] == [{"state": "ONLINE", "from": 0, "to": 1000}]
        assert data["lanes"][1] == [{"state": "ONLINE", "from": 0, "to": 100},
                                    {"state": "REMOVED", "from": 100, "to": 300},
                                    {"state": "SYNCING", "from": 300, "to": 350},
                                    {"state": "ONLINE", "from": 350, "to": 1000}]
        assert data["resync_phases"] == [
            {"phase": "pre-copy", "from": 300, "to": 340, "lane": 1},
            {"phase": "wait", "from": 340, "to": 342, "lane": 1},
            {"phase": "stop", "from": 342, "to": 350, "lane": 1}]
        kinds = [(e["cycle"], e["kind"]) for e in data["events"]]
        assert kinds == [(100, "remove"), (300, "insert"), (500, "mismatch"),
                         (500, "rollback")]
        json.dumps(data)     # JSON as it is

    def test_frozen_lane(self):
        data = timeline([[0, {}], [10, {"lane_states": 0b10 << 2, "lane_frozen": 0b10}]],
                        lanes=2, end=20)
        assert data["lanes"][1][-1] == {"state": "FROZEN", "from": 10, "to": 20}

    def test_plot_is_a_png(self, tmp_path):
        path = timeline_plot(timeline(samples(), lanes=2, end=1000), tmp_path / "t.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_wrong_lanes(self):
        with pytest.raises(ValueError, match=r"^Lanes must be 2 or 3, not 4$"):
            timeline([], lanes=4, end=1)


class TestAt:
    def test_parse(self):
        assert parse_at(["5000:remove:1", "9000:insert:1", "10:dump:0"], 2) == [
            (5000, "remove", 1), (9000, "insert", 1), (10, "dump", 0)]

    @pytest.mark.parametrize("value, message", [
        ("5000:remove", r"^--at must be CYCLE:ACTION:LANE \(e\.g\. 5000:remove:1\), not "
                        r"'5000:remove'$"),
        ("x:remove:1", r"^--at must be CYCLE:ACTION:LANE"),
        ("5:eject:1", r"^--at 5:eject:1: action must be one of remove, insert, freeze, "
                      r"reset-insert, unplug, plug, dump, split, merge, not 'eject'$"),
        ("5:remove:2", r"^--at 5:remove:2: lane must be 0 to 1, not 2$"),
    ])
    def test_bad(self, value, message):
        with pytest.raises(UsageError, match=message):
            parse_at([value], 2)


def test_decode_state():
    class Layout:
        names = [("a", 0, 4), ("b", 4, 40), ("c", 44, 1)]
    words = [0xFFFF_FFF5, 0x0000_1FFF]
    assert decode_state(Layout, words) == {"a": 5, "b": 2**40 - 1, "c": 1}
