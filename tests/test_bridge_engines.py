"""amaranth.sim tests of the voting bridge's path engines (WriteEngine, ReadEngine).

The engines are driven as the bridge drives them: agreed beats in, PATH_STATUS.FAILED
modelled as a sticky register set by ``path_fail``, the lanes' fan-out as a ``complete``
that follows ``resp_valid`` when the lanes are ready. The paths are target models written
here from the AXI4-Lite rules, with a behaviour chosen per request (latency, response,
which beats they take), which tag every answer with the request it belongs to, so the
tests can tell one request's answer from another's.
"""

import random

import pytest
from amaranth.sim import Simulator

from ftvoter.hdl.bridge_path import PathChannelsSignature
from ftvoter.hdl.bridge_read import ReadEngine
from ftvoter.hdl.bridge_write import WriteEngine

OKAY, SLVERR, DECERR = 0, 2, 3
NEVER = 10**9


class Behaviour:
    """What a target does with one request: ``latency`` cycles from having it all to the
    answer (NEVER: no answer), the answer ``resp``, and whether it takes each beat."""

    def __init__(self, latency=1, resp=OKAY, takes_aw=True, takes_w=True, w_after=0):
        self.latency, self.resp = latency, resp
        self.takes_aw, self.takes_w, self.w_after = takes_aw, takes_w, w_after


class Target:
    """One path's write or read channels, answering in order.

    ``behaviours(id)`` gives the behaviour for the request tagged ``id`` (the address of a
    request carries its id, and a write's data too). ``log`` records what happened:
    ``("take", id)``, ``("answer", id, resp)`` (taken by the engine), and errors the
    target detects: a write whose AW and W belong to different requests, or a new request
    taken while an earlier one is unanswered.
    """

    def __init__(self, kind, behaviours, rng, stall=0.0):
        self.kind, self.behaviours, self.rng, self.stall = kind, behaviours, rng, stall
        self.aw, self.w = [], []          # beats taken, not yet paired
        self.queue = []                   # (due cycle, id, resp)
        self.answer = None                # (id, resp) being presented
        self.outstanding = 0
        self.log, self.errors = [], []
        self.seen = {}                    # id -> cycle the address beat was first offered

    def reset(self):
        """Drop a half-taken write (what returning a path to service promises)."""
        self.aw, self.w = [], []

    def cycle(self, ctx, bus, t):
        """Drive the target side for cycle ``t``; return a function to call once the
        engine's outputs have settled (before the clock edge) to record the handshakes."""
        r = self.rng
        if self.kind == "write":
            aw_id = ctx.get(bus.awaddr) >> 2 if ctx.get(bus.awvalid) else None
            w_id = ctx.get(bus.wdata) if ctx.get(bus.wvalid) else None
            if aw_id is not None:
                self.seen.setdefault(aw_id, t)
            awready = aw_id is not None and self.behaviours(aw_id).takes_aw and \
                r.random() >= self.stall
            wready = w_id is not None and self.behaviours(w_id).takes_w and \
                t >= self.seen.get(w_id, t) + self.behaviours(w_id).w_after and \
                r.random() >= self.stall
            ctx.set(bus.awready, awready)
            ctx.set(bus.wready, wready)
            valid, resp_name, ready_name = "bvalid", "bresp", "bready"
        else:
            ar_id = ctx.get(bus.araddr) >> 2 if ctx.get(bus.arvalid) else None
            arready = ar_id is not None and self.behaviours(ar_id).takes_aw and \
                r.random() >= self.stall
            ctx.set(bus.arready, arready)
            valid, resp_name, ready_name = "rvalid", "rresp", "rready"
        if self.answer is None and self.queue and self.queue[0][0] <= t:
            _, ident, resp = self.queue.pop(0)
            self.answer = (ident, resp)
        ctx.set(getattr(bus, valid), self.answer is not None)
        ctx.set(getattr(bus, resp_name), self.answer[1] if self.answer else 0)
        if self.kind == "read":
            ctx.set(bus.rdata, 0x1000 + self.answer[0] if self.answer else 0xDEAD)

        def record():
            # After the engine's outputs have settled for this cycle (its ready for the
            # answer depends on the lanes taking it).
            answered = self.answer is not None and ctx.get(getattr(bus, ready_name))
            if self.kind == "write":
                if awready:
                    self.aw.append(aw_id)
                if wready:
                    self.w.append(w_id)
                self._pair(t)
            elif arready:
                self._take(ar_id, t)
            if answered:
                self.log.append(("answer", *self.answer, t))
                self.answer = None
                self.outstanding -= 1
        return record

    def _pair(self, t):
        while self.aw and self.w:
            aw, w = self.aw.pop(0), self.w.pop(0)
            if aw != w:
                self.errors.append(("paired", aw, w, t))
            self._take(aw, t)

    def _take(self, ident, t):
        if self.outstanding:
            self.errors.append(("outstanding", ident, t))
        self.outstanding += 1
        self.log.append(("take", ident, t))
        behaviour = self.behaviours(ident)
        if behaviour.latency != NEVER:
            self.queue.append((t + behaviour.latency, ident, behaviour.resp))


def run_engine(kind, *, paths=1, timeout=4, requests, behaviours, cycles=400, seed=0,
               lane_ready=1.0, stall=0.0, csr_resp=OKAY, restore=None):
    """Run an engine over ``requests`` (dicts: ``id``, optional ``csr``, ``w_late``);
    return the record of the run.

    ``behaviours[j](id)`` is path ``j``'s behaviour. ``restore(t, failed)`` may return a
    mask of failed paths to return to service (their targets are reset: software's
    promise when it writes PATH_STATUS).
    """
    cls = WriteEngine if kind == "write" else ReadEngine
    dut = cls(paths=paths, timeout=timeout, addr_width=16)
    rng = random.Random(seed)
    targets = [Target(kind, behaviours[j], random.Random(rng.random()), stall)
               for j in range(paths)]
    record = {"responses": [], "accepted": [], "retry": [], "path_fail": [], "timeout": [],
              "error": [], "no_path": [], "csr": [], "targets": targets, "idle_end": None,
              "path_rows": []}

    async def testbench(ctx):
        failed = 0
        queue = list(requests)
        aw_done = w_done = False
        current = None
        for t in range(cycles):
            if restore is not None:
                back = restore(t, failed)
                if back:
                    failed &= ~back
                    for j in range(paths):
                        if back >> j & 1:
                            targets[j].reset()
            if current is None and queue:
                current, aw_done, w_done = queue.pop(0), False, False
                current["start"] = t
            ctx.set(dut.allow, 1)
            ctx.set(dut.failed, failed)
            broken = ctx.get(dut.broken) if kind == "write" else 0
            preferred = int(paths == 2 and ((failed & 1 and not failed & 2) or
                                            (broken & 1 and not broken & 2)))
            ctx.set(dut.preferred, preferred)
            if current is not None:
                ident, csr = current["id"], current.get("csr", 0)
                if kind == "write":
                    ctx.set(dut.aw_valid, not aw_done)
                    ctx.set(dut.aw_addr, ident << 2)
                    ctx.set(dut.aw_csr, csr)
                    w_now = not w_done and t >= current["start"] + current.get("w_late", 0)
                    ctx.set(dut.w_valid, w_now)
                    ctx.set(dut.w_data, ident)
                    ctx.set(dut.w_strb, 0xF)
                else:
                    ctx.set(dut.ar_valid, not aw_done)
                    ctx.set(dut.ar_addr, ident << 2)
                    ctx.set(dut.ar_csr, csr)
            else:
                for name in (("aw_valid", "w_valid") if kind == "write" else ("ar_valid",)):
                    ctx.set(getattr(dut, name), 0)
            csr_request = ctx.get(dut.csr_request)
            ctx.set(dut.csr_done, csr_request)
            ctx.set(dut.csr_resp, csr_resp)
            if kind == "read":
                ctx.set(dut.csr_data, 0xC5C5)
            if csr_request:
                record["csr"].append((ctx.get(dut.csr_addr), t))
            records = [target.cycle(ctx, getattr(dut, f"path{j}"), t)
                       for j, target in enumerate(targets)]
            ready = rng.random() < lane_ready
            resp_valid = ctx.get(dut.resp_valid)
            complete = resp_valid and ready
            ctx.set(dut.complete, complete)
            for record_handshakes in records:
                record_handshakes()
            for j in range(paths):
                bus = getattr(dut, f"path{j}")
                record["path_rows"].append((t, j, ctx.get(
                    bus.awvalid if kind == "write" else bus.arvalid)))
            if kind == "write":
                if ctx.get(dut.aw_ready):
                    aw_done = True
                if ctx.get(dut.w_ready):
                    w_done = True
                if ctx.get(dut.aw_ready) or ctx.get(dut.w_ready):
                    record["accepted"].append((current["id"], t))
            elif ctx.get(dut.ar_ready):
                aw_done = True
                record["accepted"].append((current["id"], t))
            for name, key in (("retry", "retry"), ("path_timeout", "timeout"),
                              ("path_error", "error"), ("no_path", "no_path")):
                if ctx.get(getattr(dut, name)):
                    record[key].append(t)
            path_fail = ctx.get(dut.path_fail)
            if path_fail:
                record["path_fail"].append((path_fail, t))
            if complete:
                data = ctx.get(dut.data) if kind == "read" else None
                record["responses"].append((current["id"], ctx.get(dut.resp), t, data))
                current = None
            await ctx.tick()
            failed |= path_fail
        record["idle_end"] = ctx.get(dut.idle)
        record["failed_end"] = failed

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return record


def always(behaviour):
    return lambda ident: behaviour


# --- construction -------------------------------------------------------------------------

class TestPathChannelsSignature:
    def test_members(self):
        write = PathChannelsSignature("write", addr_width=12)
        read = PathChannelsSignature("read", addr_width=12)
        assert set(write.members) == {"awaddr", "awprot", "awvalid", "awready", "wdata",
                                      "wstrb", "wvalid", "wready", "bresp", "bvalid",
                                      "bready"}
        assert set(read.members) == {"araddr", "arprot", "arvalid", "arready", "rdata",
                                     "rresp", "rvalid", "rready"}
        assert (write.kind, write.addr_width) == ("write", 12)
        assert write == PathChannelsSignature("write", addr_width=12) != read
        assert repr(read) == "PathChannelsSignature('read', addr_width=12)"

    def test_wrong_kind(self):
        with pytest.raises(TypeError, match=r"^Channel kind must be 'write' or 'read', "
                                            r"not 'both'$"):
            PathChannelsSignature("both", addr_width=12)


@pytest.mark.parametrize("cls", [WriteEngine, ReadEngine])
class TestEngineInit:
    def test_init(self, cls):
        dut = cls(paths=2, timeout=9, addr_width=20)
        assert (dut.paths, dut.timeout, dut.addr_width) == (2, 9, 20)
        assert len(dut.path1.awaddr if cls is WriteEngine else dut.path1.araddr) == 20
        assert not hasattr(cls(), "path1")

    @pytest.mark.parametrize("kwargs, message", [
        ({"paths": 0}, r"^Path count must be 1 or 2, not 0$"),
        ({"paths": True}, r"^Path count must be 1 or 2, not True$"),
        ({"timeout": 1}, r"^Timeout must be an integer from 2 to 65535, not 1$"),
        ({"timeout": "64"}, r"^Timeout must be an integer from 2 to 65535, not '64'$"),
        ({"addr_width": 8}, r"^Address width must be an integer from 9 to 32, not 8$"),
    ])
    def test_init_wrong(self, cls, kwargs, message):
        with pytest.raises(TypeError, match=message):
            cls(**kwargs)


# --- directed: timing in closed form ------------------------------------------------------

@pytest.mark.parametrize("kind", ["write", "read"])
class TestEngineTiming:
    def test_one_extra_cycle(self, kind):
        # Beats taken in cycle 0, on the path in cycle 1, answered in cycle 2 (a target
        # answering one cycle after the request): the lanes have the answer in cycle 2.
        rec = run_engine(kind, requests=[{"id": 5}], behaviours=[always(Behaviour(1))],
                         cycles=10)
        assert rec["accepted"][0] == (5, 0)
        assert [r[:3] for r in rec["responses"]] == [(5, OKAY, 2)]
        if kind == "read":
            assert rec["responses"][0][3] == 0x1005
        assert rec["idle_end"] and not rec["path_fail"] and not rec["targets"][0].errors

    @pytest.mark.parametrize("timeout", [2, 3, 7])
    def test_timeout_one_path(self, kind, timeout):
        # A path that takes the request and never answers: it times out in cycle
        # timeout + 1 (the timer counts from 0 in cycle 1), and the lanes get SLVERR from
        # the engine in the next cycle; the path is marked failed; no path is left.
        rec = run_engine(kind, timeout=timeout, requests=[{"id": 1}],
                         behaviours=[always(Behaviour(NEVER))], cycles=timeout + 6)
        assert [r[:3] for r in rec["responses"]] == [(1, SLVERR, timeout + 2)]
        assert rec["timeout"] == rec["no_path"] == [timeout + 1]
        assert rec["path_fail"] == [(0b01, timeout + 1)] and rec["retry"] == []

    def test_late_answer_is_discarded(self, kind):
        # The path answers request 1 after its timeout, while request 2 waits for it.
        # Request 2 is not sent before that answer has come (and been discarded), and it
        # gets its own answer.
        timeout = 3
        late = 7
        behaviours = {1: Behaviour(late), 2: Behaviour(2)}
        rec = run_engine(kind, timeout=timeout, requests=[{"id": 1}, {"id": 2}],
                         behaviours=[lambda i: behaviours[i]], cycles=40)
        target = rec["targets"][0]
        answers = [e for e in target.log if e[0] == "answer"]
        takes = [e for e in target.log if e[0] == "take"]
        assert [r[:2] for r in rec["responses"]] == [(1, SLVERR), (2, OKAY)]
        # Request 1 was taken in cycle 1 and answered at 1 + late; request 2 went out
        # in the next cycle, and the lanes' OKAY came with request 2's answer.
        assert takes[0][1:] == (1, 1) and answers[0][1:3] == (1, OKAY)
        assert answers[0][3] == 1 + late
        first_offer = min(t for t, j, valid in rec["path_rows"] if valid and t > 2)
        assert first_offer == answers[0][3] + 1
        assert answers[1][1] == 2 and rec["responses"][1][2] == answers[1][3]
        assert not target.errors

    def test_waits_at_most_timeout_for_owed_answer(self, kind):
        # Request 1 times out (SLVERR in cycle timeout + 2) and its answer comes much
        # later. Request 2, accepted in the cycle after, waits for the owed answer from
        # the next cycle on; once it has waited `timeout` cycles it gets SLVERR without
        # having been sent, one cycle later.
        timeout = 3
        behaviours = {1: Behaviour(40), 2: Behaviour(1)}
        rec = run_engine(kind, timeout=timeout, requests=[{"id": 1}, {"id": 2}],
                         behaviours=[lambda i: behaviours[i]], cycles=30)
        second = timeout + 3
        assert rec["accepted"][-1] == (2, second)
        assert [r[:3] for r in rec["responses"]] == \
            [(1, SLVERR, timeout + 2), (2, SLVERR, second + timeout + 2)]
        assert [e[1] for e in rec["targets"][0].log if e[0] == "take"] == [1]

    def test_retry_on_other_path(self, kind):
        # Path 0 answers SLVERR: the request is retried on path 1 (OKAY); one retry, path 0
        # marked failed, and the next request goes straight to path 1.
        rec = run_engine(kind, paths=2, requests=[{"id": 1}, {"id": 2}],
                         behaviours=[always(Behaviour(1, SLVERR)), always(Behaviour(1))],
                         cycles=20)
        assert [r[:2] for r in rec["responses"]] == [(1, OKAY), (2, OKAY)]
        assert len(rec["retry"]) == 1 and rec["error"] == rec["retry"]
        assert rec["path_fail"] == [(0b01, rec["retry"][0])] and rec["no_path"] == []
        taken = [[e[1] for e in t.log if e[0] == "take"] for t in rec["targets"]]
        assert taken == [[1], [1, 2]]

    def test_both_paths_fail(self, kind):
        # Both paths answer DECERR: one retry, then SLVERR from the engine (DECERR is an
        # error like SLVERR), no path left.
        rec = run_engine(kind, paths=2, requests=[{"id": 1}],
                         behaviours=[always(Behaviour(1, DECERR))] * 2, cycles=20)
        assert [r[:2] for r in rec["responses"]] == [(1, SLVERR)]
        assert len(rec["retry"]) == 1 and len(rec["error"]) == 2
        assert len(rec["no_path"]) == 1 and rec["failed_end"] == 0b11

    def test_register_window(self, kind):
        # A request for the register window never reaches a path; the window's response
        # (and, for a read, its data) goes to the lanes.
        rec = run_engine(kind, paths=2, requests=[{"id": 0x21, "csr": 1}],
                         behaviours=[always(Behaviour(1))] * 2, csr_resp=SLVERR, cycles=10)
        assert rec["csr"] == [((0x21 << 2) & 0xFF, 1)]
        assert [r[:3] for r in rec["responses"]] == [(0x21, SLVERR, 2)]
        if kind == "read":
            assert rec["responses"][0][3] == 0xC5C5
        assert all(not t.log for t in rec["targets"])


class TestHalfWrites:
    def test_one_path_finishes_the_write(self):
        # The path takes AW at once but W only 2 * timeout cycles after it was offered:
        # the lanes get SLVERR at the timeout, the engine goes on offering W (not another
        # write's), the path takes it, and its answer is discarded before write 2 goes out.
        timeout = 4
        behaviours = {1: Behaviour(1, w_after=timeout + 2), 2: Behaviour(1)}
        rec = run_engine("write", timeout=timeout, requests=[{"id": 1}, {"id": 2}],
                         behaviours=[lambda i: behaviours[i]], cycles=40)
        target = rec["targets"][0]
        assert [r[:3] for r in rec["responses"]] == [(1, SLVERR, timeout + 2),
                                                     (2, OKAY, rec["responses"][1][2])]
        assert [e[1] for e in target.log if e[0] == "take"] == [1, 2]
        assert [e[1] for e in target.log if e[0] == "answer"] == [1, 2]
        assert not target.errors and rec["failed_end"] == 0b01

    def test_one_path_left_holding_half(self):
        # The path never takes W: after a second timeout it is left holding half a write,
        # and every write gets SLVERR at once, without reaching it, until software returns
        # the path to service.
        timeout = 3
        restore_at = 30

        def restore(t, failed):
            return 0b01 if t == restore_at else 0

        behaviours = {1: Behaviour(1, takes_w=False)}
        rec = run_engine("write", timeout=timeout,
                         requests=[{"id": 1}, {"id": 2}, {"id": 3}],
                         behaviours=[lambda i: behaviours.get(i, Behaviour(1))],
                         restore=restore, cycles=60)
        responses = rec["responses"]
        assert [r[:2] for r in responses] == [(1, SLVERR), (2, SLVERR), (3, SLVERR)] or \
            [r[:2] for r in responses][:2] == [(1, SLVERR), (2, SLVERR)]
        target = rec["targets"][0]
        # Write 2 never reached the path before the restore.
        assert not [e for e in target.log if e[0] == "take" and e[2] < restore_at]
        assert not target.errors

    def test_two_paths_half_write_retried(self):
        # Path 0 takes AW only; at the timeout the write is retried on path 1 and path 0
        # is held out of writes (broken) while it is marked failed.
        timeout = 3
        rec = run_engine("write", paths=2, timeout=timeout,
                         requests=[{"id": 1}, {"id": 2}],
                         behaviours=[always(Behaviour(1, takes_w=False)),
                                     always(Behaviour(1))], cycles=30)
        assert [r[:2] for r in rec["responses"]] == [(1, OKAY), (2, OKAY)]
        assert [[e[1] for e in t.log if e[0] == "take"] for t in rec["targets"]] == \
            [[], [1, 2]]
        assert rec["retry"] == rec["timeout"] == [timeout + 1]


# --- random: the engine's promises over many requests -------------------------------------

def random_behaviours(rng, timeout, count):
    table = {}
    for ident in range(count):
        kind = rng.random()
        if kind < 0.7:
            table[ident] = Behaviour(rng.randrange(1, 4))
        elif kind < 0.78:
            table[ident] = Behaviour(rng.randrange(timeout, 3 * timeout))    # late
        elif kind < 0.83:
            table[ident] = Behaviour(rng.randrange(4 * timeout, 8 * timeout))   # very late
        elif kind < 0.9:
            table[ident] = Behaviour(rng.randrange(1, 4), rng.choice([SLVERR, DECERR]))
        elif kind < 0.96:
            table[ident] = Behaviour(1, w_after=rng.randrange(0, 2 * timeout))
        else:
            table[ident] = Behaviour(1, takes_w=rng.random() < 0.5,
                                     takes_aw=rng.random() < 0.5)
    return table


@pytest.mark.parametrize("kind", ["write", "read"])
@pytest.mark.parametrize("paths", [1, 2])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_requests(kind, paths, seed):
    # Many requests, targets with random behaviour (fast, late, silent, erroring, slow to
    # take a beat), lanes not always ready, failed paths returned to service now and then
    # (their targets reset). Promises checked:
    # - every request gets exactly one response, in order, and none waits for ever;
    # - OKAY comes with the OKAY answer of that same request on a path, in the same cycle
    #   (never with a late answer for an earlier request);
    # - a target never gets the AW of one write with the W of another, nor a second
    #   request while an earlier one is unanswered (it does not reorder or pipeline);
    # - SLVERR comes only after a path failed.
    timeout = 4
    rng = random.Random(f"{kind}-{paths}-{seed}")
    count = 120
    tables = [random_behaviours(rng, timeout, count) for _ in range(paths)]
    requests = [{"id": i, "w_late": rng.choice([0, 0, 0, 1, 3])} for i in range(count)]
    restore_rng = random.Random(seed)

    def restore(t, failed):
        return failed if failed and restore_rng.random() < 0.02 else 0

    rec = run_engine(kind, paths=paths, timeout=timeout, requests=requests,
                     behaviours=[table.__getitem__ for table in tables], cycles=5000,
                     seed=seed, lane_ready=0.7, restore=restore)
    responses = rec["responses"]
    assert [r[0] for r in responses] == list(range(count))
    answers = {}
    for j, target in enumerate(rec["targets"]):
        assert not target.errors, target.errors[:3]
        for event in target.log:
            if event[0] == "answer":
                answers.setdefault(event[3], []).append((j, event[1], event[2]))
    fails = [t for _, t in rec["path_fail"]]
    for ident, resp, t, data in responses:
        if resp == OKAY:
            assert any(a_id == ident and a_resp == OKAY for _, a_id, a_resp in
                       answers.get(t, [])), (ident, t)
            if kind == "read":
                assert data == 0x1000 + ident
        else:
            assert resp == SLVERR and any(f <= t for f in fails), (ident, t)
    # Some of every outcome happened, and most requests reached a path.
    okay = sum(resp == OKAY for _, resp, _, _ in responses)
    assert count // 3 < okay < count
    taken = sum(e[0] == "take" for target in rec["targets"] for e in target.log)
    assert taken > count // 2
    assert rec["timeout"] and (rec["retry"] or paths == 1)
    # No response waits longer than the bound that follows from the timeouts: a wait
    # for an owed answer, a half-write being finished, and the request's own timeout,
    # each at most `timeout` cycles and a few cycles more (lanes ready 70% of the time).
    starts = {}
    for ident, t in rec["accepted"]:
        starts.setdefault(ident, t)
    waits = [t - starts[ident] for ident, _, t, _ in responses]
    assert max(waits) <= 4 * timeout + 30, max(waits)
