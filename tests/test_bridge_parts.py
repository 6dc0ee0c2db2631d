"""amaranth.sim tests of the voting bridge's parts: channel and bus comparison, blame
policy, register window, response fan-out.

Each part is checked against a small Python model written here from its docstring, not
from the gateware.
"""

import itertools
import random

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from ftvoter.hdl.bridge_compare import BusCompare, ChannelCompare, RequestSignature
from ftvoter.hdl.bridge_fanout import ResponseFanout
from ftvoter.hdl.bridge_policy import POLICIES, BlamePolicy
from ftvoter.hdl.bridge_window import RegisterWindow
from ftvoter.hdl.compare import LockstepComparator
from ftvoter.hdl.registers import CAUSES, CHANNELS

CAUSE = {name: bit for bit, (name, _) in enumerate(CAUSES)}


def simulate(dut, testbench, *, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


def bits(value, count):
    return [(value >> i) & 1 for i in range(count)]


def mask(items):
    return sum(1 << i for i, item in enumerate(items) if item)


# --- models -------------------------------------------------------------------------------

def channel_model(online, valid, payloads):
    """ChannelCompare's outputs for one case, from its docstring."""
    n = len(valid)
    lanes = [i for i in range(n) if online[i]]
    pairs = {(i, j) for i in lanes for j in lanes if i < j}

    def differ(i, j):
        return valid[i] != valid[j] or (valid[i] and payloads[i] != payloads[j])

    ne = {pair: differ(*pair) for pair in pairs}
    odd = 0
    no_majority = False
    if n == 3 and len(lanes) == 3:
        for i in range(3):
            j, k = (x for x in range(3) if x != i)
            if ne[min(i, j), max(i, j)] and ne[min(i, k), max(i, k)] and not ne[j, k]:
                odd |= 1 << i
        no_majority = all(ne.values())
    syndrome = valid_syndrome = 0
    for i, j in pairs:
        syndrome |= payloads[i] ^ payloads[j]
        valid_syndrome |= valid[i] ^ valid[j]
    first = lanes[0] if lanes else None
    return {
        "differs": int(any(ne.values())), "odd": odd, "no_majority": int(no_majority),
        "syndrome": syndrome, "valid_syndrome": valid_syndrome,
        "agreed": payloads[first] if first is not None else 0,
        "agreed_valid": valid[first] if first is not None else 0,
    }


# --- ChannelCompare -----------------------------------------------------------------------

class TestChannelCompare:
    def test_init(self):
        dut = ChannelCompare(lanes=3, width=7)
        assert (dut.lanes, dut.width) == (3, 7)
        assert [len(dut.lane2), len(dut.syndrome), len(dut.agreed), len(dut.odd)] == \
            [7, 7, 7, 3]
        ready = ChannelCompare(lanes=2, width=0)
        for name in ("lane0", "syndrome", "agreed"):
            assert not hasattr(ready, name), name
        assert len(ready.valid) == 2 and len(ready.valid_syndrome) == 1

    @pytest.mark.parametrize("kwargs, message", [
        ({"lanes": 4, "width": 8}, r"^Lane count must be 2 or 3, not 4$"),
        ({"lanes": True, "width": 8}, r"^Lane count must be 2 or 3, not True$"),
        ({"lanes": 2, "width": -1}, r"^Payload width must be an integer from 0 to 64, not -1$"),
        ({"lanes": 2, "width": 65}, r"^Payload width must be an integer from 0 to 64, not 65$"),
        ({"lanes": 2, "width": "8"},
         r"^Payload width must be an integer from 0 to 64, not '8'$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            ChannelCompare(**kwargs)

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_exhaustive(self, lanes):
        # Every online mask, valid mask and 2-bit payload of every lane, against the model.
        width = 2
        dut = ChannelCompare(lanes=lanes, width=width)
        cases = list(itertools.product(range(2**lanes), range(2**lanes),
                                       itertools.product(range(2**width), repeat=lanes)))
        seen = []

        async def testbench(ctx):
            for online, valid, payloads in cases:
                ctx.set(dut.online, online)
                ctx.set(dut.valid, valid)
                for i, payload in enumerate(payloads):
                    ctx.set(getattr(dut, f"lane{i}"), payload)
                seen.append({name: ctx.get(getattr(dut, name)) for name in
                             ("differs", "odd", "no_majority", "syndrome", "valid_syndrome",
                              "agreed", "agreed_valid")})

        simulate(dut, testbench, clock=False)
        for (online, valid, payloads), got in zip(cases, seen, strict=True):
            want = channel_model(bits(online, lanes), bits(valid, lanes), payloads)
            assert got == want, (online, valid, payloads)
        assert any(row["odd"] for row in seen) or lanes == 2
        assert any(row["differs"] for row in seen)

    def test_ready_channel(self):
        # width 0: only the valid (ready) bits are compared, among online lanes.
        dut = ChannelCompare(lanes=3, width=0)
        seen = []

        async def testbench(ctx):
            for online, valid in itertools.product(range(8), range(8)):
                ctx.set(dut.online, online)
                ctx.set(dut.valid, valid)
                seen.append((online, valid, ctx.get(dut.differs), ctx.get(dut.odd),
                             ctx.get(dut.valid_syndrome), ctx.get(dut.agreed_valid)))

        simulate(dut, testbench, clock=False)
        for online, valid, differs, odd, valid_syndrome, agreed_valid in seen:
            want = channel_model(bits(online, 3), bits(valid, 3), [0, 0, 0])
            assert (differs, odd, valid_syndrome, agreed_valid) == \
                (want["differs"], want["odd"], want["valid_syndrome"], want["agreed_valid"])

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_same_code_as_comparator(self, lanes):
        # With every lane online and valid, the channel's comparison is the exported
        # comparator's: `differs` is the combinational `mismatch`, `syndrome` the bits of
        # the first differing cycle, and a TMR odd lane is the lane the comparator blames.
        width = 6
        rng = random.Random(lanes)
        top = Module()
        top.submodules.channel = channel = ChannelCompare(lanes=lanes, width=width)
        top.submodules.comparator = comparator = LockstepComparator(width, lanes=lanes,
                                                                    registered=False)
        cycles = []
        for _ in range(400):
            value = rng.getrandbits(width)
            values = [value] * lanes
            if rng.random() < 0.4:
                values[rng.randrange(lanes)] ^= rng.getrandbits(width) | 1
            if rng.random() < 0.1:
                values[rng.randrange(lanes)] ^= 1 << rng.randrange(width)
            cycles.append(values)
        checked = {"differs": 0, "first": 0, "odd": 0}

        async def testbench(ctx):
            ctx.set(channel.online, (1 << lanes) - 1)
            ctx.set(channel.valid, (1 << lanes) - 1)
            first = True
            for values in cycles:
                for i, value in enumerate(values):
                    ctx.set(getattr(channel, f"lane{i}"), value)
                    ctx.set(getattr(comparator, f"lane{i}"), value)
                differs = ctx.get(channel.differs)
                assert differs == ctx.get(comparator.mismatch), values
                checked["differs"] += differs
                if differs and first:
                    assert ctx.get(channel.syndrome) == ctx.get(comparator.syndrome)
                    checked["first"] += 1
                    first = False
                if ctx.get(channel.odd):
                    assert ctx.get(channel.odd) == ctx.get(comparator.disagree), values
                    checked["odd"] += 1
                await ctx.tick()

        simulate(top, testbench)
        assert checked["differs"] > 50 and checked["first"] == 1
        assert (checked["odd"] > 20) == (lanes == 3)


# --- BusCompare ---------------------------------------------------------------------------

_REQUEST = [("awaddr", 16), ("awprot", 3), ("awvalid", 1), ("wdata", 32), ("wstrb", 4),
            ("wvalid", 1), ("bready", 1), ("araddr", 16), ("arprot", 3), ("arvalid", 1),
            ("rready", 1)]


def bus_model(online, lanes):
    """BusCompare's outputs for one cycle: per channel, the ChannelCompare model."""
    n = len(lanes)
    spec = {"AW": ("awvalid", ("awaddr", "awprot"), 16), "W": ("wvalid", ("wdata", "wstrb"), 32),
            "AR": ("arvalid", ("araddr", "arprot"), 16), "B": ("bready", (), 0),
            "R": ("rready", (), 0)}
    out = {"differs": 0, "odd": 0, "no_majority": 0, "channel": 0, "bits": 0, "ctrl": 0}
    first = None
    for name, (valid, payload, width) in spec.items():
        # The payload as the hardware concatenates it: first member lowest.
        values = [lane[payload[0]] | (lane[payload[1]] << width) if payload else 0
                  for lane in lanes]
        row = channel_model(online, [lane[valid] for lane in lanes], values)
        out["differs"] |= row["differs"] << CHANNELS[name]
        out["odd"] |= row["odd"]
        out["no_majority"] |= row["no_majority"]
        if row["differs"] and first is None:
            first = name
            out["channel"] = CHANNELS[name]
            out["bits"] = row["syndrome"] & ((1 << width) - 1)
            out["ctrl"] = row["valid_syndrome"] | ((row["syndrome"] >> width) << 1)
        if name in ("AW", "W", "AR"):
            prefix = name.lower()
            out[f"{prefix}_valid"] = row["agreed_valid"]
            out[f"{prefix}_{'data' if name == 'W' else 'addr'}"] = \
                row["agreed"] & ((1 << width) - 1)
            out[f"{prefix}_{'strb' if name == 'W' else 'prot'}"] = row["agreed"] >> width
    assert n in (2, 3)
    return out


class TestRequestSignature:
    def test_members(self):
        sig = RequestSignature(addr_width=12)
        assert set(sig.members) == {name for name, _ in _REQUEST}
        assert sig == RequestSignature(addr_width=12) != RequestSignature(addr_width=13)
        assert repr(sig) == "RequestSignature(addr_width=12)"
        assert sig.addr_width == 12


class TestBusCompare:
    def test_init(self):
        dut = BusCompare(lanes=3, addr_width=12)
        assert (dut.lanes, dut.addr_width) == (3, 12)
        assert len(dut.lane2.awaddr) == 12 and len(dut.differs) == 5
        assert len(dut.aw_addr) == 12 and len(dut.w_data) == 32

    @pytest.mark.parametrize("kwargs, message", [
        ({"lanes": 1, "addr_width": 16}, r"^Lane count must be 2 or 3, not 1$"),
        ({"lanes": 2, "addr_width": 8}, r"^Address width must be an integer from 9 to 32, "
                                        r"not 8$"),
        ({"lanes": 2, "addr_width": 33}, r"^Address width must be an integer from 9 to 32, "
                                         r"not 33$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            BusCompare(**kwargs)

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_random(self, lanes):
        rng = random.Random(f"bus-{lanes}")
        dut = BusCompare(lanes=lanes, addr_width=16)
        outputs = ["differs", "odd", "no_majority", "channel", "bits", "ctrl", "aw_valid",
                   "aw_addr", "aw_prot", "w_valid", "w_data", "w_strb", "ar_valid",
                   "ar_addr", "ar_prot"]
        cases = []
        for _ in range(600):
            base = {name: rng.getrandbits(width) for name, width in _REQUEST}
            requests = [dict(base) for _ in range(lanes)]
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                name, width = rng.choice(_REQUEST)
                requests[rng.randrange(lanes)][name] ^= 1 << rng.randrange(width)
            online = bits(rng.choice([(1 << lanes) - 1] * 3 + list(range(1 << lanes))), lanes)
            cases.append((online, requests))
        seen = []

        async def testbench(ctx):
            for online, requests in cases:
                ctx.set(dut.online, mask(online))
                for i, request in enumerate(requests):
                    for name, value in request.items():
                        ctx.set(getattr(getattr(dut, f"lane{i}"), name), value)
                seen.append({name: ctx.get(getattr(dut, name)) for name in outputs})

        simulate(dut, testbench, clock=False)
        for (online, requests), got in zip(cases, seen, strict=True):
            assert got == bus_model(online, requests), (online, requests)
        assert {row["channel"] for row in seen if row["differs"]} == set(range(5))


# --- BlamePolicy --------------------------------------------------------------------------

class PolicyModel:
    """BlamePolicy, cycle by cycle, from its docstring."""

    def __init__(self, lanes, policy, timeout):
        self.n, self.policy, self.timeout = lanes, policy, timeout
        self.halted = self.diagnosing = False
        self.timer = 0
        self.mismatch, self.disagree = 0, 0

    def step(self, i):
        """Return the outputs of a cycle with inputs ``i``, then clock."""
        n = self.n
        online = [k for k in range(n) if i["online"] >> k & 1]
        suspects = [k for k in online if i["self_error"] >> k & 1]
        frozen = self.halted or self.diagnosing or i["lanes_reset"]
        diverged = not frozen and i["differs"] != 0
        out = {"frozen": int(frozen), "diverged": int(diverged), "halted": int(self.halted),
               "diagnosing": int(self.diagnosing), "isolate": 0, "corrected": 0,
               "blamed": 0, "mismatch": self.mismatch, "disagree": self.disagree}
        cause = set()
        halt = diagnose = False
        single = len(suspects) == 1 and len(online) >= 2
        if diverged:
            for name, bit in CHANNELS.items():
                if i["differs"] >> bit & 1:
                    cause.add(name if name in ("AW", "W", "AR") else f"{name}_READY")
            odd = [k for k in range(n) if i["odd"] >> k & 1]
            if len(online) == 3 and not i["no_majority"] and len(odd) == 1:
                out.update(isolate=i["odd"], corrected=1, blamed=i["odd"])
            else:
                out["blamed"] = i["online"]
                if single:
                    out["isolate"] = 1 << suspects[0]
                    cause.add("SELF_ERROR")
                else:
                    cause.add("NO_MAJORITY")
                    if self.policy == "halt":
                        cause.add("HALTED")
                        halt = True
                    else:
                        diagnose = True
        elif not frozen and single:
            out["isolate"] = 1 << suspects[0]
            cause.add("SELF_ERROR")
        elif not frozen and online and len(suspects) == len(online):
            cause.update(("SELF_ERROR", "HALTED"))
            halt = True
        resume = i["resume"]
        diag_halt = False
        timer = self.timer
        if self.diagnosing:
            done, passed = i.get("diag_done", 0), i.get("diag_pass", 0)
            timer += 1
            if all(done >> k & 1 for k in online) or self.timer >= self.timeout:
                fails = [k for k in online if not (done >> k & 1 and passed >> k & 1)]
                self.diagnosing = False
                timer = 0
                if len(fails) == 1 and len(online) > 1:
                    out["isolate"] = 1 << fails[0]
                    cause.add("DIAG_FAIL")
                else:
                    cause.add("HALTED")
                    diag_halt = True
        if self.policy == "diagnose":
            out["diag_request"] = out["diagnosing"]
        out["cause"] = sum(1 << CAUSE[name] for name in cause)
        # Clock: a diagnosis' halt beats a resume, which beats a divergence's halt.
        if halt:
            self.halted = True
        if resume:
            self.halted = False
        if diag_halt:
            self.halted = True
        if diagnose:
            self.diagnosing = True
        self.timer = timer
        self.mismatch, self.disagree = out["diverged"], out["blamed"] if diverged else 0
        return out


def random_policy_inputs(rng, lanes, policy, count):
    full = (1 << lanes) - 1
    rows = []
    for _ in range(count):
        row = {
            "differs": 0 if rng.random() < 0.7 else rng.getrandbits(5),
            "odd": 0 if rng.random() < 0.5 else 1 << rng.randrange(lanes),
            "no_majority": int(rng.random() < 0.1),
            "online": full if rng.random() < 0.7 else rng.getrandbits(lanes),
            "self_error": 0 if rng.random() < 0.8 else rng.getrandbits(lanes),
            "lanes_reset": int(rng.random() < 0.03),
            "resume": int(rng.random() < 0.08),
        }
        if policy == "diagnose":
            row["diag_done"] = rng.getrandbits(lanes) if rng.random() < 0.5 else 0
            row["diag_pass"] = rng.getrandbits(lanes)
        rows.append(row)
    return rows


def run_policy(dut, rows):
    outputs = ["frozen", "diverged", "halted", "diagnosing", "isolate", "corrected",
               "blamed", "mismatch", "disagree", "cause"]
    if dut.policy == "diagnose":
        outputs.append("diag_request")
    seen = []

    async def testbench(ctx):
        for row in rows:
            for name, value in row.items():
                ctx.set(getattr(dut, name), value)
            seen.append({name: ctx.get(getattr(dut, name)) for name in outputs})
            await ctx.tick()

    simulate(dut, testbench)
    return seen


class TestBlamePolicy:
    def test_init(self):
        dut = BlamePolicy(lanes=3, policy="diagnose", timeout=9)
        assert (dut.lanes, dut.policy, dut.timeout) == (3, "diagnose", 9)
        assert len(dut.diag_done) == 3 and len(dut.cause) == len(CAUSES)
        assert not hasattr(BlamePolicy(lanes=2), "diag_request")
        assert POLICIES == ("halt", "diagnose")

    @pytest.mark.parametrize("kwargs, message", [
        ({"lanes": 0}, r"^Lane count must be 2 or 3, not 0$"),
        ({"lanes": 2, "policy": "vote"}, r"^Policy must be 'halt' or 'diagnose', not 'vote'$"),
        ({"lanes": 2, "timeout": 1}, r"^Timeout must be an integer from 2 to 65535, not 1$"),
        ({"lanes": 2, "timeout": 65536},
         r"^Timeout must be an integer from 2 to 65535, not 65536$"),
        ({"lanes": 2, "timeout": 8.0}, r"^Timeout must be an integer from 2 to 65535, not 8.0$"),
    ])
    def test_init_wrong(self, kwargs, message):
        with pytest.raises(TypeError, match=message):
            BlamePolicy(**kwargs)

    @pytest.mark.parametrize("lanes", [2, 3])
    @pytest.mark.parametrize("policy", ["halt", "diagnose"])
    def test_random_against_model(self, lanes, policy):
        rng = random.Random(f"{lanes}-{policy}")
        rows = random_policy_inputs(rng, lanes, policy, 1500)
        seen = run_policy(BlamePolicy(lanes=lanes, policy=policy, timeout=4), rows)
        model = PolicyModel(lanes, policy, 4)
        for t, (row, got) in enumerate(zip(rows, seen, strict=True)):
            assert got == model.step(row), (t, row)
        # The run went through the interesting cases.
        assert any(row["halted"] for row in seen)
        assert any(row["isolate"] for row in seen)
        if lanes == 3:
            assert any(row["corrected"] for row in seen)
        if policy == "diagnose":
            assert any(row["cause"] >> CAUSE["DIAG_FAIL"] & 1 for row in seen)

    def test_checker_can_fail(self):
        # The same run against a model with the wrong priority (resume beaten by a
        # divergence's halt) must be caught.
        rng = random.Random("fail")
        rows = random_policy_inputs(rng, 2, "halt", 1500)
        seen = run_policy(BlamePolicy(lanes=2), rows)

        class Wrong(PolicyModel):
            def step(self, i):
                out = super().step(i)
                if i["resume"] and out["cause"] >> CAUSE["HALTED"] & 1:
                    self.halted = True
                return out
        model = Wrong(2, "halt", 64)
        assert any(got != model.step(row) for row, got in zip(rows, seen, strict=True))

    @pytest.mark.parametrize("timeout", [2, 5, 17])
    def test_diagnosis_timeout(self, timeout):
        # DMR divergence without self_error under "diagnose", no verdict ever: the request
        # lasts timeout + 1 cycles (the timer counts from 0 and ends when it has reached
        # the timeout), then the bridge halts; nothing is isolated.
        rows = [{"online": 3, "differs": 0b010, "resume": 0}] + \
            [{"online": 3, "differs": 0, "resume": 0}] * (timeout + 6)
        seen = run_policy(BlamePolicy(lanes=2, policy="diagnose", timeout=timeout), rows)
        request = [t for t, row in enumerate(seen) if row["diag_request"]]
        assert request == list(range(1, timeout + 2))
        assert [row["halted"] for row in seen].index(1) == timeout + 2
        assert not any(row["isolate"] for row in seen)
        assert seen[1]["mismatch"] == 1 and seen[1]["disagree"] == 0b11

    def test_diagnosis_isolates_failing_lane(self):
        rows = [{"online": 7, "differs": 0b1, "no_majority": 1}] + \
            [{"online": 7, "differs": 0, "no_majority": 0, "diag_done": 0b011,
              "diag_pass": 0b001}] * 2 + \
            [{"online": 7, "diag_done": 0b111, "diag_pass": 0b101}] + \
            [{"online": 7, "diag_done": 0, "diag_pass": 0}] * 3
        seen = run_policy(BlamePolicy(lanes=3, policy="diagnose", timeout=50), rows)
        assert [row["isolate"] for row in seen] == [0, 0, 0, 0b010, 0, 0, 0]
        assert seen[3]["cause"] == 1 << CAUSE["DIAG_FAIL"]
        assert not any(row["halted"] for row in seen)

    def test_tmr_outvotes_odd_lane(self):
        rows = [{"online": 7, "differs": 0b100, "odd": 0b100}, {"online": 3}]
        seen = run_policy(BlamePolicy(lanes=3), rows)
        assert (seen[0]["isolate"], seen[0]["corrected"], seen[0]["diverged"]) == (4, 1, 1)
        assert seen[0]["cause"] == 1 << CAUSE["AR"]
        assert (seen[1]["mismatch"], seen[1]["disagree"]) == (1, 0b100)


# --- RegisterWindow -----------------------------------------------------------------------

class TestRegisterWindow:
    def test_random_against_model(self):
        dut = RegisterWindow()
        rng = random.Random("window")
        rows = [{"write_request": int(rng.random() < 0.4), "write_addr": rng.getrandbits(8),
                 "write_data": rng.getrandbits(32), "write_strb": rng.getrandbits(4),
                 "read_request": int(rng.random() < 0.5), "read_addr": rng.getrandbits(8),
                 "rdata": rng.getrandbits(32), "error": int(rng.random() < 0.3)}
                for _ in range(500)]
        outputs = ["write_done", "write_resp", "read_done", "read_data", "en", "write", "addr",
                   "wdata", "wstrb"]
        seen = []

        async def testbench(ctx):
            for row in rows:
                for name, value in row.items():
                    ctx.set(getattr(dut, name), value)
                seen.append({name: ctx.get(getattr(dut, name)) for name in outputs})
                await ctx.tick()

        simulate(dut, testbench)
        read_data = 0
        for row, got in zip(rows, seen, strict=True):
            write = row["write_request"]
            read = row["read_request"] and not write
            want = {"write_done": write, "write_resp": 2 * row["error"] if write else 0,
                    "read_done": int(read), "read_data": read_data, "en": int(write or read),
                    "write": write,
                    "addr": row["write_addr"] if write else row["read_addr"] if read else 0,
                    "wdata": row["write_data"] if write else 0,
                    "wstrb": row["write_strb"] if write else 0}
            assert got == want, row
            if read:
                read_data = row["rdata"]
        assert sum(row["read_done"] for row in seen) > 50


# --- ResponseFanout -----------------------------------------------------------------------

class TestResponseFanout:
    def test_init(self):
        dut = ResponseFanout(lanes=3)
        assert dut.lanes == 3 and len(dut.lane_valid) == 3 and len(dut.ready) == 3

    @pytest.mark.parametrize("lanes", [1, 4, "3"])
    def test_init_wrong(self, lanes):
        with pytest.raises(TypeError, match=r"^Lane count must be 2 or 3, not .+$"):
            ResponseFanout(lanes=lanes)

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_each_lane_takes_each_response_once(self, lanes):
        # A source holds each response until `complete`; every online lane must see it
        # until its own handshake and take it exactly once, the offline ones never.
        dut = ResponseFanout(lanes=lanes)
        rng = random.Random(lanes)
        log = []

        async def testbench(ctx):
            pending = False
            responses = 0
            online = (1 << lanes) - 1
            taken = set()
            for _ in range(3000):
                if not pending and rng.random() < 0.5:
                    pending = True
                    responses += 1
                    taken = set()
                    online = (1 << lanes) - 1 if rng.random() < 0.7 else \
                        rng.randrange(1, 1 << lanes)
                ready = rng.getrandbits(lanes)
                ctx.set(dut.valid, pending)
                ctx.set(dut.online, online)
                ctx.set(dut.ready, ready)
                lane_valid, complete = ctx.get(dut.lane_valid), ctx.get(dut.complete)
                want = 0
                if pending:
                    want = sum(1 << i for i in range(lanes)
                               if online >> i & 1 and i not in taken)
                assert lane_valid == want
                for i in range(lanes):
                    if lane_valid >> i & 1 and ready >> i & 1:
                        taken.add(i)
                        log.append((responses, i))
                want_complete = pending and taken == {i for i in range(lanes)
                                                      if online >> i & 1}
                assert complete == want_complete
                if complete:
                    pending = False
                await ctx.tick()

        simulate(dut, testbench)
        assert len(log) == len(set(log)) > 1000
