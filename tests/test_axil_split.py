import random

import pytest
from amaranth.sim import Simulator

from ftvoter.hdl.units.axil_split import AXI4LiteSplit
from ftvoter.sim.models import MemoryModel, Read, Write

from axi_sim import read, serve, write

BOUNDARY = 0x4000


class TestAXI4LiteSplit:
    def test_init(self):
        dut = AXI4LiteSplit(boundary=BOUNDARY)
        assert dut.boundary == BOUNDARY
        assert dut.bus.signature == dut.low.signature.flip()
        assert len(dut.low.awaddr) == 32

    @pytest.mark.parametrize("kwargs, message", [
        ({"boundary": 0}, r"^Boundary must be an integer from 1 to 4294967295, not 0$"),
        ({"boundary": 2**32}, r"^Boundary must be an integer from 1 to 4294967295, "
                              r"not 4294967296$"),
        ({"boundary": "x"}, r"^Boundary must be an integer from 1 to 4294967295, not 'x'$"),
        ({"boundary": 16, "addr_width": 0}, r"^Address width must be a positive integer, "
                                            r"not 0$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            AXI4LiteSplit(**kwargs)

    @pytest.mark.parametrize("stall", [0.0, 0.5])
    def test_routes_every_transaction_once(self, stall):
        # Random reads and writes on both sides of the boundary, with stalls on every
        # channel of both targets: each target sees exactly the transactions of its
        # address range, in order, once; reads return what the target holds.
        dut = AXI4LiteSplit(boundary=BOUNDARY)
        rng = random.Random(7)
        memories = {"low": MemoryModel(), "high": MemoryModel()}
        logs = {"low": [], "high": []}
        expected = {"low": [], "high": []}
        shadow = MemoryModel()
        answers = []

        async def initiator(ctx):
            for _ in range(120):
                addr = rng.choice([rng.randrange(0, BOUNDARY, 4),
                                   rng.randrange(BOUNDARY, 2**32, 4),
                                   BOUNDARY - 4, BOUNDARY])
                side = "low" if addr < BOUNDARY else "high"
                if rng.random() < 0.5:
                    data, strb = rng.getrandbits(32), rng.randrange(1, 16)
                    assert await write(ctx, [dut.bus], addr, data, strb) == 0
                    shadow.write(addr, data, strb)
                    expected[side].append(Write(addr, data, strb))
                else:
                    value = await read(ctx, [dut.bus], addr)
                    answers.append((value, shadow.read(addr)))
                    expected[side].append(Read(addr, shadow.read(addr)))

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        for side in ("low", "high"):
            sim.add_testbench(serve(getattr(dut, side), memories[side], logs[side],
                                    random.Random(side), stall=stall), background=True)
        sim.add_testbench(initiator)
        sim.run()
        assert logs == expected
        assert all(got == want for got, want in answers)
        assert expected["low"] and expected["high"]
