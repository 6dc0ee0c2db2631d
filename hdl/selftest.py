"""ComparatorSelfTest: the bridge's comparison, tested while in service.

A comparator whose ``mismatch`` is stuck at 0 looks exactly like one that has nothing to
report, until the day a lane fails. So the bridge tests its own comparison at start-up
and then every ``period`` cycles: in each *test cycle* it inverts one lane's handshake
bit of one channel at the comparator's input (the valid of AW, W or AR, the ready of B
or R) and checks, in the next cycle, that the blame policy's registered ``mismatch``
rose with the expected lanes blamed (the odd lane in TMR, every online lane in DMR). A
test cycle accepts nothing and changes no state: the policy sees the divergence
(``test``) but neither halts, isolates, rolls back nor counts it, and the bridge's own
``mismatch`` output does not show it; the lanes only wait a cycle, all alike.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compare import _check_lanes
from .encodings import CHANNELS

__all__ = ["ComparatorSelfTest", "connect_compare", "TEST_BITS", "SEQUENCE_CYCLES",
           "PERIOD_WIDTH"]

#: The request member of each channel that a test cycle inverts, in channel order.
TEST_BITS = {"AW": "awvalid", "W": "wvalid", "AR": "arvalid", "B": "bready", "R": "rready"}
#: Cycles of one test sequence: a test cycle per channel, and the check of the last.
SEQUENCE_CYCLES = len(CHANNELS) + 1
#: Width of SELFTEST.PERIOD.
PERIOD_WIDTH = 24


def _popcount(value):
    return sum(value[i] for i in range(len(value)))


class ComparatorSelfTest(wiring.Component):
    """Run the comparator's test sequence at reset and every ``period`` cycles.

    A sequence has one test cycle per channel (in :data:`CHANNELS` order), on the highest
    online lane: ``active`` with ``channel`` and ``lane`` say which bit the bridge
    inverts. A test cycle happens only while the policy is not ``frozen`` and at least two
    lanes are online (otherwise it is skipped, not failed). In the cycle after each test
    cycle, ``mismatch`` must be high and ``disagree`` equal the lanes expected; if not,
    ``fail`` is high for that cycle (ERROR_CAUSE.SELFTEST). Sequences start ``period``
    cycles apart (0: only the one at reset). A stuck-at-0 on the registered ``mismatch``
    is thus found at most ``period + 1`` cycles after it appears.

    Parameters
    ----------
    lanes : int
        2 or 3.

    Members
    -------
    period : In(PERIOD_WIDTH)
        Cycles from one sequence's start to the next (SELFTEST.PERIOD).
    skip : In(5)
        Channels not to test (bit ``CHANNELS[name]``): a ready excluded from the
        comparison by a compare mask (COMPARE_MASK.B, .R) cannot show a forced mismatch.
    frozen : In(1)
        The policy compares nothing (halted, diagnosing, lanes resetting, held).
    online : In(lanes)
    mismatch : In(1), disagree : In(lanes)
        The policy's registered outputs.
    active : Out(1), channel : Out(3), lane : Out(2)
        A test cycle: invert lane ``lane``'s bit of channel ``channel``.
    tested : Out(1)
        The policy's ``mismatch`` and ``disagree`` show a test in this cycle (the
        bridge hides them).
    fail : Out(1)
        The check of the last test cycle failed.
    """

    def __init__(self, *, lanes):
        _check_lanes(lanes)
        self._lanes = lanes
        super().__init__({
            "period":   In(PERIOD_WIDTH),
            "skip":     In(len(CHANNELS)),
            "frozen":   In(1),
            "online":   In(lanes),
            "mismatch": In(1),
            "disagree": In(lanes),
            "active":   Out(1),
            "channel":  Out(3),
            "lane":     Out(2),
            "tested":   Out(1),
            "fail":     Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, online = self._lanes, self.online
        running = Signal(init=1)            # a sequence is under way (one starts at reset)
        step = Signal(range(SEQUENCE_CYCLES))
        timer = Signal(PERIOD_WIDTH)        # cycles until the next sequence starts
        able = Signal()
        m.d.comb += able.eq(~self.frozen & (_popcount(online) >= 2))
        highest = Signal(2)
        for i in range(n):
            with m.If(online[i]):
                m.d.comb += highest.eq(i)
        m.d.comb += [self.lane.eq(highest), self.channel.eq(step)]
        with m.If(running):
            skipped = Cat(*(self.skip[c] & (step == c) for c in range(len(CHANNELS)))).any()
            m.d.comb += self.active.eq(able & (step < len(CHANNELS)) & ~skipped)
            m.d.sync += step.eq(step + 1)
            with m.If(step == SEQUENCE_CYCLES - 1):
                m.d.sync += [running.eq(0), step.eq(0)]
        # The next sequence starts ``period`` cycles after this one started.
        with m.If(running & (step == 0)):
            m.d.sync += timer.eq(self.period - 1)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.If(~running & (self.period != 0) & (timer <= 1)):
            m.d.sync += running.eq(1)

        expected = Signal(n)
        m.d.sync += [self.tested.eq(self.active),
                     expected.eq(Mux(_popcount(online) == 3,
                                     Cat(*(highest == i for i in range(n))), online))]
        m.d.comb += self.fail.eq(self.tested & (~self.mismatch |
                                                (self.disagree != expected)))
        return m


def connect_compare(m, buses, compare, policy, regs, online):
    """Feed the lanes' ``buses`` to the bridge's ``compare`` through a self-test's test
    cycles (SELFTEST.PERIOD from ``regs``; the readies masked from the comparison not
    tested), and the test to ``policy``; return the :class:`ComparatorSelfTest`."""
    m.submodules.selftest = selftest = ComparatorSelfTest(lanes=len(buses))
    ready = (1 << CHANNELS["B"]) | (1 << CHANNELS["R"])
    m.d.comb += [selftest.period.eq(regs.selftest_period),
                 selftest.skip.eq(regs.masks.channels & ready)]
    tests = {bit: CHANNELS[name] for name, bit in TEST_BITS.items()}
    for i, bus in enumerate(buses):
        lane = getattr(compare, f"lane{i}")
        for name in lane.signature.members:
            test = 0
            if name in tests:
                test = selftest.active & (selftest.channel == tests[name]) & \
                    (selftest.lane == i)
            m.d.comb += getattr(lane, name).eq(getattr(bus, name) ^ test)
    m.d.comb += [compare.online.eq(online), policy.test.eq(selftest.active),
                 selftest.frozen.eq(policy.frozen),
                 selftest.online.eq(online), selftest.mismatch.eq(policy.mismatch),
                 selftest.disagree.eq(policy.disagree)]
    return selftest
