import pytest

from ftvoter.hdl.bridge import VotingBridge
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
        assert VotingBridge().csr_base == 0xFF00
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
        ({"csr_base": 0x80}, ValueError, r"^CSR base must be a multiple of 256 within the "
                                         r"16-bit address space, not 0x80$"),
        ({"csr_base": 0x10000}, ValueError, r"^CSR base must be a multiple of 256 within "
                                            r"the 16-bit address space, not 0x10000$"),
    ])
    def test_init_wrong(self, kwargs, error, message):
        with pytest.raises(error, match=message):
            VotingBridge(**kwargs)

    def test_adds_one_cycle(self):
        # Every transaction through the bridge takes exactly one cycle more than the same
        # transaction on a lane wired straight to the RAM (2 cycles: request, response).
        rows = measure_latency(cycles=800)
        assert rows["direct"]["min"] == rows["direct"]["max"] == 2
        for name in ("bridge DMR", "bridge TMR"):
            assert rows[name]["min"] == rows[name]["max"] == 3, rows[name]
