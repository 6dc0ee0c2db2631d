"""CampaignBench: a golden and K faulty lockstep systems side by side, classified online.

A fault-insertion campaign needs, for every injection, the fault-free behaviour to compare
with. Instead of recording a golden trace and comparing it in the testbench (Python in the
per-cycle path), the bench builds the system several times: one *golden* copy and
``copies`` *faulty* copies, each with a :class:`~ftvoter.hdl.inject.FaultInjector`, fed the
same inputs. Hardware monitors (:mod:`~ftvoter.hdl.campaign_monitor`) compare each faulty
copy with the golden one every cycle and keep what a classification needs; the testbench
only writes an injection, waits for ``done`` and reads the record. The faulty copies share
the golden copy's cycles: each runs its own injection, started when it is free.
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
from amaranth.lib.wiring import In, Out, connect

from .campaign_ckpt import checkpoint_ports, checkpoint_slot
from .campaign_lane_faults import lane_fault_fields, lane_fault_record
from .campaign_lanes import (
    copy_lane_memories,
    has_state_ports,
    instrumented_bridge,
    load_bridge_state,
    load_lane_states,
)
from .campaign_monitor import monitor_copy
from .encodings import MAX_COPIES, NEVER
from .lockstep import Lockstep
from .state_load import insert_loads
from .units.memory import AXI4LiteMemory

__all__ = ["CampaignBench", "NEVER", "COPY_DOMAIN", "MAX_COPIES"]

#: The clock domain of the lane RAMs' memory ports in the bench (same clock as ``sync``,
#: no reset, and not held by a load): lanes built for a bench put their RAM's copy port
#: in it (``AXI4LiteMemory(copy_domain=COPY_DOMAIN)``).
COPY_DOMAIN = "ftv_copy"


class CampaignBench(wiring.Component):
    """Run injections on faulty copies of a lockstep system, against one golden copy.

    ``system(faults)`` is called once with ``faults=None`` (the golden copy) and once per
    faulty copy with the site patterns, and must return a
    :class:`~ftvoter.hdl.lockstep.Lockstep`. Each copy's path(s) end in an on-chip RAM.

    Each faulty copy ``k`` has its own ``seq``, ``injection``, ``done``, ``done_seq`` and
    ``record`` (with ``copies`` > 1 these ports are arrays, copy ``k``'s element at index
    ``k``, so its packed bits at ``k`` times the width of one). Writing a new value to a
    copy's ``seq`` starts an injection on it: the fault inputs are latched at the next
    clock edge, and the copy starts at the edge after, in one of two ways (``restart``):

    - a *restart* resets every copy (the golden one included) and starts each copy whose
      new ``seq`` asks for a restart; the cycle that follows is cycle 0;
    - a *load* gives the faulty copy the golden copy's state (every register; the lane
      RAMs block by block) while everything else stands still; its run starts in the
      golden copy's current cycle. One copy loads at a time: copies asking together are
      started one after the other.

    A copy's run ends (``done`` rises, with ``done_seq`` equal to its ``seq``) at cycle
    ``start + window``, or earlier once the outcome can no longer change:

    - the fault is over (a flip after its cycle, a stuck-at after its duration), no lane
      output has diverged and the faulty lanes' state equals the golden lanes' again
      (*masked*, and the two copies are identical from then on); or
    - the fault was detected and the system reacted: halted, took a lane out, or (delayed
      lockstep, detection only) raised ``mismatch``.

    Cycles are counted from the last restart (standing still during loads), so a record
    does not depend on how its run was started. Cycle outputs (``*_at``) give the first
    cycle of an event, or :data:`NEVER`.

    Lanes with a state port (a :class:`~ftvoter.hdl.units.netlist_core.NetlistCore`
    core) are loaded, and stand still, through it; after a restart each faulty copy takes
    the golden one's state (flip-flops no reset reaches). Lane RAMs with a memory port
    (``ram.copy``, in domain :data:`COPY_DOMAIN`) are copied block by block: a load, the
    blocks written since the copy's last load (by it or the golden twin); a restart, from
    the initial contents (the program), those written since the last restart. A lane's
    RAM writes are compared with the golden twin's, in order (``state_differs``). CPU
    lanes' benches have a checkpoint slot (``ckpt_*``, :mod:`~ftvoter.hdl.campaign_ckpt`):
    a restart may go back to it.

    Parameters
    ----------
    system : callable
        ``system(faults)`` returns a :class:`~ftvoter.hdl.lockstep.Lockstep`.
    faults : list of str
        Site patterns for the faulty copies' injectors.
    ram_words : int
        Words of RAM behind each path.
    ram_init : sequence of int
        Their initial contents (what the lanes read before they write: a CPU lane's
        requests), at most ``ram_words`` words.
    copies : int
        Faulty copies (1 to :data:`MAX_COPIES`).

    Members
    -------
    seq : In(8)
        A change starts a run.
    injection : In(StructLayout)
        The run: the fault, as the :class:`~ftvoter.hdl.inject.FaultInjector` inputs
        (``arm``, ``site``, ``mask``, ``model``, ``start``, ``duration``, ``common``),
        ``window``, the observation window in cycles from ``start``, and ``restart``.
        Field offsets: :attr:`injection_fields`.
    done : Out(1), done_seq : Out(8)
        The run is over; which run.
    finished : Out(8)
        Runs ended, modulo 256 (one port to wait on, whichever copies ended).
    record : Out(StructLayout)
        What the run did (field offsets: :attr:`record_fields`):

        - ``cycle``: the cycle its run ended; ``checker_at``: first cycle of the faulty
          copy's ``checker_error`` (the checker found a fault in itself);
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
        - ``golden_requests``: requests made by the golden copy during the run;
        - ``rollbacks``: rollbacks of the faulty copy (systems built with rollback);
          ``rollback_cycles``: the last one's length, from ``mismatch`` to the lanes
          running again.
    """

    def __init__(self, system, *, faults, ram_words=256, ram_init=(), copies=1):
        if not callable(system):
            raise TypeError(f"System must be callable, not {system!r}")
        if not isinstance(ram_words, int) or isinstance(ram_words, bool) or ram_words < 1:
            raise TypeError(f"RAM words must be a positive integer, not {ram_words!r}")
        if (not isinstance(copies, int) or isinstance(copies, bool) or
                not 1 <= copies <= MAX_COPIES):
            raise TypeError(f"Copies must be an integer from 1 to {MAX_COPIES}, not "
                            f"{copies!r}")
        ram_init = list(ram_init)
        if len(ram_init) > ram_words:
            raise TypeError(f"RAM init must be at most {ram_words} words, not "
                            f"{len(ram_init)}")
        self._ram_init = ram_init
        self._golden = system(None)
        self._faulties = [system(faults) for _ in range(copies)]
        for copy in (self._golden, *self._faulties):
            if not isinstance(copy, Lockstep):
                raise TypeError(f"System must return a Lockstep, not {copy!r}")
        if self._faulties[0].injector is None:
            raise ValueError(f"The faulty copy must have a fault injector, not faults="
                             f"{faults!r}")
        self._ram_words = ram_words
        self._paths = 2 if "path1_bus" in self._golden.signature.members else 1
        lanes = self._golden.lanes
        faulty = self._faulties[0]
        fault = faulty.injector.signature.members
        self._program = data.StructLayout({
            **{name: fault[name].shape for name in
               ("arm", "site", "mask", "model", "start", "duration", "common")},
            "window": 32,
            "restart": 1,
            **lane_fault_fields(faulty),
        })
        self._record = data.StructLayout({
            "cycle": 32, "mismatch_at": 32, "self_error_at": 32, "checker_at": 32,
            "diverged_at": 32,
            "io_wrong_at": 32, "diverged": lanes, "state_differs": lanes, "online": lanes,
            "halted": 1, "lag": 8, "lag_overflow": 1, "golden_requests": 32,
            "rollbacks": 8, "rollback_cycles": 16, "bridge_differs": 1,
            **lane_fault_record(faulty),
        })

        def each(shape):
            return shape if copies == 1 else data.ArrayLayout(shape, copies)
        super().__init__({
            "seq":       In(each(8)),
            "injection": In(each(self._program)),
            "done":      Out(copies),
            "done_seq":  Out(each(8)),
            "record":    Out(each(self._record)),
            "finished":  Out(8),
            **checkpoint_ports(self._golden),
        })

    @staticmethod
    def _fields(layout):
        return [(name, f.offset, f.width) for name, f in layout]

    @property
    def copies(self):
        return len(self._faulties)

    @property
    def injection_fields(self):
        """``(name, offset, width)`` of each field of one copy's ``injection``."""
        return self._fields(self._program)

    @property
    def record_fields(self):
        """``(name, offset, width)`` of each field of one copy's ``record``."""
        return self._fields(self._record)

    @property
    def injection_width(self):
        """Bits of one copy's ``injection`` (copy ``k``'s start at ``k`` times this)."""
        return self._program.size

    @property
    def record_width(self):
        """Bits of one copy's ``record``."""
        return self._record.size

    golden = property(lambda self: self._golden)

    @property
    def faulty(self):       # the first faulty copy
        return self._faulties[0]

    faulties = property(lambda self: list(self._faulties))

    @property
    def sites(self):
        """The faulty copies' fault sites (``site`` indexes this list)."""
        return self._faulties[0].injector.sites

    def _port(self, name, k):
        port = getattr(self, name)
        return port if self.copies == 1 else port[k]

    def elaborate(self, platform):
        m = Module()
        golden, faulties = self._golden, self._faulties
        self._slot = slot = checkpoint_slot(self)     # hdl/campaign_ckpt.py
        seen, accept, restart, loads, loading = self._start(m)
        if instrumented_bridge(golden) is not None or any(
                getattr(g, "core", None) is not None or getattr(g, "ram", None) is not None
                for g in golden.units):
            # CPU lanes: the systems run in their own domain, reset at a restart (the cores
            # given as Verilog instances included: ResetInserter does not reach them), and
            # the lane RAMs' memory ports in one that neither a load nor a restart holds.
            m.domains.sys = sys = ClockDomain("sys")
            copy = ClockDomain(COPY_DOMAIN, reset_less=True)
            m.domains += copy
            m.d.comb += [sys.clk.eq(ClockSignal()), sys.rst.eq(ResetSignal() | slot.reset),
                         copy.clk.eq(ClockSignal())]
            m.submodules.systems = DomainRenamer("sys")(self._systems(platform, loads,
                                                                      loading))
        else:
            # Amaranth lanes only: the same, with the restart inserted into every register's
            # own reset (a model about 40% faster under Verilator than one clocked through
            # a derived domain's clock).
            m.submodules.systems = ResetInserter(restart)(self._systems(platform, loads,
                                                                        loading))
        load_lane_states(m, golden, faulties, loads, loading, slot)
        bridge_differs = load_bridge_state(m, golden, faulties, loads, loading, slot)
        cycle = Signal(32, name="cycle")
        # As the injectors' counters do, from a restart (at a checkpoint's cycle, from one);
        # it saturates.
        with m.If(restart):
            m.d.sync += cycle.eq(slot.origin)
        with m.Elif(~loading & ~cycle.all()):
            m.d.sync += cycle.eq(cycle + 1)
        slot.finish(m, cycle)
        dones, endings = [], []
        for k, faulty in enumerate(faulties):
            q = self._latch_program(m, k, accept[k])
            run = Module()      # the copy's monitors: cleared at the start of each of its runs
            done, done_seq = Signal(name=f"done{k}"), Signal(8, name=f"done_seq{k}")
            r, ending = monitor_copy(m, run, golden, faulty, self._record, q=q, cycle=cycle,
                             paths=self._paths, bridge_differs=bridge_differs[k],
                             seen=seen[k], done=done, done_seq=done_seq, name=f"copy{k}")
            # The record's cycle follows the bench's until the run is done.
            with m.If(restart):
                m.d.sync += r["cycle"].eq(slot.origin)
            with m.Elif(loads[k]):
                m.d.sync += r["cycle"].eq(cycle)
            with m.Elif(~loading & ~done & ~r["cycle"].all()):
                m.d.sync += r["cycle"].eq(r["cycle"] + 1)
            m.d.comb += [self._port("record", k).eq(Cat(*(r[name] for name, _ in
                                                          self._record))),
                         self._port("done_seq", k).eq(done_seq)]
            dones.append(done)
            # (Not before the copy's first run: its program is all 0 until then.)
            started = Signal(name=f"started{k}")
            with m.If(accept[k]):
                m.d.sync += started.eq(1)
            endings.append(ending & started & ~loading & ~restart & ~loads[k])
            # Held while another copy loads (the golden copy and its events stand still).
            m.submodules[f"run{k}"] = ResetInserter(restart | loads[k])(
                EnableInserter(~loading)(run))
        m.d.comb += self.done.eq(Cat(*dones))
        # Counts the runs that ended: a testbench waits for it to change, whichever copies
        # ended (a change in the cycle done rises).
        m.d.sync += self.finished.eq(self.finished + sum(endings))
        return m

    def _start(self, m):
        """Return ``seen``, ``accept`` (per copy), ``restart``, ``loads`` (per copy) and
        ``loading``: a new ``seq`` starts a run."""
        # A new ``seq`` is seen at one clock edge and starts the run at the next, so that no
        # logic of the run depends combinationally on a top-level input: the simulator
        # re-evaluates such logic whenever it may have touched an input. A restart or a load
        # lasts one cycle, or as long as the lane RAMs take to copy.
        copies = range(self.copies)
        seen = [Signal(8, name=f"seen{k}") for k in copies]
        pending = [self._port("seq", k) != seen[k] for k in copies]
        restarts = [pending[k] & self._port("injection", k).restart for k in copies]
        any_restart = Cat(*restarts).any()
        busy = Signal()
        accept = [Signal(name=f"accept{k}") for k in copies]
        earlier = 0     # a copy before this one asks for a load: it goes first
        for k in copies:
            load = pending[k] & ~restarts[k]
            m.d.comb += accept[k].eq(~busy & (restarts[k] | (load & ~earlier & ~any_restart)))
            earlier = earlier | load
            with m.If(accept[k]):
                m.d.sync += seen[k].eq(self._port("seq", k))
        restart_pulse = Signal()
        load_pulses = [Signal(name=f"load_pulse{k}") for k in copies]
        m.d.sync += restart_pulse.eq(~busy & any_restart)
        for k in copies:
            m.d.sync += load_pulses[k].eq(accept[k] & ~restarts[k])
        restoring, copying, targets = copy_lane_memories(
            m, self._golden, self._faulties, restart_pulse, load_pulses, self._slot)
        restart, loading = Signal(), Signal()
        # Flip-flops no reset reaches (a core's register file) keep what the last run left:
        # in the cycle after a restart every faulty copy takes the golden copy's state.
        settle = Signal(name="restart_settle")
        if has_state_ports(self._golden):
            after = Signal()
            m.d.sync += after.eq(restart)
            m.d.comb += settle.eq(after & ~restart)
        loads = [Signal(name=f"load{k}") for k in copies]
        for k in copies:
            m.d.comb += loads[k].eq(load_pulses[k] | (copying & targets[k]) | settle)
        # The host's hold (a checkpoint slot's) stands everything still, as a load does, but
        # does not delay a start: a load asked for as the hold ends is at the hold's cycle.
        m.d.comb += [restart.eq(restart_pulse | restoring),
                     loading.eq(self._slot.held(Cat(*loads).any())),
                     busy.eq(restart_pulse | restoring | Cat(*loads).any())]
        self._slot.start(m, accept[0], self._port("injection", 0), load_pulses[0], restart)
        return seen, accept, restart, loads, loading

    def _systems(self, platform, loads, loading):
        """Return the golden and the faulty copies, each faulty one loaded from the golden one."""
        # While a copy loads, every other copy (the golden one too) stands still, and every
        # register of the loading copy takes the golden copy's value.
        systems = Module()
        golden = EnableInserter(~loading)(Fragment.get(self._with_memories(self._golden),
                                                       platform))
        systems.submodules.golden = golden
        fragments = []
        for k, faulty in enumerate(self._faulties):
            fragment = EnableInserter(~loading)(Fragment.get(self._with_memories(faulty),
                                                             platform))
            insert_loads(fragment, golden, loads[k])
            systems.submodules["faulty" if k == 0 else f"faulty{k}"] = fragment
            fragments.append(fragment)
        self._slot.insert_restores(golden, fragments, self._faulties)
        return systems

    def _with_memories(self, copy):
        """Return a module of one copy of the system with the RAM(s) behind its path(s)."""
        system = Module()
        system.submodules.lockstep = copy
        for j in range(self._paths):
            bus = getattr(copy, f"path{j}_bus")
            memory = AXI4LiteMemory(addr_width=bus.signature.addr_width,
                                    data_width=bus.signature.data_width,
                                    depth=self._ram_words, init=self._ram_init,
                                    flops=True)
            system.submodules[f"memory{j}"] = memory
            connect(system, bus, memory.bus)
        return system

    def _latch_program(self, m, k, accept):
        """Latch copy ``k``'s run parameters when it starts, drive its injector; return them."""
        # Logic fed by registers, not by top-level inputs, is not re-evaluated whenever the
        # simulator touches an input.
        program = Signal(self._program, name=f"program{k}")
        with m.If(accept):
            m.d.sync += program.eq(self._port("injection", k))
        q = {name: program[name] for name, _ in self._program}
        injector = self._faulties[k].fault
        for name in ("arm", "site", "mask", "model", "start", "duration", "common"):
            m.d.comb += getattr(injector, name).eq(q[name])
        return q
