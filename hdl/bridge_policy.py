"""The voting bridge's blame policy: whom to isolate when the lanes diverge, or halt."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge_args import _check_timeout
from .compare import _check_lanes
from .registers import CAUSES, CHANNELS

__all__ = ["BlamePolicy", "POLICIES", "Causes"]

POLICIES = ("halt", "diagnose")


class Causes:
    """ERROR_CAUSE bits set by a part of the bridge, by name (:data:`CAUSES`).

    ``causes["HALTED"]`` is a 1-bit signal made on first use; :meth:`value` is the whole
    vector, with the bits never used as constant zeros (no undriven bits).
    """

    _BITS = {name: bit for bit, (name, _) in enumerate(CAUSES)}

    def __init__(self):
        self._bits = {}

    def __getitem__(self, name):
        bit = self._BITS[name]
        if bit not in self._bits:
            self._bits[bit] = Signal(name=f"cause_{name.lower()}")
        return self._bits[bit]

    def value(self):
        return Cat(*(self._bits.get(bit, Const(0, 1)) for bit in range(len(CAUSES))))


def _popcount(value):
    return sum(value[i] for i in range(len(value)))


class BlamePolicy(wiring.Component):
    """Decide, in a cycle in which the online lanes diverge, whom to blame and isolate.

    A divergence (``differs`` not zero while not ``frozen``) raises ``diverged`` in the
    same cycle (the bridge accepts nothing in it) and:

    - TMR (3 online, one odd lane and a majority on every channel): the odd lane is
      isolated (``isolate``, ``corrected``);
    - otherwise, the single online lane whose ``self_error`` is set is isolated; if
      neither or more are set, ``policy`` decides: ``"halt"`` sets ``halted`` (until
      ``resume``); ``"diagnose"`` sets ``diagnosing`` and raises ``diag_request`` until
      every online lane has reported ``diag_done`` or ``timeout`` cycles have passed:
      the single online lane without ``diag_pass`` (or not done) is isolated if another
      is left, otherwise the bridge halts.

    Without a divergence, a single online lane with ``self_error`` is isolated at once;
    when every online lane raises it, the bridge halts. ``frozen`` (``halted``,
    ``diagnosing`` or ``lanes_reset``) suspends all of this. ``isolate`` is
    combinational; ``halted`` and ``diagnosing`` change at the next clock edge; a
    ``resume`` wins over a halt for a divergence in the same cycle, not over the halt at
    the end of a diagnosis. ``mismatch`` and ``disagree`` are registered: asserted one
    cycle after the divergence.

    Parameters
    ----------
    lanes : int
        2 or 3.
    policy : str
        ``"halt"`` or ``"diagnose"``.
    timeout : int
        Cycles the diagnosis waits for the lanes' verdicts (2 to 65535).

    Members
    -------
    differs : In(5)
        Channels on which the online lanes differ (bit ``CHANNELS[name]``).
    odd : In(lanes), no_majority : In(1)
        TMR: the odd lane of any channel; no majority on some channel.
    online, self_error : In(lanes)
    lanes_reset : In(1)
        The lanes are being reset (resynchronisation): nothing is compared.
    test : In(1)
        A self-test cycle (:mod:`~ftvoter.hdl.selftest`): a divergence in it sets
        ``mismatch`` and ``disagree`` (the odd lane in TMR, else every online lane) as
        usual, and nothing else: no ``diverged``, isolation, halt, rollback or cause.
    resume : In(1)
        Leave the halted state (CONTROL.RESUME).
    frozen, diverged, halted, diagnosing : Out(1)
    isolate : Out(lanes)
        Lanes to take out now (at most one bit set).
    corrected : Out(1)
        A TMR divergence was outvoted.
    blamed : Out(lanes)
        With ``diverged``: the odd lane (TMR), else all online lanes.
    mismatch : Out(1), disagree : Out(lanes)
        ``diverged`` and ``blamed``, one cycle later.
    cause : Out(len(CAUSES))
        ERROR_CAUSE bits to set: the channels, SELF_ERROR, NO_MAJORITY, HALTED,
        DIAG_FAIL.
    diag_request : Out(1); diag_done, diag_pass : In(lanes)
        Only with ``policy="diagnose"``.
    rollback_ok, state_diverged : In(1); rollback : Out(1)
        Only with ``rollback``: a divergence that no lane's ``self_error`` explains rolls
        the lanes back (``rollback``, cause ROLLBACK) instead of going to ``policy``
        while ``rollback_ok``; ``state_diverged`` (the lanes' states differ while they
        present a request) counts as a divergence (cause STATE).

    Raises
    ------
    TypeError
        If ``lanes``, ``policy`` or ``timeout`` are of the wrong type or out of range.
    """

    def __init__(self, *, lanes, policy="halt", timeout=64, rollback=False):
        _check_lanes(lanes)
        if policy not in POLICIES:
            raise TypeError(f"Policy must be 'halt' or 'diagnose', not {policy!r}")
        _check_timeout(timeout)
        if not isinstance(rollback, bool):
            raise TypeError(f"Rollback must be a bool, not {rollback!r}")
        self._lanes, self._policy, self._timeout = lanes, policy, timeout
        self._rollback = rollback
        members = {
            "differs":     In(len(CHANNELS)),
            "odd":         In(lanes),
            "no_majority": In(1),
            "online":      In(lanes),
            "self_error":  In(lanes),
            "lanes_reset": In(1),
            "test":        In(1),
            "resume":      In(1),
            "frozen":      Out(1),
            "diverged":    Out(1),
            "halted":      Out(1),
            "diagnosing":  Out(1),
            "isolate":     Out(lanes),
            "corrected":   Out(1),
            "blamed":      Out(lanes),
            "mismatch":    Out(1),
            "disagree":    Out(lanes),
            "cause":       Out(len(CAUSES)),
        }
        if policy == "diagnose":
            members.update({"diag_request": Out(1), "diag_done": In(lanes),
                            "diag_pass": In(lanes)})
        if rollback:
            members.update({"rollback_ok": In(1), "state_diverged": In(1),
                            "rollback": Out(1)})
        super().__init__(members)

    @property
    def lanes(self):
        return self._lanes

    @property
    def policy(self):
        return self._policy

    @property
    def timeout(self):
        return self._timeout

    def elaborate(self, platform):
        m = Module()
        cause = Causes()
        online, halted, diagnosing = self.online, self.halted, self.diagnosing
        m.d.comb += self.frozen.eq(halted | diagnosing | self.lanes_reset)
        n_online = _popcount(online)
        tmr_ok = Signal()
        m.d.comb += tmr_ok.eq((n_online == 3) & ~self.no_majority & (_popcount(self.odd) == 1))
        suspects = Signal(self._lanes)
        m.d.comb += suspects.eq(online & self.self_error)
        single_suspect = Signal()
        m.d.comb += single_suspect.eq((_popcount(suspects) == 1) & (n_online >= 2))

        frozen, diverged = self.frozen, self.diverged
        state_diverged = self.state_diverged if self._rollback else 0
        rollback_ok = self.rollback_ok if self._rollback else 0
        raw = Signal()
        m.d.comb += [raw.eq(~frozen & (self.differs.any() | state_diverged)),
                     diverged.eq(raw & ~self.test)]
        with m.If(diverged):
            for name, bit in CHANNELS.items():
                m.d.comb += cause[name if name in ("AW", "W", "AR") else
                                  f"{name}_READY"].eq(self.differs[bit])
            with m.If(tmr_ok):
                m.d.comb += [self.isolate.eq(self.odd), self.corrected.eq(1),
                             self.blamed.eq(self.odd)]
            with m.Else():
                m.d.comb += self.blamed.eq(online)
                with m.If(single_suspect):
                    m.d.comb += [self.isolate.eq(suspects), cause["SELF_ERROR"].eq(1)]
                with m.Elif(rollback_ok):
                    if self._rollback:
                        m.d.comb += [self.rollback.eq(1), cause["ROLLBACK"].eq(1),
                                     cause["STATE"].eq(~self.differs.any())]
                with m.Else():
                    m.d.comb += cause["NO_MAJORITY"].eq(1)
                    if self._policy == "halt":
                        m.d.comb += cause["HALTED"].eq(1)
                        m.d.sync += halted.eq(1)
                    else:
                        m.d.sync += diagnosing.eq(1)
        with m.Elif(~frozen & single_suspect):
            # A lane that reports itself broken is taken out before it diverges.
            m.d.comb += [self.isolate.eq(suspects), cause["SELF_ERROR"].eq(1)]
        with m.Elif(~frozen & online.any() & (suspects == online)):
            # Every lane reports itself broken (a common-cause fault): none is left to
            # trust, so stop before their output goes out.
            m.d.comb += [cause["SELF_ERROR"].eq(1), cause["HALTED"].eq(1)]
            m.d.sync += halted.eq(1)
        m.d.sync += [self.mismatch.eq(raw),
                     self.disagree.eq(Mux(diverged, self.blamed,
                                          Mux(raw, Mux(tmr_ok, self.odd, online), 0)))]

        with m.If(self.resume):
            m.d.sync += halted.eq(0)

        if self._policy == "diagnose":
            self._diagnose(m, cause)
        m.d.comb += self.cause.eq(cause.value())
        return m

    def _diagnose(self, m, cause):
        """The self-test: wait for every online lane's verdict, or the timeout."""
        online, done, passed = self.online, self.diag_done, self.diag_pass
        timer = Signal(16)
        m.d.comb += self.diag_request.eq(self.diagnosing)
        with m.If(self.diagnosing):
            m.d.sync += timer.eq(timer + 1)
            with m.If(((done | ~online).all()) | (timer >= self._timeout)):
                fails = Signal(self._lanes)
                m.d.comb += fails.eq(online & ~(done & passed))
                m.d.sync += [self.diagnosing.eq(0), timer.eq(0)]
                with m.If((_popcount(fails) == 1) & (online & ~fails).any()):
                    m.d.comb += [self.isolate.eq(fails), cause["DIAG_FAIL"].eq(1)]
                with m.Else():
                    m.d.comb += cause["HALTED"].eq(1)
                    m.d.sync += self.halted.eq(1)
