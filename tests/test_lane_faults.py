"""Lane faults of a campaign (remove-insert, unplug): the spec, the plan, the outcomes."""

import pytest
from test_outcomes import record

from ftvoter.sim.outcomes import NEVER, classify
from ftvoter.sim.plan import bench_injections, plan
from ftvoter.sim.spec import SpecError, parse_spec

GOOD = {"design": {"live_resync": True},
        "faults": {"models": ["remove-insert", "unplug"], "count": 20, "duration": 50}}


def _spec(**faults):
    return parse_spec({"design": GOOD["design"], "faults": {**GOOD["faults"], **faults}})


class TestSpec:
    def test_good(self):
        spec = parse_spec(GOOD)
        assert spec.design["live_resync"] and spec.faults["duration"] == 50

    @pytest.mark.parametrize("data, key, reason", [
        ({"faults": GOOD["faults"]}, "faults.models",
         "lane faults (remove-insert, unplug) need a design with live resync "
         "(design.live_resync = true)"),
        ({**GOOD, "faults": {**GOOD["faults"], "models": ["flip", "unplug"]}}, "faults.models",
         "lane faults (remove-insert, unplug) cannot be mixed with register faults in one "
         "campaign, not ['flip', 'unplug']"),
        ({**GOOD, "faults": {**GOOD["faults"], "duration": 0}}, "faults.duration",
         "is the cycles a lane is out with lane faults: at least 1, not 0"),
        ({**GOOD, "faults": {**GOOD["faults"], "common": True}}, "faults.common",
         "lane faults hit one lane: not with faults.common"),
        ({"design": {"live_resync": 1}}, "design.live_resync", "must be true or false, not 1"),
        ({"design": {"live_resync": True, "offset": 2}}, "design.live_resync",
         "needs the voting bridge: not with design.offset"),
    ])
    def test_rejected(self, data, key, reason):
        with pytest.raises(SpecError) as error:
            parse_spec(data)
        assert str(error.value) == f"<spec>: {key}: {reason}"


class TestPlan:
    def test_the_lanes_are_the_sites(self):
        spec = _spec(count=40)
        injections = plan(spec, sites=[])      # register sites play no part
        assert len(injections) == 40
        assert {i["site"] for i in injections} == {"lane0", "lane1"}
        assert {i["model"] for i in injections} == {"remove-insert", "unplug"}
        assert all(i["duration"] == 50 for i in injections)
        fields = bench_injections(injections)
        for injection, field in zip(injections, fields, strict=True):
            # The injector armed with an empty mask: it changes nothing.
            assert field["mask"] == 0 and field["arm"] == 1
            assert field["lane_index"] == injection["lane"]
            assert field["lane_op"] == {"remove-insert": 1, "unplug": 2}[injection["model"]]

    def test_same_seed_same_plan(self):
        assert plan(_spec(), sites=[]) == plan(_spec(), sites=[])


REMOVE = {"start": 100, "lane": 1, "common": False, "model": "remove-insert"}


class TestClassify:
    def test_back_online_is_recovered(self):
        # The removed lane's outputs differ from the golden lane's while it is out, and
        # the system lags by the stop: neither is a fault's effect.
        result = classify(record(diverged_at=105, state_differs=0b10, lag=1, resyncs=1,
                                 resync_stop=32, resync_words=144), REMOVE, lanes=2)
        assert result["outcome"] == "recovered"
        assert result["resync_stop"] == 32 and result["resync_words"] == 144

    def test_not_back_is_isolated(self):
        result = classify(record(online=0b01, resyncs=0, resync_stop=0, resync_words=0),
                          REMOVE, lanes=2)
        assert result["outcome"] == "isolated" and result["resync_stop"] is None

    def test_wrong_io_and_hang(self):
        assert classify(record(io_wrong_at=300, resyncs=1, resync_stop=2, resync_words=0),
                        REMOVE, lanes=2)["outcome"] == "sdc"
        assert classify(record(lag_overflow=1, resyncs=1, resync_stop=2, resync_words=0),
                        REMOVE, lanes=2)["outcome"] == "hang"

    def test_a_detection_follows_the_usual_rules(self):
        result = classify(record(mismatch_at=400, diverged_at=399, halted=1, resyncs=1,
                                 resync_stop=2, resync_words=0), REMOVE, lanes=2)
        assert result["outcome"] == "halted"

    def test_register_faults_have_no_resync_fields(self):
        result = classify(record(), {"start": 1, "lane": 0, "common": False,
                                     "model": "flip"}, lanes=2)
        assert "resync_stop" not in result and result["outcome"] == "masked"
        assert NEVER == 2**32 - 1
