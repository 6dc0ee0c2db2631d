"""The private Amaranth internals hdl/state_load.py relies on (no public API serves: see the
comment there). If an Amaranth upgrade changes them, these fail, naming what changed."""

from amaranth.hdl import Fragment, Module, Signal
from amaranth.hdl._ast import Switch
from amaranth.hdl._xfrm import LHSMaskCollector
from amaranth.sim import Simulator


def test_mask_collector_lists_the_registers_a_fragment_drives():
    m = Module()
    a, b, c = Signal(4, name="a"), Signal(8, name="b"), Signal(name="c")
    m.d.sync += [a.eq(1), b[2:5].eq(3)]
    m.d.comb += c.eq(1)
    fragment = Fragment.get(m, None)
    collector = LHSMaskCollector()
    collector.visit_stmt(fragment.statements["sync"])
    chunks = {(signal.name, start, stop) for signal, start, stop in collector.chunks()}
    # Whole signals as (signal, 0, None), slices by their bounds; comb signals absent.
    assert chunks == {("a", 0, None), ("b", 2, 5)}


def test_switch_added_to_a_built_fragment_drives_on_its_value():
    m = Module()
    load, value, twin = Signal(), Signal(8), Signal(8, init=0x5A)
    m.d.sync += value.eq(value + 1)
    fragment = Fragment.get(m, None)
    fragment.add_statements("sync", Switch(load, [(1, [value.eq(twin)], None)]))
    sim = Simulator(fragment)
    sim.add_clock(1e-6)
    seen = []

    async def testbench(ctx):
        await ctx.tick()
        await ctx.tick()
        seen.append(ctx.get(value))                 # counting: 2
        ctx.set(load, 1)
        await ctx.tick()
        seen.append(ctx.get(value))                 # loaded from its twin (the later
        ctx.set(load, 0)                            # statement wins)
        await ctx.tick()
        seen.append(ctx.get(value))
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [2, 0x5A, 0x5B]
