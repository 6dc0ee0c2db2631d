"""The watchdog: the diagnose policy's verdict on a lane that offers no self-test.

In lockstep a lane that stops (a hung core, a stopped clock, a stuck handshake) shows as a
divergence as soon as another lane presents a beat it does not; with two lanes online and
no ``self_error``, nothing says which one is wrong. The watchdog says it from progress:
while the bridge diagnoses (``diag_request``), a lane passes as soon as it makes progress
(its ``progress`` attribute: for a CPU lane, a handshake of its core with the lane's RAM or
bus) or is waiting for the bridge (a request or a ready on its bus: it would go on if the
bridge did). A lane that does neither for the diagnosis timeout has stopped while the
others go on: the policy takes it out (cause DIAG_FAIL). Two lanes that both go on (a real
divergence, or one lane early with a request) both pass, and the bridge halts as before.
A lane with ``self_error`` set fails at once.
"""

from amaranth.hdl import Signal

__all__ = ["has_progress", "watchdog_verdict"]


def has_progress(unit):
    """Whether ``unit`` offers a ``progress`` signal (an attribute, not a port)."""
    return isinstance(getattr(unit, "progress", None), Signal)


def watchdog_verdict(m, bridge, index, unit):
    """The watchdog's ``(done, passed)`` for lane ``index`` of ``bridge`` (diagnose policy);
    ``unit`` is the lane (with :func:`has_progress`)."""
    bus = getattr(bridge, f"lane{index}_bus")
    waiting = bus.awvalid | bus.wvalid | bus.arvalid | bus.bready | bus.rready
    went_on = Signal(name=f"lane{index}_went_on")
    with m.If(~bridge.diag_request):
        m.d.sync += went_on.eq(0)
    with m.Elif(unit.progress | waiting):
        m.d.sync += went_on.eq(1)
    fine = Signal(name=f"lane{index}_fine")
    m.d.comb += fine.eq(went_on & ~unit.self_error)
    return fine | unit.self_error, fine
