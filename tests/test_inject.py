import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from ftvoter.hdl.demo import LockstepDemo
from ftvoter.hdl.inject import FaultInjector, FaultModel, lane_sites
from ftvoter.hdl.lockstep import Lockstep
from ftvoter.hdl.units.workload import WorkloadLane
from ftvoter.sim.models import WorkloadModel, lfsr_next

from axi_sim import monitor

SEED = 0x5EED


def lane():
    return WorkloadLane(seed=SEED)


def site_index(lockstep, name):
    return [site.name for site in lockstep.injector.sites].index(name)


def run(lockstep, cycles, fault, probe=None):
    """Run with an on-chip RAM and one fault programmed from reset.

    ``fault``: dict of injector inputs (site by name). ``probe``: the name of a lane
    register (or a tuple of names) to sample in every lane after each clock edge:
    ``probes[k]`` holds the values after the edge that ends cycle ``k``, one per lane (a
    tuple of them per lane for a tuple of names). Returns (transactions, mismatch
    cycles, probes).
    """
    log, mismatches, probes = [], [], []
    sim = Simulator(LockstepDemo(lockstep, ram_words=256))
    sim.add_clock(1e-6)

    async def testbench(ctx):
        port = lockstep.fault
        ctx.set(port.site, site_index(lockstep, fault["site"]))
        for key in ("mask", "start", "duration", "common"):
            ctx.set(getattr(port, key), fault.get(key, 0))
        ctx.set(port.model, fault.get("model", FaultModel.FLIP))
        ctx.set(port.arm, 1)
        for cycle in range(cycles):
            if ctx.get(lockstep.mismatch):
                mismatches.append(cycle)
            await ctx.tick()
            if isinstance(probe, str):
                probes.append(tuple(ctx.get(unit.state_registers()[probe])
                                    for unit in lockstep.units))
            elif probe is not None:
                probes.append(tuple(tuple(ctx.get(unit.state_registers()[name])
                                          for name in probe) for unit in lockstep.units))

    sim.add_testbench(monitor(lockstep.path0_bus, log), background=True)
    sim.add_testbench(testbench)
    sim.run()
    return log, mismatches, probes


class TestFaultInjector:
    def test_init(self):
        lockstep = Lockstep(lane, faults=["regfile.*", "lane1.lfsr.state"])
        names = [site.name for site in lockstep.injector.sites]
        assert names[:2] == ["lane0.regfile.r0", "lane0.regfile.r1"]
        assert "lane1.lfsr.state" in names and "lane0.lfsr.state" not in names
        assert len(names) == 2 * 9 + 1
        assert lockstep.injector.sites[0].as_dict() == {
            "name": "lane0.regfile.r0", "lane": 0, "register": "regfile.r0", "width": 32}
        assert len(lockstep.fault.mask) == 32

    def test_init_wrong(self):
        with pytest.raises(TypeError, match=r"^Sites must be a non-empty list of Site, "
                                            r"not \[\]$"):
            FaultInjector([])
        with pytest.raises(TypeError, match=r"^Faults must be a list of site patterns, "
                                            r"not '\*'$"):
            Lockstep(lane, faults="*")
        with pytest.raises(TypeError, match=r"^Lane must offer site_registers\(\) to take "
                                            r"faults, not 1$"):
            lane_sites([1])

    def test_absent_without_faults(self):
        text = verilog.convert(Lockstep(lane), name="top")
        assert "sab_" not in text and "fault__" not in text
        assert "sab_lane1_scratch_m3" in verilog.convert(Lockstep(lane, faults=["*"]),
                                                         name="top")

    @pytest.mark.parametrize("site, mask", [("lane1.scratch.m3", 1 << 4),
                                            ("lane1.lfsr.state", 0b101),
                                            ("lane1.regfile.r5", 1 << 31)])
    def test_flip_is_exact(self, site, mask):
        # At the edge ending cycle `start`, lane 1's register becomes lane 0's (the
        # fault-free reference running the same work) XOR the mask.
        register = site.split(".", 1)[1]
        lockstep = Lockstep(lane, faults=["*"])
        _, _, probes = run(lockstep, 205, {"site": site, "mask": mask, "start": 200},
                           probe=register)
        assert all(a == b for a, b in probes[:200])
        assert probes[200][1] == probes[200][0] ^ mask

    # Start and duration chosen so that both edges of the window can be seen (below).
    @pytest.mark.parametrize("start, duration", [(104, 50), (137, 1), (212, 3), (104, 0)])
    def test_stuck_at(self, start, duration):
        # Bit 0 of lane 1's LFSR forced to 1 at the clock edges ending cycles `start` to
        # `start + duration - 1` (hdl/inject.py; duration 0: for ever), and at no other.
        # Every cycle the register must be exactly what its own logic makes of its
        # previous value (one LFSR step in a cycle in which the lane executes, FSM state
        # EXEC; held while it waits for the bus), with bit 0 set at exactly those edges.
        # (Delayed lockstep, so that detection does not stop the lanes.)
        lockstep = Lockstep(lane, offset=1, faults=["lane1.lfsr.state"])
        cycles = start + (duration or 50) + 100
        _, _, probes = run(lockstep, cycles, {"site": "lane1.lfsr.state", "mask": 1,
                                              "model": FaultModel.STUCK1, "start": start,
                                              "duration": duration},
                           probe=("lfsr.state", "ctrl.fsm_state"))
        state = [lanes[1][0] for lanes in probes]
        executing = [lanes[1][1].name == "EXEC" for lanes in probes]
        free = {k: lfsr_next(state[k - 1]) if executing[k - 1] else state[k - 1]
                for k in range(10, cycles)}
        window = range(start, start + duration if duration else cycles)
        expected = {k: free[k] | 1 if k in window else free[k] for k in free}
        assert {k: state[k] for k in free} == expected
        # The window's edges can be seen: the fault-free value at the first forced edge
        # and at the first edge after the window has bit 0 clear (else a window one
        # cycle early, late or long would look the same).
        assert not free[start] & 1
        assert duration == 0 or not free[start + duration] & 1

    def test_common_cause_escapes_plain_lockstep(self):
        # The same flip in both lanes at once: plain lockstep sees identical lanes and
        # forwards wrong data (silent corruption) ...
        lockstep = Lockstep(lane, faults=["lfsr.*"])
        log, mismatches, _ = run(lockstep, 2500, {"site": "lane0.lfsr.state",
                                                  "mask": 1 << 9, "start": 300, "common": 1})
        assert mismatches == []
        assert log != WorkloadModel(seed=SEED).trace(len(log))

    def test_common_cause_caught_by_delayed_lockstep(self):
        # ... while delayed lockstep hits the lanes at different points of the work.
        lockstep = Lockstep(lane, offset=2, faults=["lfsr.*"])
        _, mismatches, _ = run(lockstep, 2500, {"site": "lane0.lfsr.state", "mask": 1 << 9,
                                                "start": 300, "common": 1})
        assert mismatches and mismatches[0] > 300
