"""Loading one copy of a design from another: the campaign bench's state copy.

At a load, every register of the faulty copy takes the value of the register in the same
place of the golden copy (both fragment trees built by the same code), in one cycle.
"""

# Private Amaranth 0.5 internals, because no public API serves: loading the faulty copy
# from the golden one adds, to every fragment's sync logic, "on load, each register takes
# its twin's value". That needs the registers a fragment drives (LHSMaskCollector: the
# public API has no way to list them) and a statement added to an already built fragment
# (a Switch on load: Module's If cannot be used outside a Module). Checked against the
# installed Amaranth by tests/test_amaranth_upstream.py. (Issue 12's state port, put on
# every flip-flop by the instrumentation, replaces this.)
from amaranth.hdl._ast import Switch
from amaranth.hdl._xfrm import LHSMaskCollector

__all__ = ["insert_loads"]


def _sync_chunks(fragment, path=()):
    """Map each subfragment path to the (signal, start, stop) chunks its sync logic drives."""
    found = {}
    if "sync" in fragment.statements:
        collector = LHSMaskCollector()
        collector.visit_stmt(fragment.statements["sync"])
        found[path] = list(collector.chunks())
    for subfragment, name, _ in fragment.subfragments:
        found.update(_sync_chunks(subfragment, (*path, name)))
    return found


def insert_loads(faulty, golden, load, path=(), chunks=None):
    """Add to ``faulty``'s sync logic: on ``load``, every register takes the value of the
    register in the same place of ``golden`` (a fragment tree built by the same code).

    Registers with no counterpart (the fault injector's) keep their value.
    """
    if chunks is None:
        chunks = _sync_chunks(golden)
    if "sync" in faulty.statements and path in chunks:
        collector = LHSMaskCollector()
        collector.visit_stmt(faulty.statements["sync"])
        mine, theirs = list(collector.chunks()), chunks[path]
        if [(s.name, a, b, len(s)) for s, a, b in mine] != \
                [(s.name, a, b, len(s)) for s, a, b in theirs]:
            raise ValueError(f"The copies differ in their registers at {'.'.join(path)}")
        loads = [(s if a == 0 and b is None else s[a:b]).eq(
                 t if a == 0 and b is None else t[a:b])
                 for (s, a, b), (t, _, _) in zip(mine, theirs, strict=True)]
        faulty.add_statements("sync", Switch(load, [(1, loads, None)]))
    for subfragment, name, _ in faulty.subfragments:
        insert_loads(subfragment, golden, load, (*path, name), chunks)
