import itertools

import pytest
from amaranth.sim import Simulator

from ftvoter.hdl.voter import MajorityVoter
from ftvoter.sim.models import vote


class TestMajorityVoter:
    def test_init(self):
        dut = MajorityVoter(8)
        assert dut.width == 8
        assert [len(dut.lane0), len(dut.out), len(dut.disagree)] == [8, 8, 3]

    @pytest.mark.parametrize("width", [0, 2.0, "3", False])
    def test_init_wrong_width(self, width):
        with pytest.raises(TypeError, match=r"^Width must be a positive integer, not .+$"):
            MajorityVoter(width)

    def test_exhaustive(self):
        # Every combination of three 3-bit lanes (512 cases) against the golden vote.
        width = 3
        dut = MajorityVoter(width)
        cases = list(itertools.product(range(2**width), repeat=3))
        seen = []

        async def testbench(ctx):
            for case in cases:
                for index, value in enumerate(case):
                    ctx.set(getattr(dut, f"lane{index}"), value)
                seen.append((ctx.get(dut.out), ctx.get(dut.disagree)))

        sim = Simulator(dut)
        sim.add_testbench(testbench)
        sim.run()
        for case, (out, disagree) in zip(cases, seen, strict=True):
            majority = vote(case)
            assert out == majority, case
            assert disagree == sum(1 << i for i, v in enumerate(case) if v != majority), case
        # A single faulty lane is always outvoted.
        assert all(out == a for (a, b, c), (out, _) in zip(cases, seen, strict=True) if a == b)
