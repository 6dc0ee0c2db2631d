import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ftvoter.hdl.signatures import AXI4LiteSignature, LaneSignature, check_lane
from ftvoter.hdl.units.workload import WorkloadLane


class TestAXI4LiteSignature:
    def test_init(self):
        sig = AXI4LiteSignature(addr_width=12, data_width=64)
        assert (sig.addr_width, sig.data_width) == (12, 64)
        assert sig.members["awaddr"].flow == Out and sig.members["awaddr"].shape == 12
        assert sig.members["wstrb"].shape == 8
        assert sig.members["rdata"].flow == In
        assert sig.members["bresp"].shape == 2
        assert list(sig.members) == [
            "awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
            "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid", "arready",
            "rdata", "rresp", "rvalid", "rready"]

    def test_eq_repr(self):
        assert AXI4LiteSignature(addr_width=8, data_width=32) == \
            AXI4LiteSignature(addr_width=8, data_width=32)
        assert AXI4LiteSignature(addr_width=8, data_width=32) != \
            AXI4LiteSignature(addr_width=9, data_width=32)
        assert repr(AXI4LiteSignature(addr_width=8, data_width=32)) == \
            "AXI4LiteSignature(addr_width=8, data_width=32)"

    def test_create(self):
        bus = AXI4LiteSignature(addr_width=8, data_width=32).create()
        assert len(bus.awaddr) == 8 and len(bus.rdata) == 32

    @pytest.mark.parametrize("addr_width", [0, -4, 8.0])
    def test_init_wrong_addr_width(self, addr_width):
        with pytest.raises(TypeError, match=r"^Address width must be an integer greater "
                                            r"than or equal to 1, not .+$"):
            AXI4LiteSignature(addr_width=addr_width, data_width=32)

    @pytest.mark.parametrize("data_width", [8, 16, 128, "32"])
    def test_init_wrong_data_width(self, data_width):
        with pytest.raises(TypeError, match=r"^Data width must be 32 or 64, not .+$"):
            AXI4LiteSignature(addr_width=8, data_width=data_width)


class TestLaneSignature:
    def test_init(self):
        sig = LaneSignature(addr_width=16, data_width=32, irq_width=2)
        assert sig.members["bus"].signature == AXI4LiteSignature(addr_width=16, data_width=32)
        assert sig.members["irq"].flow == In and sig.members["irq"].shape == 2
        assert sig.members["self_error"].flow == Out
        assert repr(sig) == "LaneSignature(addr_width=16, data_width=32, irq_width=2)"

    def test_init_wrong_irq_width(self):
        with pytest.raises(TypeError, match=r"^Interrupt width must be an integer greater "
                                            r"than or equal to 1, not 0$"):
            LaneSignature(addr_width=16, data_width=32, irq_width=0)

    def test_check_lane(self):
        assert check_lane(WorkloadLane()) == LaneSignature(addr_width=32, data_width=32)

    def test_check_lane_wrong(self):
        class NoErr(wiring.Component):
            bus: Out(AXI4LiteSignature(addr_width=8, data_width=32))
            irq: In(1)

            def elaborate(self, platform):
                return Module()

        with pytest.raises(TypeError, match=r"^Lane must be a wiring.Component, not 1$"):
            check_lane(1)
        with pytest.raises(TypeError, match=r"^Lane must have a port 'self_error' of Out\(1\), "
                                            r"not None$"):
            check_lane(NoErr())
