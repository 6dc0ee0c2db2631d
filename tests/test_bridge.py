import pytest

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.encodings import CHANNELS
from ftvoter.sim.latency import measure_latency


class TestVotingBridge:
    def test_init(self):
        dut = VotingBridge(lanes=3, paths=2, policy="diagnose", timeout=100, csr_base=0x8000)
        assert (dut.lanes, dut.paths, dut.policy, dut.timeout, dut.csr_base) == \
            (3, 2, "diagnose", 100, 0x8000)
        for name in ("lane2_bus", "lane2_self_error", "lane2_irq", "path1_bus", "mgmt",
                     "irq_in", "mgmt_irq", "online", "lane_freeze", "lanes_reset",
                     "mismatch", "disagree", "diag_request", "lane2_diag_done",
                     "lane2_diag_pass"):
            assert hasattr(dut, name), name
        assert VotingBridge().csr_base == 0xFFFF_FF00      # 32-bit addresses by default
        assert VotingBridge(addr_width=16).csr_base == 0xFF00
        assert not hasattr(VotingBridge(), "diag_request")
        assert not hasattr(VotingBridge(), "path1_bus")

    @pytest.mark.parametrize("kwargs, error, message", [
        ({"lanes": 1}, TypeError, r"^Lane count must be 2 or 3, not 1$"),
        ({"paths": 3}, TypeError, r"^Path count must be 1 or 2, not 3$"),
        ({"policy": "panic"}, TypeError, r"^Policy must be 'halt' or 'diagnose', not 'panic'$"),
        ({"timeout": 1}, TypeError, r"^Timeout must be an integer from 2 to 65535, not 1$"),
        ({"addr_width": 8}, TypeError, r"^Address width must be an integer from 9 to 32, "
                                       r"not 8$"),
        ({"csr_base": "x"}, TypeError, r"^CSR base must be an integer, not 'x'$"),
        ({"irq_width": 0}, TypeError, r"^Interrupt width must be an integer greater than or "
                                      r"equal to 1, not 0$"),
        ({"csr_base": 0x80}, ValueError, r"^CSR base must be a multiple of 256 within the "
                                         r"32-bit address space, not 0x80$"),
        ({"csr_base": 2**32}, ValueError, r"^CSR base must be a multiple of 256 within "
                                          r"the 32-bit address space, not 0x100000000$"),
        ({"csr_base": 0x10000, "addr_width": 16}, ValueError, r"^CSR base must be a multiple "
                                                              r"of 256 within the 16-bit "
                                                              r"address space, not 0x10000$"),
    ])
    def test_init_wrong(self, kwargs, error, message):
        with pytest.raises(error, match=message):
            VotingBridge(**kwargs)

    def test_adds_one_cycle(self):
        # Every transaction through the bridge takes one cycle more than the same
        # transaction on a lane wired straight to the RAM (2 cycles: request, response),
        # except one that meets the comparator's self-test sequence at reset (800 cycles:
        # before the next, SELFTEST.PERIOD 1024): it waits for the sequence's test
        # cycles, one per channel, at most.
        rows = measure_latency(cycles=800)
        assert rows["direct"]["min"] == rows["direct"]["max"] == 2
        for name in ("bridge DMR", "bridge TMR"):
            row = rows[name]
            assert row["min"] == 3 and row["max"] <= 3 + len(CHANNELS), row
            assert row["mean"] * row["transactions"] <= 3 * row["transactions"] + \
                len(CHANNELS), row


class TestAddressWindow:
    """32-bit addresses (the default) with the register window at 0x8000_0000."""

    BASE = 0x8000_0000
    PATH = (BASE - 4, BASE + 0x100, 0xFFFF_FFFC, 0x4000_0064)

    def test_register_window_at_0x8000_0000(self):
        import random

        from amaranth.sim import Simulator

        from ftvoter.sim.models import MemoryModel, Read, Write

        from axi_sim import read, serve, write

        def lanes_of(dut):
            return [getattr(dut, f"lane{i}_bus") for i in range(dut.lanes)]

        dut = VotingBridge(lanes=2, csr_base=self.BASE)
        assert dut.lane0_bus.awaddr.shape().width == 32
        memory, log, seen = MemoryModel(), [], {}

        async def lanes(ctx):
            # ID at offset 0x00 ("FTVR"), SCRATCH at 0x64: in the window, never on the path.
            seen["id"] = await read(ctx, lanes_of(dut), self.BASE + 0x00)
            seen["w"] = await write(ctx, lanes_of(dut), self.BASE + 0x64, 0xC0FFEE11)
            seen["scratch"] = await read(ctx, lanes_of(dut), self.BASE + 0x64)
            # Just outside the window, on both sides, a high address and one whose low 16
            # bits are the window's: on the path.
            for addr in self.PATH:
                seen[addr] = await write(ctx, lanes_of(dut), addr, addr ^ 0x5A5A5A5A)
            seen["back"] = await read(ctx, lanes_of(dut), 0xFFFF_FFFC)

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(serve(dut.path0_bus, memory, log, random.Random(1), stall=0.3),
                          background=True)
        sim.add_testbench(lanes)
        sim.run()
        assert seen["id"] == 0x46545652
        assert seen["w"] == 0 and seen["scratch"] == 0xC0FFEE11
        assert log == [Write(addr, addr ^ 0x5A5A5A5A, 0xF) for addr in self.PATH] + \
            [Read(0xFFFF_FFFC, 0xFFFF_FFFC ^ 0x5A5A5A5A)]
        assert seen["back"] == 0xFFFF_FFFC ^ 0x5A5A5A5A
