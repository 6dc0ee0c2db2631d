"""CampaignBench: a golden and a faulty lockstep system side by side, classified online.

A fault-insertion campaign needs, for every injection, the fault-free behaviour to compare
with. Instead of recording a golden trace and comparing it in the testbench (Python in the
per-cycle path), the bench builds the same system twice: a *golden* copy and a *faulty*
copy with a :class:`~ftvoter.hdl.inject.FaultInjector`, both reset together and fed the
same inputs. Hardware monitors compare them every cycle and keep what a classification
needs; the testbench only writes one injection, waits for ``done`` and reads the record.
"""

from amaranth.hdl import (
    Cat,
    ClockDomain,
    ClockSignal,
    DomainRenamer,
    EnableInserter,
    Fragment,
    Module,
    ResetInserter,
    ResetSignal,
    Signal,
)
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .campaign_ckpt import checkpoint_ports, checkpoint_slot
from .campaign_lane_faults import drive_lane_faults, lane_fault_fields, lane_fault_record
from .campaign_lanes import (
    Events,
    StreamCheck,
    copy_lane_memories,
    instrumented_bridge,
    lane_pairs,
    load_bridge_state,
    load_lane_states,
    ram_differs,
    with_memories,
)
from .campaign_lanes import (
    first_cycle as _first,
)
from .campaign_lanes import lane_outputs as _outputs
from .encodings import NEVER
from .inject import FaultModel
from .lockstep import Lockstep
from .state_load import insert_loads

__all__ = ["CampaignBench", "NEVER", "COPY_DOMAIN"]

#: The clock domain of the lane RAMs' memory ports in the bench (same clock as ``sync``,
#: no reset, and not held by a load): lanes built for a bench put their RAM's copy port
#: in it (``AXI4LiteMemory(copy_domain=COPY_DOMAIN)``).
COPY_DOMAIN = "ftv_copy"


class CampaignBench(wiring.Component):
    """Run one injection at a time on a faulty copy of a lockstep system, against a golden one.

    ``system(faults)`` is called twice and must return a
    :class:`~ftvoter.hdl.lockstep.Lockstep`: with ``faults=None`` (the golden copy) and with
    the site patterns (the faulty copy). Each copy's path(s) end in an on-chip RAM.

    Writing a new value to ``seq`` starts an injection: the fault inputs are latched at the
    next clock edge, both copies are reset at the edge after, and the cycle that follows is
    cycle 0 of the run. The run ends (``done`` rises, with ``done_seq`` equal to ``seq``) at cycle
    ``start + window``, or earlier once the outcome can no longer change:

    - the fault is over (a flip after its cycle, a stuck-at after its duration), no lane
      output has diverged and the faulty lanes' state equals the golden lanes' again
      (*masked*, and the two copies are identical from then on); or
    - the fault was detected and the system reacted: halted, took a lane out, or (delayed
      lockstep, detection only) raised ``mismatch``.

    Cycle outputs (``*_at``) give the first cycle of an event, counted from cycle 0, or
    :data:`NEVER`.

    Lanes with a state port (a :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`
    core: ``core.state_out``/``state_in``/``state_load``) are loaded through it, and the
    golden lanes stand still through it. Lanes with a RAM with a memory port (``ram.copy``,
    in domain :data:`COPY_DOMAIN`) have it copied block by block: a load copies, from each
    golden lane RAM to its faulty twin, the blocks either wrote since the last load (the
    load lasts that many cycles, the golden copy standing still); a restart restores both
    from the RAM's initial contents (the program) for the blocks written since the last
    restart. A lane's RAM is part of its state for ``state_differs``: its writes are
    compared with the golden twin's, in order. CPU lanes' benches have a checkpoint slot
    (``ckpt_*``, :mod:`~ftvoter.hdl.campaign_ckpt`): a restart may go back to it.

    Parameters
    ----------
    system : callable
        ``system(faults)`` returns a :class:`~ftvoter.hdl.lockstep.Lockstep`.
    faults : list of str
        Site patterns for the faulty copy's injector.
    ram_words : int
        Words of RAM behind each path.
    ram_init : sequence of int
        Their initial contents (what the lanes read before they write: a CPU lane's
        requests), at most ``ram_words`` words.

    Members
    -------
    seq : In(8)
        A change starts a run.
    injection : In(StructLayout)
        The run: the fault, as the :class:`~ftvoter.hdl.inject.FaultInjector` inputs
        (``arm``, ``site``, ``mask``, ``model``, ``start``, ``duration``, ``common``),
        and ``window``, the observation window in cycles from ``start``. Field offsets:
        :attr:`injection_fields`.
    done : Out(1), done_seq : Out(8)
        The run is over; which run.
    record : Out(StructLayout)
        What the run did (field offsets: :attr:`record_fields`):

        - ``cycle``: cycles since the run started; ``checker_at``: first cycle of the
          faulty copy's ``checker_error`` (the checker found a fault in itself);
        - ``mismatch_at``, ``self_error_at``, ``diverged_at``, ``io_wrong_at``: first cycle
          of the faulty copy's ``mismatch``; of a lane's ``self_error``; of a lane output
          differing from the same lane's in the golden copy (as the design's checker
          compares them: the voting bridge, payloads only while valid); of a request on a
          path differing from the golden copy's, or one it did not make;
        - ``diverged``: the lanes whose outputs diverged first (at ``diverged_at``);
        - ``state_differs``: lanes whose state registers differ from the golden copy's;
          ``bridge_differs``: the same for an instrumented bridge (sites ``bridge.*``);
        - ``online``, ``halted``: the faulty copy's lanes in the vote; its bridge halted;
        - ``lag``: requests the faulty copy owes the golden copy (stalled or stopped);
          ``lag_overflow``: it fell more behind than the monitors hold;
        - ``golden_requests``: requests made by the golden copy (a measure of progress);
        - ``rollbacks``: rollbacks of the faulty copy (systems built with rollback);
          ``rollback_cycles``: the last one's length, from ``mismatch`` to the lanes
          running again.
    """

    def __init__(self, system, *, faults, ram_words=256, ram_init=()):
        if not callable(system):
            raise TypeError(f"System must be callable, not {system!r}")
        if not isinstance(ram_words, int) or isinstance(ram_words, bool) or ram_words < 1:
            raise TypeError(f"RAM words must be a positive integer, not {ram_words!r}")
        ram_init = list(ram_init)
        if len(ram_init) > ram_words:
            raise TypeError(f"RAM init must be at most {ram_words} words, not "
                            f"{len(ram_init)}")
        self._ram_init = ram_init
        self._golden = system(None)
        self._faulty = system(faults)
        for copy in (self._golden, self._faulty):
            if not isinstance(copy, Lockstep):
                raise TypeError(f"System must return a Lockstep, not {copy!r}")
        if self._faulty.injector is None:
            raise ValueError(f"The faulty copy must have a fault injector, not faults="
                             f"{faults!r}")
        self._ram_words = ram_words
        self._pairs = lane_pairs(self._golden, self._faulty)
        self._paths = 2 if "path1_bus" in self._golden.signature.members else 1
        lanes = self._golden.lanes
        fault = self._faulty.injector.signature.members
        self._program = data.StructLayout({
            **{name: fault[name].shape for name in
               ("arm", "site", "mask", "model", "start", "duration", "common")},
            "window": 32,
            "restart": 1,
            **lane_fault_fields(self._faulty),
        })
        self._record = data.StructLayout({
            "cycle": 32, "mismatch_at": 32, "self_error_at": 32, "checker_at": 32,
            "diverged_at": 32,
            "io_wrong_at": 32, "diverged": lanes, "state_differs": lanes, "online": lanes,
            "halted": 1, "lag": 8, "lag_overflow": 1, "golden_requests": 32,
            "rollbacks": 8, "rollback_cycles": 16, "bridge_differs": 1,
            **lane_fault_record(self._faulty),
        })
        super().__init__({
            "seq":       In(8),
            "injection": In(self._program),
            "done":      Out(1),
            "done_seq":  Out(8),
            "record":    Out(self._record),
            **checkpoint_ports(self._golden),
        })

    @staticmethod
    def _fields(layout):
        return [(name, f.offset, f.width) for name, f in layout]

    @property
    def injection_fields(self):
        """``(name, offset, width)`` of each field of ``injection``, for packing it."""
        return self._fields(self._program)

    @property
    def record_fields(self):
        """``(name, offset, width)`` of each field of ``record``, for unpacking it."""
        return self._fields(self._record)

    @property
    def golden(self):
        return self._golden

    @property
    def faulty(self):
        return self._faulty

    @property
    def sites(self):
        """The faulty copy's fault sites (``site`` indexes this list)."""
        return self._faulty.injector.sites

    def elaborate(self, platform):
        m = Module()
        self._slot = slot = checkpoint_slot(self)     # hdl/campaign_ckpt.py
        seen, pending, restart, load = self._start(m)
        if instrumented_bridge(self._golden) is not None or any(
                getattr(g, "core", None) is not None or getattr(g, "ram", None) is not None
                for g, _ in self._pairs):
            # CPU lanes: the systems run in their own domain, reset at a restart (the cores
            # given as Verilog instances included: ResetInserter does not reach them), and
            # the lane RAMs' memory ports in one that neither a load nor a restart holds.
            m.domains.sys = sys = ClockDomain("sys")
            copy = ClockDomain(COPY_DOMAIN, reset_less=True)
            m.domains += copy
            m.d.comb += [sys.clk.eq(ClockSignal()), sys.rst.eq(ResetSignal() | slot.reset),
                         copy.clk.eq(ClockSignal())]
            m.submodules.systems = DomainRenamer("sys")(self._systems(platform, load))
        else:
            # Amaranth lanes only: the same, with the restart inserted into every register's
            # own reset (a model about 40% faster under Verilator than one clocked through
            # a derived domain's clock).
            m.submodules.systems = ResetInserter(restart)(self._systems(platform, load))
        load_lane_states(m, self._pairs, load, self._golden, self._faulty, slot)
        self._bridge_differs = load_bridge_state(m, self._golden, self._faulty, load, slot)
        q = self._latch_program(m, pending)
        r = self._record_signals(m)
        self._count_cycles(m, cycle := r["cycle"], restart, load, slot.origin)
        slot.finish(m, cycle)
        run = Module()   # the monitors: cleared at the start of each injection
        detected = self._monitor_detection(m, run, r, cycle)
        self._monitor_lanes(run, r, cycle)
        self._monitor_paths(m, run, r, cycle)
        settled = drive_lane_faults(m, run, self._faulty, q, r, cycle)
        self._end_run(m, run, q, r, cycle, detected, seen, settled)
        m.submodules.run = ResetInserter(restart | load)(run)
        return m

    def _start(self, m):
        """Return ``seen``, ``pending``, ``restart`` and ``load``: a new ``seq`` starts a run."""
        # A new ``seq`` is seen at one clock edge and resets the run at the next, so that no
        # logic of the run depends combinationally on a top-level input: the simulator
        # re-evaluates such logic whenever it may have touched an input.
        # Both last one cycle, or as long as the lane RAMs take to copy (_lane_memories).
        seen = Signal(8)
        pending = Signal()
        restart_pulse, load_pulse = Signal(), Signal()
        m.d.comb += pending.eq(self.seq != seen)
        m.d.sync += [seen.eq(self.seq),
                     restart_pulse.eq(pending & self.injection.restart),
                     load_pulse.eq(pending & ~self.injection.restart)]
        restoring, copying = copy_lane_memories(m, self._pairs, restart_pulse, load_pulse,
                                                self._slot)
        restart, load = Signal(), Signal()
        m.d.comb += [restart.eq(restart_pulse | restoring),
                     load.eq(self._slot.held(load_pulse | copying))]
        self._slot.start(m, pending, self.injection, load_pulse, restart)
        return seen, pending, restart, load

    def _systems(self, platform, load):
        """Return the golden and the faulty copy, the faulty one loaded from the golden one."""
        # At a restart both are reset; at a load the golden copy stands still for a cycle
        # while every register of the faulty copy takes the golden copy's value.
        fragments = {}
        for copy, name in ((self._golden, "golden"), (self._faulty, "faulty")):
            system = with_memories(copy, self._paths, self._ram_words, self._ram_init)
            fragments[name] = EnableInserter(~load)(Fragment.get(system, platform))
        insert_loads(fragments["faulty"], fragments["golden"], load)
        self._slot.insert_restores(fragments["golden"], [fragments["faulty"]], [self._faulty])
        systems = Module()
        systems.submodules.golden = fragments["golden"]
        systems.submodules.faulty = fragments["faulty"]
        return systems

    def _latch_program(self, m, pending):
        """Latch the run's parameters when it starts, drive the injector; return them."""
        # Logic fed by registers, not by top-level inputs, is not re-evaluated whenever the
        # simulator touches an input.
        program = Signal(self._program)
        with m.If(pending):
            m.d.sync += program.eq(self.injection)
        q = {name: program[name] for name, _ in self._program}
        injector = self._faulty.fault
        for name in ("arm", "site", "mask", "model", "start", "duration", "common"):
            m.d.comb += getattr(injector, name).eq(q[name])
        return q

    def _record_signals(self, m):
        """Return the fields of ``record`` as signals, by name (``*_at`` start at NEVER)."""
        r = {name: Signal(field.shape, name=name,
                          init=NEVER if name.endswith("_at") else 0)
             for name, field in self._record}
        m.d.comb += self.record.eq(Cat(*(r[name] for name, _ in self._record)))
        return r

    @staticmethod
    def _count_cycles(m, cycle, restart, load, origin=0):
        """Count in ``cycle`` the cycles since the last restart, standing still during a load."""
        # As the injector's counter does (from ``origin``: a checkpoint's cycle); it saturates.
        with m.If(restart):
            m.d.sync += cycle.eq(origin)
        with m.Elif(~load & ~cycle.all()):
            m.d.sync += cycle.eq(cycle + 1)

    def _monitor_detection(self, m, run, r, cycle):
        """Record the first ``mismatch`` and ``self_error``; return "the fault was detected"."""
        faulty = self._faulty
        detected = Signal()
        m_any = faulty.mismatch
        self_error = faulty.self_error.any()
        _first(run, r["mismatch_at"], m_any, cycle)
        if "rollback" in faulty.signature.members:
            with run.If(faulty.rollback & ~r["rollbacks"].all()):
                run.d.sync += r["rollbacks"].eq(r["rollbacks"] + 1)
            m.d.comb += r["rollback_cycles"].eq(faulty.rollback_cycles)
        _first(run, r["self_error_at"], self_error, cycle)
        checker = faulty.checker_error if "checker_error" in faulty.signature.members else 0
        _first(run, r["checker_at"], checker, cycle)
        m.d.comb += detected.eq((r["mismatch_at"] != NEVER) | (r["self_error_at"] != NEVER) |
                                (r["checker_at"] != NEVER))
        return detected

    def _monitor_lanes(self, run, r, cycle):
        """Compare each lane's outputs and state with the golden copy's same lane."""
        golden, faulty = self._golden, self._faulty
        differs = Signal(golden.lanes)
        for i, (g, f) in enumerate(zip(golden.units, faulty.units, strict=True)):
            raw = faulty.bridge is None
            run.d.comb += differs[i].eq(_outputs(g.bus, g.self_error, raw) !=
                                        _outputs(f.bus, f.self_error, raw))
            g_state = Cat(*(register for _, register in g.site_registers()))
            f_state = Cat(*(register for _, register in f.site_registers()))
            ram_differs_ = ram_differs(run, i, g, f)
            run.d.comb += r["state_differs"][i].eq((g_state != f_state) | ram_differs_)
        run.d.comb += r["bridge_differs"].eq(self._bridge_differs)
        with run.If(differs.any() & (r["diverged_at"] == NEVER)):
            run.d.sync += [r["diverged_at"].eq(cycle), r["diverged"].eq(differs)]

    def _monitor_paths(self, m, run, r, cycle):
        """Compare the requests on the paths with the golden copy's, in order; report status."""
        golden, faulty = self._golden, self._faulty
        # A system that rolls back re-executes, one that resyncs a lane stops for it: it
        # falls behind by what it redid, or by the stop.
        deep = any(name in faulty.signature.members for name in ("rollback", "lane_cmd"))
        wrong, overflow, lag = [], [], []
        for j in range(self._paths):
            g = Events(run, getattr(golden, f"path{j}_bus"), f"golden{j}")
            f = Events(run, getattr(faulty, f"path{j}_bus"), f"faulty{j}")
            for kind in ("write", "read"):
                check = StreamCheck(run, f"{kind}{j}", getattr(g, f"{kind}_valid"),
                                     getattr(g, kind), getattr(f, f"{kind}_valid"),
                                     getattr(f, kind), depth=64 if deep else 8)
                wrong.append(check.wrong)
                overflow.append(check.overflow)
                lag.append(check.lag)
            with run.If((g.write_valid | g.read_valid) & ~r["golden_requests"].all()):
                run.d.sync += r["golden_requests"].eq(r["golden_requests"] + 1)
        _first(run, r["io_wrong_at"], Cat(*wrong).any(), cycle)
        m.d.comb += [
            r["lag"].eq(sum(lag)),
            r["lag_overflow"].eq(Cat(*overflow).any()),
            r["online"].eq(faulty.online),
        ]
        if faulty.bridge is not None:
            m.d.comb += r["halted"].eq(faulty.halted)

    def _end_run(self, m, run, q, r, cycle, detected, seen, settled):
        """Raise ``done`` once the outcome is settled or the window is over."""
        faulty = self._faulty
        start, window = q["start"], q["window"]
        over = Signal()
        with m.If(~q["arm"]):
            m.d.comb += over.eq(1)
        with m.Elif(q["model"] == FaultModel.FLIP):
            m.d.comb += over.eq(cycle > start)
        with m.Elif(q["duration"] != 0):
            m.d.comb += over.eq(cycle > start + q["duration"])
        converged = Signal()
        m.d.comb += converged.eq(over & settled & (r["diverged_at"] == NEVER) & ~detected &
                                 (r["io_wrong_at"] == NEVER) & ~r["state_differs"].any() &
                                 ~r["bridge_differs"])
        reacted = Signal()
        if faulty.bridge is not None:
            m.d.comb += reacted.eq(detected & (faulty.halted | ~faulty.online.all()))
        else:
            m.d.comb += reacted.eq(detected)
        end = Signal()
        m.d.comb += end.eq((cycle >= start + window) | converged | reacted)
        with run.If(end & ~self.done):
            run.d.sync += [self.done.eq(1), self.done_seq.eq(seen)]

